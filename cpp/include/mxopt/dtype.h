// Element types of the arrays mxopt fills and updates: float16 / float32 / float64.
//
// `Half` is IEEE binary16 storage (the 16 bits only). Conversions round to nearest even, like
// numpy's astype(float16) and F16C's vcvtps2ph; they have no control flow, so loops that use
// them vectorise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mxopt {

enum class DType : int { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2 };  // MXNet's type flags

struct Half {
  std::uint16_t bits;
};

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat16: return "float16";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
  }
  return "unknown";
}

inline std::size_t dtype_size(DType t) {
  return t == DType::kFloat16 ? 2 : t == DType::kFloat32 ? 4 : 8;
}

template <class T> struct DTypeOf;
template <> struct DTypeOf<Half> { static constexpr DType value = DType::kFloat16; };
template <> struct DTypeOf<float> { static constexpr DType value = DType::kFloat32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kFloat64; };

// All-ones if c, else 0: the conversions below select with masks, not `?:`, so that they have
// no control flow for the compiler to keep (a loop-invariant conversion written with `?:`
// stayed as branches and stopped the surrounding loop from vectorising).
inline std::uint32_t select_mask(bool c) { return 0u - static_cast<std::uint32_t>(c); }
inline std::uint32_t select(std::uint32_t mask, std::uint32_t a, std::uint32_t b) {
  return (a & mask) | (b & ~mask);
}

// float -> binary16, round to nearest even; overflow -> inf; NaN stays NaN (0x7e00, sign
// kept). No control flow, so loops calling it vectorise.
inline std::uint16_t float_to_half_bits(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  // Normal halves: rebias the exponent ((15 - 127) << 23) and round half to even.
  const std::uint32_t normal = (x + 0xc8000fffu + ((x >> 13) & 1u)) >> 13;
  // Subnormal halves and zero: adding 0.5f puts the half-subnormal ulp (2^-24) at bit 0 and
  // lets the FPU round.
  float a;
  std::memcpy(&a, &x, 4);
  a += 0.5f;
  std::uint32_t r;
  std::memcpy(&r, &a, 4);
  r -= 0x3f000000u;
  r = select(select_mask(x < 0x38800000u), r, normal);
  r = select(select_mask(x >= 0x477ff000u), 0x7c00u, r);  // >= 65520 (and inf) -> inf
  r = select(select_mask(x > 0x7f800000u), 0x7e00u, r);   // NaN
  return static_cast<std::uint16_t>(r | sign);
}

// binary16 -> float, exact; NaN quietened (as F16C's vcvtph2ps). Integer code only.
inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t em = h & 0x7fffu;  // exponent and mantissa
  // Normal: rebias the exponent by 127 - 15 = 112; inf / NaN (exponent 31): to 255.
  std::uint32_t x = (em << 13) + (112u << 23);
  x += select_mask(em >= 0x7c00u) & (112u << 23);
  x |= select_mask(em > 0x7c00u) & 0x400000u;  // NaN: quiet
  // Zero / subnormal: m * 2^-24. Shift m's leading bit to bit 15; the value is then
  // 1.f * 2^(-9 - shift).
  std::uint32_t t = em, shift = 0;
  const auto normalise = [&](std::uint32_t limit, std::uint32_t k) {
    const std::uint32_t c = select_mask(t <= limit);
    t = select(c, t << k, t);
    shift += c & k;
  };
  normalise(0xffu, 8);
  normalise(0xfffu, 4);
  normalise(0x3fffu, 2);
  normalise(0x7fffu, 1);
  const std::uint32_t sub =
      ~select_mask(em == 0) & (((118u - shift) << 23) | ((t & 0x7fffu) << 8));
  x = select(select_mask(em < 0x400u), sub, x);
  x |= sign;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

inline Half to_half(float f) { return Half{float_to_half_bits(f)}; }
inline float to_float(Half h) { return half_bits_to_float(h.bits); }

}  // namespace mxopt
