// Private helpers of the optimizer kernels: compute types, MXNet's element-wise primitives and
// the loop drivers (dense, multi-precision, row-sparse) with OpenMP above a size threshold.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "mxopt/dtype.h"
#include "mxopt/optimizers/common.h"
#include "mxopt/optimizers/isa.h"

#if defined(MXOPT_HAVE_OPENMP)
#include <omp.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace mxopt::kernels::detail {

// float16 arithmetic as MXNet's mshadow::half_t does it: every operation in float32, its result
// rounded to float16 (round to nearest even). The conversions (mxopt/dtype.h) have no control
// flow, so the element loops vectorise at every ISA level. Eigen::half, which converts with
// branches unless the whole build targets F16C, kept them scalar: a 1e6-element float16
// SGD-momentum step took 24 ms, now 6.4 ms (AVX-512) / 17 ms (baseline); MXNet takes 114 ms.
struct half {
  std::uint16_t x;
  half() = default;
  explicit half(float f) : x(float_to_half_bits(f)) {}
  explicit half(double d) : half(static_cast<float>(d)) {}
  explicit half(int i) : half(static_cast<float>(i)) {}
  explicit operator float() const { return half_bits_to_float(x); }
  explicit operator double() const { return half_bits_to_float(x); }

  friend half operator+(half a, half b) { return half(float(a) + float(b)); }
  friend half operator-(half a, half b) { return half(float(a) - float(b)); }
  friend half operator*(half a, half b) { return half(float(a) * float(b)); }
  friend half operator/(half a, half b) { return half(float(a) / float(b)); }
  friend half operator-(half a) {
    half r;
    r.x = static_cast<std::uint16_t>(a.x ^ 0x8000u);
    return r;
  }
  half& operator+=(half b) { return *this = *this + b; }
  half& operator-=(half b) { return *this = *this - b; }
  half& operator*=(half b) { return *this = *this * b; }
  half& operator/=(half b) { return *this = *this / b; }
  friend bool operator<(half a, half b) { return float(a) < float(b); }
  friend bool operator>(half a, half b) { return float(a) > float(b); }
  friend bool operator<=(half a, half b) { return float(a) <= float(b); }
  friend bool operator>=(half a, half b) { return float(a) >= float(b); }
  friend bool operator==(half a, half b) { return float(a) == float(b); }
  friend bool operator!=(half a, half b) { return float(a) != float(b); }
};

// The arithmetic type of a storage type: float16 computes as `half` (every operation rounded
// to half precision, like MXNet's mshadow::half_t).
template <class T>
struct compute {
  using type = T;
};
template <>
struct compute<float16> {
  using type = half;
};
template <class T>
using compute_t = typename compute<T>::type;

// ... and back: the storage type of a compute type.
template <class C>
using storage_t = std::conditional_t<std::is_same_v<C, half>, float16, C>;

template <class T>
inline compute_t<T>* cp(T* p) {
  return reinterpret_cast<compute_t<T>*>(p);
}
template <class T>
inline const compute_t<T>* cp(const T* p) {
  return reinterpret_cast<const compute_t<T>*>(p);
}
template <class C>
inline const storage_t<C>* sp(const C* p) {
  return reinterpret_cast<const storage_t<C>*>(p);
}
static_assert(sizeof(half) == sizeof(float16), "half layout");

// The type comparisons with float bounds happen in (MXNet compares half_t as float).
template <class C>
using promote_t = std::conditional_t<std::is_same_v<C, half>, float, C>;

// ---- element-wise primitives with MXNet's semantics ------------------------------------------
template <class C>
inline C sqrt_(C x) {
  if constexpr (std::is_same_v<C, half>)
    return half(std::sqrt(static_cast<float>(x)));
  else
    return std::sqrt(x);
}
template <class C>
inline C abs_(C x) {
  if constexpr (std::is_same_v<C, half>)
    return half(std::fabs(static_cast<float>(x)));
  else
    return std::fabs(x);
}
template <class C>
inline C pow_(C x, C y) {
  if constexpr (std::is_same_v<C, half>)
    return half(std::pow(static_cast<float>(x), static_cast<float>(y)));
  else
    return std::pow(x, y);
}
template <class C>
inline bool isnan_(C x) {
  return x != x;
}
// sign(x): 1, -1, or 0 (also for NaN).
template <class C>
inline C sign_(C x) {
  return x > C(0) ? C(1) : (x < C(0) ? C(-1) : C(0));
}
// nd.maximum: NaN in either operand propagates.
template <class C>
inline C maximum_(C a, C b) {
  if (isnan_(a)) return a;
  if (isnan_(b)) return b;
  return a > b ? a : b;
}
// K-clip (fused kernels): bound already converted to the compute type.
template <class C>
inline C kclip(C x, C c) {
  return x > c ? c : (x < -c ? -c : x);
}
// P-clip (nd.clip with float32 bounds lo, hi): compared in the promoted type.
template <class C>
inline C pclip(C x, float lo, float hi) {
  using P = promote_t<C>;
  const P xp = static_cast<P>(x);
  if (xp > static_cast<P>(hi)) return C(hi);
  if (xp < static_cast<P>(lo)) return C(lo);
  return x;
}
// A Python double scalar applied to an array of dtype C (MXNet casts it to the dtype).
template <class C>
inline C scalar(double s) {
  if constexpr (std::is_same_v<C, half>)
    return half(static_cast<float>(s));
  else
    return static_cast<C>(s);
}

