// Shared kernels: float16 conversions, row-index validation and MXNet's L2 reductions
// (sum_sq with its block-exact float32 form and its many-array form, nrm2, dot_norm).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel_util.h"
#include "mxopt/optimizers/multi.h"

namespace mxopt {
namespace kernels {
using namespace detail;

void check_row_indices(const std::int64_t* indices, std::size_t k, std::size_t rows) {
  for (std::size_t r = 0; r < k; ++r) {
    const std::int64_t v = indices[r];
    if (v < 0 || static_cast<std::uint64_t>(v) >= rows)
      throw std::invalid_argument("row_sparse gradient: row index " + std::to_string(v) +
                                  " (position " + std::to_string(r) +
                                  ") is out of range for a weight with " +
                                  std::to_string(rows) + " rows");
    if (r > 0 && v <= indices[r - 1])
      throw std::invalid_argument(
          "row_sparse gradient: row indices must be strictly increasing (sorted, no "
          "duplicates); got " + std::to_string(indices[r - 1]) + " then " + std::to_string(v) +
          " at position " + std::to_string(r));
  }
}

void cast(const float* src, float16* dst, std::size_t n) {
  half* d = cp(dst);
  parallel_ranges(n, [&](std::int64_t lo, std::int64_t hi) { float_to_half(src + lo, d + lo, hi - lo); });
}

void cast(const float16* src, float* dst, std::size_t n) {
  const half* s = cp(src);
  parallel_ranges(n, [&](std::int64_t lo, std::int64_t hi) { half_to_float(s + lo, dst + lo, hi - lo); });
}

namespace {
// sum_sq's float32 recurrence, acc <- fl(acc + fl(x[i]^2)), continued over x[0, n).
float sum_sq_serial(const float* x, std::size_t n, float acc) {
  for (std::size_t i = 0; i < n; ++i) {
    const float sq = x[i] * x[i];
    acc = acc + sq;
  }
  return acc;
}

constexpr std::size_t kSumSqBlock = 1024;  // 128 increments of <= 2^23 per int32 lane: no overflow

#if MXOPT_ISA_DISPATCH
// The same recurrence at memory speed, bit for bit. While acc is a normal float in [2^e, 2^(e+1)),
// every value it can take there is a multiple of u = 2^(e-23), so one step adds
// u * round(sq / u): the rounding of acc + sq does not depend on acc unless sq / u lies exactly
// halfway between two integers (ties go to the even neighbour, which depends on acc's last bit)
// or the sum leaves the binade. The squares are non-negative, so acc never decreases. A block of
// elements is therefore summed as integers (the rounded increments, in SIMD) and applied at once
// when it had no halfway case and stays below 2^(e+1); otherwise its sub-blocks are tried the
// same way, and those that fail run element by element. Failures are rare: the sum crosses a
// power of two about log2(n) times, and a halfway case needs a square whose bits below u/2 are
// all zero.
constexpr std::size_t kSumSqSubBlock = 64;

// s += round(y), bad |= (y halfway between integers, >= 2^23 or NaN) for y = fl(p[0..8)^2) * k
// (exact: k is a power of two).
__attribute__((target("avx2"), always_inline)) inline void sum_sq_increments8(const float* p,
                                                                              __m256 k,
                                                                              __m256i& s,
                                                                              __m256& bad) {
  const __m256 v = _mm256_loadu_ps(p);
  const __m256 y = _mm256_mul_ps(_mm256_mul_ps(v, v), k);
  const __m256 r = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 off = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(y, r));  // exact
  bad = _mm256_or_ps(bad, _mm256_cmp_ps(off, _mm256_set1_ps(0.5f), _CMP_EQ_OQ));
  bad = _mm256_or_ps(bad, _mm256_cmp_ps(y, _mm256_set1_ps(0x1p23f), _CMP_NLT_UQ));
  s = _mm256_add_epi32(s, _mm256_cvtps_epi32(r));
}

// *total = the sum of the rounded increments of x[0, m) (m a multiple of 8, <= kSumSqBlock),
// 1/u = k; false if one of them is a halfway case or too large (or NaN).
__attribute__((target("avx2"), noinline)) bool sum_sq_increments_avx2(const float* x,
                                                                      std::size_t m, float k,
                                                                      std::int64_t* total) {
  const __m256 vk = _mm256_set1_ps(k);
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  __m256 bad0 = _mm256_setzero_ps(), bad1 = _mm256_setzero_ps();
  std::size_t j = 0;
  for (; j + 16 <= m; j += 16) {
    sum_sq_increments8(x + j, vk, s0, bad0);
    sum_sq_increments8(x + j + 8, vk, s1, bad1);
  }
  if (j < m) sum_sq_increments8(x + j, vk, s0, bad0);
  const __m256 bad = _mm256_or_ps(bad0, bad1);
  if (!_mm256_testz_ps(bad, bad)) return false;
  alignas(32) std::int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi32(s0, s1));
  std::int64_t sum = 0;
  for (std::int32_t l : lanes) sum += l;
  *total = sum;
  return true;
}

// Adds the block x[0, m) (m a multiple of 8, <= kSumSqBlock) to acc at once if it can be done
// exactly (see above); false leaves acc unchanged.
bool sum_sq_try_block(const float* x, std::size_t m, float& acc) {
  // Normal, finite and >= 2^-100 (so that 1/u = 2^(23-e) is a normal float too); NaN fails.
  if (!(acc >= 0x1p-100f && acc <= std::numeric_limits<float>::max())) return false;
  std::uint32_t bits;
  std::memcpy(&bits, &acc, sizeof bits);
  const int e = static_cast<int>(bits >> 23) - 127;           // acc in [2^e, 2^(e+1))
  const float k = std::ldexp(1.0f, 23 - e);                    // 1 / u
  const std::int64_t q = static_cast<std::int64_t>(acc * k);  // acc / u, in [2^23, 2^24)
  std::int64_t d;
  if (!sum_sq_increments_avx2(x, m, k, &d) || q + d >= (std::int64_t{1} << 24)) return false;
  acc = static_cast<float>(q + d) / k;  // exact: an integer < 2^24 times a power of two
  return true;
}

float sum_sq_run_avx2(const float* x, std::size_t n, float acc) {
  const std::size_t n8 = n & ~std::size_t{7};
  for (std::size_t i = 0; i < n8; i += kSumSqBlock) {
    const std::size_t m = std::min(kSumSqBlock, n8 - i);
    if (sum_sq_try_block(x + i, m, acc)) continue;
    // A binade crossing or a halfway case: only the sub-block that holds it runs serially.
    for (std::size_t j = i; j < i + m; j += kSumSqSubBlock) {
      const std::size_t s = std::min(kSumSqSubBlock, i + m - j);
      if (!sum_sq_try_block(x + j, s, acc)) acc = sum_sq_serial(x + j, s, acc);
    }
  }
  return sum_sq_serial(x + n8, n - n8, acc);
}
#endif

// The shortest float32 array that sum_sq_many gives to the block-exact form.
constexpr std::size_t kSumSqRunMin = 4 * kSumSqBlock;

}  // namespace

