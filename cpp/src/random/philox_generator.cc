// Counter-based generator: Philox-4x32-10. Block b is Philox(ctr = {lo(b), hi(b), 0, 0},
// key = {lo(seed), hi(seed)}). A call starts at block `offset` and uses tiles of 16 blocks; in
// tile k the value v comes from block offset + 16 k + v % 16 and slot v / 16 (see "tiles" in
// philox_kernels.inc; float32 uniforms have 5 slots per tile, the others 4 or 2). So every value is a function of (seed, offset, index) only: never of the thread count,
// the instruction set used (AVX-512, AVX2 or portable code, picked at run time), or where
// the call is split.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <stdexcept>
#include <type_traits>

#include "mxopt/random.h"
#include "simd.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define MXOPT_X86_DISPATCH 1
#include <immintrin.h>
#else
#define MXOPT_X86_DISPATCH 0
#endif
#define MXOPT_ALWAYS_INLINE inline __attribute__((always_inline))

namespace mxopt::random {

namespace {

constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

struct Params {
  std::uint64_t base;  // first block of the call
  std::uint32_t k0, k1;
};

#if MXOPT_X86_DISPATCH
#pragma GCC push_options
#pragma GCC diagnostic push
// GCC 12 false positive on the _mm512_undefined_* operands inside its own intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("arch=x86-64-v4")
namespace isa_avx512 {
#define MXOPT_PHILOX_ISA 2
#include "philox_kernels.inc"
#undef MXOPT_PHILOX_ISA
}  // namespace isa_avx512
#pragma GCC diagnostic pop
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
namespace isa_avx2 {
#define MXOPT_PHILOX_ISA 1
#include "philox_kernels.inc"
#undef MXOPT_PHILOX_ISA
}  // namespace isa_avx2
#pragma GCC pop_options
#endif

namespace isa_generic {
#define MXOPT_PHILOX_ISA 0
#include "philox_kernels.inc"
#undef MXOPT_PHILOX_ISA
}  // namespace isa_generic

struct Kernels {
  decltype(&isa_generic::uniform_f32) uniform_f32;
  decltype(&isa_generic::uniform_f16) uniform_f16;
  decltype(&isa_generic::uniform_f64) uniform_f64;
  decltype(&isa_generic::normal_f32) normal_f32;
  decltype(&isa_generic::normal_f16) normal_f16;
  decltype(&isa_generic::normal_f64) normal_f64;
};

// The widest instruction set the CPU has, capped by the environment variable MXOPT_SIMD
// ("generic", "avx2"; read once) so that tests can compare the code paths.
int simd_level() {
  static const int level = [] {
    int l = 0;
#if MXOPT_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) l = 2;
    else if (__builtin_cpu_supports("x86-64-v3")) l = 1;
#endif
    if (const char* cap = std::getenv("MXOPT_SIMD")) {
      const std::string c(cap);
      if (c == "generic") l = 0;
      if (c == "avx2" && l > 1) l = 1;
    }
    return l;
  }();
  return level;
}

const Kernels& kernels() {
  static const Kernels k = [] {
#if MXOPT_X86_DISPATCH
    if (simd_level() == 2)
      return Kernels{isa_avx512::uniform_f32, isa_avx512::uniform_f16, isa_avx512::uniform_f64,
                     isa_avx512::normal_f32,  isa_avx512::normal_f16,  isa_avx512::normal_f64};
    if (simd_level() == 1)
      return Kernels{isa_avx2::uniform_f32, isa_avx2::uniform_f16, isa_avx2::uniform_f64,
                     isa_avx2::normal_f32,  isa_avx2::normal_f16,  isa_avx2::normal_f64};
#endif
    return Kernels{isa_generic::uniform_f32, isa_generic::uniform_f16, isa_generic::uniform_f64,
                   isa_generic::normal_f32,  isa_generic::normal_f16,  isa_generic::normal_f64};
  }();
  return k;
}

// Runs kernel(t0, t1, dst) over all tiles of an n-value call in parallel; the last, partial
// tile goes through a scratch buffer so nothing past out[n) is written.
template <class T, std::size_t kPerTile, class Kernel>
void run_tiles(std::size_t n, T* out, Kernel kernel) {
  const std::size_t full = n / kPerTile;
  constexpr std::size_t kChunk = 256;  // tiles per task
  const long chunks = static_cast<long>((full + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (static_cast<long>(n) >= detail::kParallelMinElements)
  for (long c = 0; c < chunks; ++c) {
    const std::size_t t0 = static_cast<std::size_t>(c) * kChunk;
    kernel(t0, std::min(full, t0 + kChunk), out + t0 * kPerTile);
  }
  const std::size_t rest = n - full * kPerTile;
  if (rest > 0) {
    T tmp[kPerTile];
    kernel(full, full + 1, tmp);
    std::copy(tmp, tmp + rest, out + full * kPerTile);
  }
}

// Blocks consumed by a call of n values with `per_tile` values per 16-block tile.
inline std::uint64_t blocks_for(std::size_t n, std::size_t per_tile) {
  return (n + per_tile - 1) / per_tile * isa_generic::kLanes;
}

}  // namespace

void PhiloxGenerator::block(const std::uint32_t ctr[4], const std::uint32_t key[2],
                            std::uint32_t out[4]) {
  const isa_generic::Words w = isa_generic::philox4(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1]);
  std::copy(w.w, w.w + 4, out);
}

std::string PhiloxGenerator::simd() {
  static const char* names[] = {"generic", "avx2", "avx512"};
  return names[simd_level()];
}

PhiloxGenerator::PhiloxGenerator(std::uint64_t seed) { this->seed(seed); }

void PhiloxGenerator::seed(std::uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  key_ = seed;
  offset_ = 0;
}

void PhiloxGenerator::uniform(double low, double high, Buffer out) {
  check_uniform(low, high);
  std::lock_guard<std::mutex> lock(mu_);
  const Params P{offset_, static_cast<std::uint32_t>(key_), static_cast<std::uint32_t>(key_ >> 32)};
  switch (out.dtype) {
    case DType::kFloat32:
    case DType::kFloat16: {
      const float lo = static_cast<float>(low), hi = static_cast<float>(high);
      const float range = hi - lo;
      const float hmax = hi > lo ? std::nextafter(hi, lo) : lo;
      constexpr std::size_t kPerTile = isa_generic::kUniformF32PerTile;
      if (out.dtype == DType::kFloat32) {
        run_tiles<float, kPerTile>(out.size, static_cast<float*>(out.data),
                                   [&](std::size_t t0, std::size_t t1, float* dst) {
                                     kernels().uniform_f32(P, t0, t1, lo, range, hmax, dst);
                                   });
      } else {
        run_tiles<Half, kPerTile>(out.size, static_cast<Half*>(out.data),
                                  [&](std::size_t t0, std::size_t t1, Half* dst) {
                                    kernels().uniform_f16(P, t0, t1, lo, range, hmax, dst);
                                  });
      }
      offset_ += blocks_for(out.size, kPerTile);
      break;
    }
    case DType::kFloat64: {
      const double range = high - low;
      const double hmax = high > low ? std::nextafter(high, low) : low;
      run_tiles<double, 32>(out.size, static_cast<double*>(out.data),
                            [&](std::size_t t0, std::size_t t1, double* dst) {
                              kernels().uniform_f64(P, t0, t1, low, range, hmax, dst);
                            });
      offset_ += blocks_for(out.size, 32);
      break;
    }
  }
}

void PhiloxGenerator::normal(double loc, double scale, Buffer out) {
  check_normal(scale);
  std::lock_guard<std::mutex> lock(mu_);
  const Params P{offset_, static_cast<std::uint32_t>(key_), static_cast<std::uint32_t>(key_ >> 32)};
  switch (out.dtype) {
    case DType::kFloat32: {
      const float m = static_cast<float>(loc), s = static_cast<float>(scale);
      run_tiles<float, 64>(out.size, static_cast<float*>(out.data),
                           [&](std::size_t t0, std::size_t t1, float* dst) {
                             kernels().normal_f32(P, t0, t1, m, s, dst);
                           });
      offset_ += blocks_for(out.size, 64);
      break;
    }
    case DType::kFloat16: {
      const float m = static_cast<float>(loc), s = static_cast<float>(scale);
      run_tiles<Half, 64>(out.size, static_cast<Half*>(out.data),
                          [&](std::size_t t0, std::size_t t1, Half* dst) {
                            kernels().normal_f16(P, t0, t1, m, s, dst);
                          });
      offset_ += blocks_for(out.size, 64);
      break;
    }
    case DType::kFloat64: {
      run_tiles<double, 32>(out.size, static_cast<double*>(out.data),
                            [&](std::size_t t0, std::size_t t1, double* dst) {
                              kernels().normal_f64(P, t0, t1, loc, scale, dst);
                            });
      offset_ += blocks_for(out.size, 32);
      break;
    }
  }
}

}  // namespace mxopt::random