// ---- loops ------------------------------------------------------------------------------------
// Element counts below this run on one thread (thread start-up would dominate). With the pool
// hot, a second thread pays from here on even for SGD: 40000-element SGD-momentum steps take
// 7.3 us on one thread and 5.6 us on two (1e5: 16.2 and 11.8 us).
inline constexpr std::size_t kParallelThreshold = 32768;

inline bool use_threads(std::size_t work, std::size_t threshold = kParallelThreshold) {
#if defined(MXOPT_HAVE_OPENMP)
  return work >= threshold && omp_get_max_threads() > 1;
#else
  (void)work;
  (void)threshold;
  return false;
#endif
}

// ---- runtime ISA dispatch ---------------------------------------------------------------------
// The element loops are compiled three times (baseline, AVX2, AVX-512) with GCC/Clang target
// attributes; the level is chosen once at run time (cpuid, see isa.cc; MXOPT_ISA forces it).
// -ffp-contract=off still holds inside the clones, so no FMA is formed and every level gives
// bit-identical results (the same IEEE operations in the same order, only wider registers).
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define MXOPT_ISA_DISPATCH 1
// flatten: the element functor is inlined into each clone (and so vectorized for its ISA).
#define MXOPT_LOOP __attribute__((noinline, flatten))
#define MXOPT_TARGET_AVX2 __attribute__((target("avx2"), noinline, flatten))
#if defined(__clang__)
#define MXOPT_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq"), noinline, flatten))
#else  // GCC: 512-bit vectors (its generic tuning prefers 256)
#define MXOPT_TARGET_AVX512                                                                 \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512"), \
                 noinline, flatten))
#endif
#else
#define MXOPT_ISA_DISPATCH 0
#define MXOPT_LOOP
#endif
#if defined(__GNUC__) && !defined(__clang__)
#define MXOPT_NO_VECTORIZE __attribute__((optimize("no-tree-vectorize")))
#else
#define MXOPT_NO_VECTORIZE
#endif

// f(i) for i in [lo, hi) on the calling thread.
// Each call runs a private copy of `f`, so that (with by-value captures) the compiler sees no
// aliasing between the functor's parameters and the arrays it writes, and vectorizes.
template <class F>
MXOPT_LOOP void loop_baseline(std::int64_t lo, std::int64_t hi, const F& f) {
  const F local(f);
  for (std::int64_t i = lo; i < hi; ++i) local(static_cast<std::size_t>(i));
}
// The same without vectorization (float16 compute at the baseline level, see kEveryIsa).
template <class F>
MXOPT_LOOP MXOPT_NO_VECTORIZE void loop_scalar(std::int64_t lo, std::int64_t hi, const F& f) {
  const F local(f);
  for (std::int64_t i = lo; i < hi; ++i) local(static_cast<std::size_t>(i));
}
#if MXOPT_ISA_DISPATCH
template <class F>
MXOPT_TARGET_AVX2 void loop_avx2(std::int64_t lo, std::int64_t hi, const F& f) {
  const F local(f);
  for (std::int64_t i = lo; i < hi; ++i) local(static_cast<std::size_t>(i));
}
template <class F>
MXOPT_TARGET_AVX512 void loop_avx512(std::int64_t lo, std::int64_t hi, const F& f) {
  const F local(f);
  for (std::int64_t i = lo; i < hi; ++i) local(static_cast<std::size_t>(i));
}
#endif