float sum_sq_from(float acc, const float* x, std::size_t n) {
#if MXOPT_ISA_DISPATCH
  // (below two sub-blocks, the attempts would cost more than they could save)
  if (n >= 2 * kSumSqSubBlock && isa_level() != IsaLevel::kBaseline)
    return sum_sq_run_avx2(x, n, acc);
#endif
  return sum_sq_serial(x, n, acc);
}

namespace {
// float16: acc <- fl32(acc + x^2 rounded to float16), MXNet's half_t product added in float32.
// x^2 is exact in float32, so rounding it once to float16 is the float16 product. A chunk's
// squares are computed first (eight at a time with F16C, which rounds like `half`), then
// added in element order: element-wise half arithmetic costs far more than the additions.
constexpr std::size_t kHalfChunk = 256;

#if MXOPT_ISA_DISPATCH
__attribute__((target("avx2,f16c"), noinline)) void half_squares_f16c(const half* x, float* sq,
                                                                     std::size_t m) {
  const auto* s = reinterpret_cast<const std::uint16_t*>(x);
  std::size_t j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + j)));
    const __m128i r = _mm256_cvtps_ph(_mm256_mul_ps(v, v), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_ps(sq + j, _mm256_cvtph_ps(r));
  }
  for (; j < m; ++j) {
    const float v = _cvtsh_ss(s[j]);
    sq[j] = _cvtsh_ss(_cvtss_sh(v * v, _MM_FROUND_TO_NEAREST_INT));
  }
}
#endif

void half_squares(const half* x, float* sq, std::size_t m) {
#if MXOPT_ISA_DISPATCH
  if (isa_level() != IsaLevel::kBaseline) return half_squares_f16c(x, sq, m);
#endif
  for (std::size_t j = 0; j < m; ++j) sq[j] = static_cast<float>(x[j] * x[j]);
}

