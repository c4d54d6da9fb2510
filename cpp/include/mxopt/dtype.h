// Element types of the arrays mxopt fills and updates: float16 / float32 / float64.
//
// `Half` is IEEE binary16 storage (the 16 bits only). Conversions round to nearest even, like
// numpy's astype(float16) and F16C's vcvtps2ph; they are plain integer code, so loops that use
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

// float -> binary16, round to nearest even; overflow -> inf; NaN stays NaN. Branch-free, so
// loops calling it vectorise.
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
  std::uint32_t sub;
  std::memcpy(&sub, &a, 4);
  sub -= 0x3f000000u;
  std::uint32_t r = x < 0x38800000u ? sub : normal;
  r = x >= 0x477ff000u ? 0x7c00u : r;  // >= 65520 (and inf) -> inf
  r = x > 0x7f800000u ? 0x7e00u : r;   // NaN
  return static_cast<std::uint16_t>(r | sign);
}

inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
  if (e == 0x1f) {
    x = 0x7f800000u | (m << 13);
  } else if (e != 0) {
    x = ((e + 112u) << 23) | (m << 13);
  } else {  // zero / subnormal: m * 2^-24, exact in float
    float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    std::memcpy(&x, &v, 4);
  }
  x |= sign;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

inline Half to_half(float f) { return Half{float_to_half_bits(f)}; }
inline float to_float(Half h) { return half_bits_to_float(h.bits); }

}  // namespace mxopt