// kEveryIsa = false (float16 compute, see kEveryIsa below): the AVX-512 level runs the AVX2 clone.
template <bool kEveryIsa = true, class F>
inline void run_range(std::int64_t lo, std::int64_t hi, const F& f) {
#if MXOPT_ISA_DISPATCH
  switch (isa_level()) {
    case IsaLevel::kAVX512:
      if constexpr (kEveryIsa) {
        loop_avx512(lo, hi, f);
        return;
      }
      [[fallthrough]];
    case IsaLevel::kAVX2:
      loop_avx2(lo, hi, f);
      return;
    default:
      break;
  }
#endif
  if constexpr (kEveryIsa)
    loop_baseline(lo, hi, f);
  else
    loop_scalar(lo, hi, f);
}

// fn(lo, hi) over [0, n): one contiguous block per thread above the threshold (blocks aligned
// to 16 elements, 64 bytes of float32), else one call.
template <class F>
inline void parallel_ranges(std::size_t n, const F& f) {
  const std::int64_t nn = static_cast<std::int64_t>(n);
#if defined(MXOPT_HAVE_OPENMP)
  if (use_threads(n)) {
#pragma omp parallel
    {
      const std::int64_t nt = omp_get_num_threads();
      const std::int64_t t = omp_get_thread_num();
      const std::int64_t block = ((nn + nt - 1) / nt + 15) / 16 * 16;
      const std::int64_t lo = std::min(nn, t * block);
      const std::int64_t hi = std::min(nn, lo + block);
      if (lo < hi) f(lo, hi);
    }
    return;
  }
#endif
  f(std::int64_t{0}, nn);
}

// f(i) for i in [0, n), over the blocks of parallel_ranges.
template <bool kEveryIsa = true, class F>
inline void parallel_for(std::size_t n, const F& f) {
  parallel_ranges(n, [&f](std::int64_t lo, std::int64_t hi) { run_range<kEveryIsa>(lo, hi, f); });
}

// Whether the loops of compute type C get a clone for every ISA level. float16 compute (`half`:
// each operation followed by an integer rounding sequence) makes element loops ten times the
// code of float32 ones, and the AVX-512 clones of them doubled the library's compile time for
// a twice-as-wide loop on a dtype MXNet users train with multi_precision; they stop at AVX2.
template <class C>
inline constexpr bool kEveryIsa = !std::is_same_v<C, half>;

// f(r) for each of n rows of `row_length` elements (threads split rows).
template <class F>
inline void parallel_rows(std::size_t n, std::size_t row_length, F&& f) {
#if defined(MXOPT_HAVE_OPENMP)
  if (n > 1 && use_threads(n * row_length)) {
    const std::int64_t nn = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < nn; ++r) f(static_cast<std::size_t>(r));
    return;
  }
#endif
  for (std::size_t r = 0; r < n; ++r) f(r);
}


// ---- float16 <-> float32 blocks ----------------------------------------------------------------
// Exact (half -> float) and round-to-nearest-even (float -> half), the same values as
// `half`'s conversions; with F16C (every AVX2 CPU) eight at a time in hardware.
#if MXOPT_ISA_DISPATCH
__attribute__((target("avx2,f16c"), noinline)) inline void half_to_float_f16c(
    const half* src, float* dst, std::int64_t n) {
  const auto* s = reinterpret_cast<const std::uint16_t*>(src);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                  reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(s[i]);
}
__attribute__((target("avx2,f16c"), noinline)) inline void float_to_half_f16c(
    const float* src, half* dst, std::int64_t n) {
  auto* d = reinterpret_cast<std::uint16_t*>(dst);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) d[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}
#endif