// The next m elements of L float16 lanes: acc[l] continues sum_sq's recurrence over p[l][0, m).
template <int L>
void sum_sq_half_lanes(const half* const* p, float* acc, std::size_t m) {
  alignas(32) float sq[L][kHalfChunk];
  float a[L];
  for (int l = 0; l < L; ++l) a[l] = acc[l];
  for (std::size_t j0 = 0; j0 < m; j0 += kHalfChunk) {
    const std::size_t c = std::min(kHalfChunk, m - j0);
    for (int l = 0; l < L; ++l) half_squares(p[l] + j0, sq[l], c);
    for (std::size_t j = 0; j < c; ++j)
      for (int l = 0; l < L; ++l) a[l] = a[l] + sq[l][j];
  }
  for (int l = 0; l < L; ++l) acc[l] = a[l];
}
}  // namespace

template <class T>
float sum_sq(const T* x, std::size_t n) {
  if constexpr (std::is_same_v<T, float>) return sum_sq_from(0.0f, x, n);
  using C = compute_t<T>;
  const C* v = cp(x);
  float acc = 0.0f;
  if constexpr (std::is_same_v<C, half>) {
    sum_sq_half_lanes<1>(&v, &acc, n);
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const C sq = v[i] * v[i];
      acc = static_cast<float>(acc + sq);
    }
  }
  return acc;
}