inline void half_to_float(const half* src, float* dst, std::int64_t n) {
#if MXOPT_ISA_DISPATCH
  if (isa_level() != IsaLevel::kBaseline) return half_to_float_f16c(src, dst, n);
#endif
  for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

inline void float_to_half(const float* src, half* dst, std::int64_t n) {
#if MXOPT_ISA_DISPATCH
  if (isa_level() != IsaLevel::kBaseline) return float_to_half_f16c(src, dst, n);
#endif
  for (std::int64_t i = 0; i < n; ++i) dst[i] = half(src[i]);
}

// op(w, g, s...) on register copies of the weight and states, stored back at the end (const
// states, inputs such as SGLD's noise, are only read). Ops
// assign a state and then read it (m = ...; w -= lr * m / ...); on the arrays themselves the
// compiler must reload it after the store (the arrays may alias), and a reload of a 64-byte
// vector stored across a cache-line boundary (numpy buffers are 16-byte aligned) misses store
// forwarding: an Adam step on 1e5 elements took 30 or 90 us depending on the buffers' offsets.
template <class Op, class C, class G, class... S>
inline void apply_in_registers(const Op& op, C& w, G& g, S&... s) {
  [&](S... sv) {
    C wv = w;
    op(wv, g, sv...);
    w = wv;
    auto put = [](auto& dst, const auto& v) {
      if constexpr (!std::is_const_v<std::remove_reference_t<decltype(dst)>>) dst = v;
    };
    (put(s, sv), ...);
    (void)put;  // no states
  }(s...);
}

// Dense update: op(w[i], g[i], s[i]...) for every element (g may be mutable: kernels that
// rewrite the gradient in place, as some MXNet kernels do).
template <class Op, class C, class G, class... S>
inline void run_dense(const Op& op, C* w, G* g, std::size_t n, S*... s) {
  parallel_for<kEveryIsa<C>>(n,
                             [&](std::size_t i) { apply_in_registers(op, w[i], g[i], s[i]...); });
}

// Multi-precision update: the float32 op on the master copy, the half weight set to its
// rounding (MXNet's mp_* kernels and the base multi-precision wrapper give the same numbers).
// Runs in blocks: gradient block -> float32, the float32 op (vectorized like the float32
// kernels), master block -> float16.
template <class Op, class... S>
inline void run_dense_mp(const Op& op, half* w, const half* g, float* w32, std::size_t n,
                         S*... s) {
  parallel_ranges(n, [&](std::int64_t lo, std::int64_t hi) {
    constexpr std::int64_t kBlock = 2048;
    alignas(64) float gbuf[kBlock];
    for (std::int64_t b = lo; b < hi; b += kBlock) {
      const std::int64_t len = std::min(kBlock, hi - b);
      half_to_float(g + b, gbuf, len);
      float* wb = w32 + b;
      const float* gb = gbuf;
      run_range(0, len, [op, wb, gb, b, s...](std::size_t i) {
        apply_in_registers(op, wb[i], gb[i], s[b + static_cast<std::int64_t>(i)]...);
      });
      float_to_half(wb, w + b, len);
    }
  });
}

// Lazy row-sparse update: only rows present in the gradient; op(w, g, s...) per element.
// The rows are scattered over arrays far larger than the caches, so the loop is bound by memory
// latency: the weight and state rows of row r + kRowsAhead are prefetched while row r is updated
// (the gradient rows are contiguous and the hardware prefetcher follows them).
inline constexpr std::size_t kRowsAhead = 6;
inline constexpr std::size_t kPrefetchBytes = 1024;  // per row and array

template <class... P>
inline void prefetch_row(std::size_t offset, std::size_t bytes, P*... arrays) {
#if defined(__GNUC__) || defined(__clang__)
  for (std::size_t b = 0; b < bytes; b += 64)
    (__builtin_prefetch(reinterpret_cast<const char*>(arrays + offset) + b, 1), ...);
#else
  (void)offset, (void)bytes, ((void)arrays, ...);
#endif
}

// Rows narrower than this are updated through contiguous copies (run_rows_gathered).
inline constexpr std::size_t kNarrowRow = 16;
inline constexpr std::size_t kGatherElements = 1024;  // per block and array

// f(std::integral_constant<std::size_t, len>) for 1 <= len < kNarrowRow.
template <std::size_t L = 1, class F>
inline void with_row_length(std::size_t len, const F& f) {
  if constexpr (L < kNarrowRow) {
    if (len == L) return f(std::integral_constant<std::size_t, L>{});
    with_row_length<L + 1>(len, f);
  }
}

// Rows idx[r0..r1) of src (rows of L elements) into contiguous dst, prefetching the rows
// kRowsAhead ahead (below row k) in src and in `also` (the arrays gathered next).
template <std::size_t L, class T, class... P>
inline void gather_rows(const T* __restrict src, T* __restrict dst,
                        const std::int64_t* __restrict idx, std::size_t r0, std::size_t r1,
                        std::size_t k, P*... also) {
  for (std::size_t r = r0; r < r1; ++r) {
    if (r + kRowsAhead < k)
      prefetch_row(static_cast<std::size_t>(idx[r + kRowsAhead]) * L, L * sizeof(T), src, also...);
    std::memcpy(dst + (r - r0) * L, src + static_cast<std::size_t>(idx[r]) * L, L * sizeof(T));
  }
}
// And back (nothing for a read-only array).
template <std::size_t L, class T, class D>
inline void scatter_rows(const T* __restrict src, D* __restrict dst,
                         const std::int64_t* __restrict idx, std::size_t r0, std::size_t r1) {
  if constexpr (!std::is_const_v<D>)
    for (std::size_t r = r0; r < r1; ++r)
      std::memcpy(dst + static_cast<std::size_t>(idx[r]) * L, src + (r - r0) * L, L * sizeof(T));
}

// Narrow rows (a sparse linear model's (features, classes) weight has rows of 2 to 10 elements)
// give the element loop nothing to vectorize, and an Adam row then costs the latency of its
// square root and division. Blocks of rows are copied into contiguous buffers (row copies of a
// compile-time length), updated there by the dense loop (vectorized for the CPU's ISA; the same
// IEEE operations per element, so the same bits), and copied back. Blocks are split over
// threads.
template <class Op, class C, class... S>
inline void run_rows_gathered(const Op& op, C* w, const C* gdata, const std::int64_t* idx,
                              std::size_t k, std::size_t len, S*... s) {
  const std::size_t block_rows = kGatherElements / len;
  const std::size_t blocks = (k + block_rows - 1) / block_rows;
  parallel_rows(blocks, block_rows * len, [&](std::size_t b) {
    const std::size_t r0 = b * block_rows, r1 = std::min(k, r0 + block_rows);
    // block buffers, uninitialised: the weight's, then each state's, 64 bytes apart beyond
    // their size (buffers 4 KiB apart would make a load of one wait for stores to another)
    alignas(64) unsigned char
        raw[kGatherElements * (sizeof(C) + (0 + ... + sizeof(S))) + 64 * sizeof...(S)];
    std::size_t offset = kGatherElements * sizeof(C);
    auto carve = [&](auto* state) {
      offset += 64;
      auto* p = reinterpret_cast<std::remove_const_t<std::remove_pointer_t<decltype(state)>>*>(
          raw + offset);
      offset += kGatherElements * sizeof(*state);
      return p;
    };
    C* wb = reinterpret_cast<C*>(raw);
    (void)carve;  // (no states)
    [&](auto*... sb) {
      with_row_length(len, [&](auto L) {  // rows in: copies of a compile-time length
        gather_rows<decltype(L)::value>(w, wb, idx, r0, r1, k, s...);
        (gather_rows<decltype(L)::value>(s, sb, idx, r0, r1, 0), ...);  // (prefetched)
      });
      const C* gp = gdata + r0 * len;
      run_range<kEveryIsa<C>>(0, static_cast<std::int64_t>((r1 - r0) * len), [=](std::size_t i) {
        apply_in_registers(op, wb[i], gp[i], sb[i]...);
      });
      with_row_length(len, [&](auto L) {
        scatter_rows<decltype(L)::value>(wb, w, idx, r0, r1);
        (scatter_rows<decltype(L)::value>(sb, s, idx, r0, r1), ...);
      });
    }(carve(s)...);
  });
}

template <class Op, class C, class... S>
inline void run_rows(const Op& op, C* w, const C* gdata, const std::int64_t* idx,
                     std::size_t k, std::size_t len, S*... s) {
  if (len < kNarrowRow && k * len >= kGatherElements) {
    run_rows_gathered(op, w, gdata, idx, k, len, s...);
    return;
  }
  const std::size_t ahead_bytes = std::min(kPrefetchBytes, len * sizeof(C));
  parallel_rows(k, len, [&](std::size_t r) {
    if (r + kRowsAhead < k)
      prefetch_row(static_cast<std::size_t>(idx[r + kRowsAhead]) * len, ahead_bytes, w, s...);
    const std::size_t wo = static_cast<std::size_t>(idx[r]) * len;
    const std::size_t go = r * len;
    for (std::size_t j = 0; j < len; ++j)
      apply_in_registers(op, w[wo + j], gdata[go + j], s[wo + j]...);
  });
}

// For standard (non-lazy) row-sparse updates: row_of[i] = position of weight row i in the
// gradient, or -1.
inline std::vector<std::int64_t> gradient_row_map(const std::int64_t* idx, std::size_t k,
                                                  std::size_t rows) {
  std::vector<std::int64_t> m(rows, -1);
  for (std::size_t r = 0; r < k; ++r) m[static_cast<std::size_t>(idx[r])] = static_cast<std::int64_t>(r);
  return m;
}

// Calls f(std::integral_constant<bool, b>{}) so that kernels can branch at compile time.
template <class F>
inline void dispatch(bool b, F&& f) {
  if (b)
    f(std::true_type{});
  else
    f(std::false_type{});
}

}  // namespace mxopt::kernels::detail

// Explicit instantiation for the three element types.
#define MXOPT_INSTANTIATE_FLOATS(MACRO) \
  MACRO(float)                          \
  MACRO(double)                         \
  MACRO(::mxopt::float16)