namespace {
// One sum_sq recurrence in progress: the elements left and the partial sum.
template <class C>
struct SumSqChain {
  const C* p;
  std::size_t n;
  float acc;
  std::size_t id;
};

// The next m elements of L lanes: acc[l] continues sum_sq's recurrence over p[l][0, m).
template <class C, int L>
struct SumSqBlock {
  void operator()(const C* const* p, float* acc, std::size_t m) const {
    if constexpr (std::is_same_v<C, half>) {
      sum_sq_half_lanes<L>(p, acc, m);
    } else {
      float a[L];
      for (int l = 0; l < L; ++l) a[l] = acc[l];
      for (std::size_t j = 0; j < m; ++j) {
#pragma GCC unroll 8
        for (int l = 0; l < L; ++l) {
          const C sq = p[l][j] * p[l][j];
          a[l] = static_cast<float>(a[l] + sq);
        }
      }
      for (int l = 0; l < L; ++l) acc[l] = a[l];
    }
  }
};

#if MXOPT_ISA_DISPATCH
// r[k] = (q[0][j + k]^2, ..., q[7][j + k]^2) for k < 8: the squares of 8 elements of 8 lanes,
// transposed (lane l in position l).
__attribute__((target("avx2"), always_inline)) inline void sum_sq_squares8(
    const float* const* q, std::size_t j, __m256* r) {
  for (int l = 0; l < 8; ++l) {
    const __m256 x = _mm256_loadu_ps(q[l] + j);
    r[l] = _mm256_mul_ps(x, x);
  }
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {  // rows 4i..4i+3: columns (k, k + 4) for k = 0..3
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
    r[k + 4] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
  }
}

// float32, 16 lanes in two AVX2 registers: 8 elements of each lane are squared, transposed so
// that register k holds element k of every lane, and added in element order. Each lane sees
// the same float additions as sum_sq; the two groups' chains hide each other's add latency.
__attribute__((target("avx2"), noinline)) void sum_sq_block16_avx2(const float* const* p,
                                                                   float* acc, std::size_t m) {
  __m256 a0 = _mm256_loadu_ps(acc), a1 = _mm256_loadu_ps(acc + 8);
  std::size_t j = 0;
  for (; j + 8 <= m; j += 8) {
    __m256 r0[8], r1[8];
    sum_sq_squares8(p, j, r0);
    sum_sq_squares8(p + 8, j, r1);
    for (int k = 0; k < 8; ++k) {
      a0 = _mm256_add_ps(a0, r0[k]);
      a1 = _mm256_add_ps(a1, r1[k]);
    }
  }
  _mm256_storeu_ps(acc, a0);
  _mm256_storeu_ps(acc + 8, a1);
  const float* q[16];
  for (int l = 0; l < 16; ++l) q[l] = p[l] + j;
  SumSqBlock<float, 16>()(q, acc, m - j);
}

// float32, 8 lanes in one AVX2 register (as above, one group): each lane advances twice as fast
// per block as with 16 lanes, for lists whose longest chains would hold the 16 lanes up.
__attribute__((target("avx2"), noinline)) void sum_sq_block8_avx2(const float* const* p,
                                                                  float* acc, std::size_t m) {
  __m256 a = _mm256_loadu_ps(acc);
  std::size_t j = 0;
  for (; j + 8 <= m; j += 8) {
    __m256 r[8];
    sum_sq_squares8(p, j, r);
    for (int k = 0; k < 8; ++k) a = _mm256_add_ps(a, r[k]);
  }
  _mm256_storeu_ps(acc, a);
  const float* q[8];
  for (int l = 0; l < 8; ++l) q[l] = p[l] + j;
  SumSqBlock<float, 8>()(q, acc, m - j);
}

struct SumSqBlock16Avx2 {
  void operator()(const float* const* p, float* acc, std::size_t m) const {
    sum_sq_block16_avx2(p, acc, m);
  }
};
struct SumSqBlock8Avx2 {
  void operator()(const float* const* p, float* acc, std::size_t m) const {
    sum_sq_block8_avx2(p, acc, m);
  }
};
#endif

// Runs chains L at a time in lock step, block(p, acc, m) advancing every lane by the elements
// all of them still have; a lane that finishes writes out[id] and takes the next chain from
// next(chain) (false: none left). When the supply runs dry, the unfinished lanes are handed
// back in `rest`.
template <class C, int L, class Block, class Next>
void sum_sq_lanes(const Block& block, Next&& next, std::vector<SumSqChain<C>>& rest, float* out) {
  SumSqChain<C> lane[L];
  int live = 0;
  while (live < L && next(lane[live])) ++live;
  rest.clear();
  if (live < L) {
    rest.assign(lane, lane + live);
    return;
  }
  for (;;) {
    std::size_t m = lane[0].n;
    for (int l = 1; l < L; ++l) m = std::min(m, lane[l].n);
    const C* p[L];
    float acc[L];
    for (int l = 0; l < L; ++l) {
      p[l] = lane[l].p;
      acc[l] = lane[l].acc;
    }
    block(p, acc, m);
    bool dry = false;
    for (int l = 0; l < L; ++l) {
      lane[l].p += m;
      lane[l].n -= m;
      lane[l].acc = acc[l];
      if (lane[l].n == 0) {
        out[lane[l].id] = acc[l];
        if (!next(lane[l])) {
          lane[l].n = 0;
          dry = true;
        }
      }
    }
    if (dry) {
      for (int l = 0; l < L; ++l)
        if (lane[l].n > 0) rest.push_back(lane[l]);
      return;
    }
  }
}

// All chains of next(), `width` (16, 8, 4, 2 or 1) lanes at a time while they last, then the
// leftovers with ever fewer lanes. float32 with AVX2 runs 16 and 8 lanes in vector registers.
template <class C, class Next>
void sum_sq_chains(Next&& next, float* out, int width) {
  std::vector<SumSqChain<C>> a, b;
  auto from = [](std::vector<SumSqChain<C>>& v) {
    return [&v, i = std::size_t{0}](SumSqChain<C>& c) mutable {
      if (i == v.size()) return false;
      c = v[i++];
      return true;
    };
  };
  bool first = true;
  // Runs phase L if width allows: the first one pulls from next(), later ones from the
  // previous phase's leftovers (in b, moved to a).
  auto phase = [&](int lanes, auto&& run) {
    if (lanes > width) return;
    if (first) {
      run(next);
      first = false;
    } else {
      a.swap(b);
      run(from(a));
    }
  };
  bool simd = false;
#if MXOPT_ISA_DISPATCH
  if constexpr (std::is_same_v<C, float>) {
    if (isa_level() != IsaLevel::kBaseline) {
      simd = true;
      phase(16, [&](auto&& src) { sum_sq_lanes<C, 16>(SumSqBlock16Avx2(), src, b, out); });
      phase(8, [&](auto&& src) { sum_sq_lanes<C, 8>(SumSqBlock8Avx2(), src, b, out); });
    }
  }
#endif
  if (!simd) phase(8, [&](auto&& src) { sum_sq_lanes<C, 8>(SumSqBlock<C, 8>(), src, b, out); });
  phase(4, [&](auto&& src) { sum_sq_lanes<C, 4>(SumSqBlock<C, 4>(), src, b, out); });
  phase(2, [&](auto&& src) { sum_sq_lanes<C, 2>(SumSqBlock<C, 2>(), src, b, out); });
  phase(1, [&](auto&& src) { sum_sq_lanes<C, 1>(SumSqBlock<C, 1>(), src, b, out); });
}

// The arrays of one thread, longest first, summed `width` lanes at a time (see sum_sq_many).
template <class C, class T>
void sum_sq_list(const std::vector<std::size_t>& all, const T* const* x, const std::size_t* n,
                 float* out) {
  // float32 arrays of kSumSqRunMin elements or more take the block-exact form one at a time
  // (memory speed on its own); the others are interleaved.
  std::vector<std::size_t> interleaved;
  const std::vector<std::size_t>* rest = &all;
#if MXOPT_ISA_DISPATCH
  if constexpr (std::is_same_v<T, float>) {
    if (isa_level() != IsaLevel::kBaseline) {
      for (std::size_t i : all) {
        if (n[i] >= kSumSqRunMin)
          out[i] = sum_sq_from(0.0f, x[i], n[i]);
        else
          interleaved.push_back(i);
      }
      rest = &interleaved;
    }
  }
#endif
  const std::vector<std::size_t>& list = *rest;
  std::size_t elements = 0;
  for (std::size_t i : list) elements += n[i];
  // A chain advances one element per block step of all the lanes, so the longest one sets the
  // time unless every lane has at least as much work: lanes are halved until
  // elements / lanes >= longest.
  const std::size_t longest = list.empty() ? 0 : n[list[0]];
  int width = 16;
  while (width > 1 && elements < static_cast<std::size_t>(width) * longest) width /= 2;
  std::size_t k = 0;
  auto next = [&](SumSqChain<C>& c) {
    if (k == list.size()) return false;
    const std::size_t i = list[k++];
    c = {cp(x[i]), n[i], 0.0f, i};
    return true;
  };
  sum_sq_chains<C>(next, out, width);
}
}  // namespace

template <class T>
void sum_sq_many(std::size_t count, const T* const* x, const std::size_t* n, float* out) {
  using C = compute_t<T>;
  std::size_t elements = 0;
  for (std::size_t i = 0; i < count; ++i) elements += n[i];
  // Longest first, so that the lanes finish together; empty arrays sum to 0.
  std::vector<std::size_t> order;
  order.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (n[i] == 0)
      out[i] = 0.0f;
    else
      order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [n](std::size_t a, std::size_t b) { return n[a] > n[b]; });
#if defined(MXOPT_HAVE_OPENMP)
  if (order.size() > 1 && multi_threads(order.size(), elements)) {
    // Arrays go to threads beforehand, longest first to the least loaded one: pulled from one
    // shared queue, the longest arrays could fill one thread's lanes while the other thread
    // took everything else (ResNet-50 LARS norms, 2 threads: 6.1 -> 5.6 ms).
    const std::size_t threads = static_cast<std::size_t>(omp_get_max_threads());
    std::vector<std::vector<std::size_t>> lists(threads);
    std::vector<std::size_t> load(threads, 0);
    for (std::size_t i : order) {
      const std::size_t t =
          static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
      lists[t].push_back(i);
      load[t] += n[i];
    }
#pragma omp parallel
    {
      const std::size_t nt = static_cast<std::size_t>(omp_get_num_threads());
      for (std::size_t t = static_cast<std::size_t>(omp_get_thread_num()); t < threads; t += nt)
        sum_sq_list<C>(lists[t], x, n, out);
    }
    return;
  }
#endif
  sum_sq_list<C>(order, x, n, out);
}

template <class T>
double nrm2(const T* x, std::size_t n) {
  using C = compute_t<T>;
  const C* v = cp(x);
  C ssq(0), scale(0);
  for (std::size_t i = 0; i < n; ++i) {
    if (v[i] != C(0)) {
      const C a = abs_(v[i]);
      if (scale < a) {
        ssq = C(1) + ssq * (scale / a) * (scale / a);
        scale = a;
      } else {
        ssq = ssq + (a / scale) * (a / scale);
      }
    }
  }
  return static_cast<double>(static_cast<promote_t<C>>(scale * sqrt_(ssq)));
}

template <class T>
double dot_norm(const T* x, std::size_t n) {
  using C = compute_t<T>;
  const C* v = cp(x);
  double acc = 0.0;
  for (std::size_t i = 0; i < n; ++i) acc += static_cast<double>(v[i] * v[i]);
  return static_cast<double>(static_cast<promote_t<C>>(sqrt_(C(acc))));
}

#define MXOPT_INST(T)                                   \
  template float sum_sq<T>(const T*, std::size_t);    \
  template void sum_sq_many<T>(std::size_t, const T* const*, const std::size_t*, float*); \
  template double nrm2<T>(const T*, std::size_t);     \
  template double dot_norm<T>(const T*, std::size_t);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace kernels
}  // namespace mxopt
