// Private helpers of the tensor operator kernels (tensor_ops.h): MXNet's math wrappers and
// conversions, req stores, mshadow's Kahan step, and two engines over strided operands:
//  - for_each_segment: the row-major positions of an output, cut into contiguous runs, with
//    the matching offsets of up to two broadcast inputs (broadcast forward, broadcast copies);
//  - kahan_reduce: for every kept position, the Kahan sum over the reduced positions in
//    row-major order (sum/mean, gradients of broadcast operands, PReLU's gamma gradient).
// Neither engine lets the OpenMP partition change the order of any accumulation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "mxopt/tensor_ops.h"
#include "parallel.h"

namespace mxopt::ops::detail {

// ---- MXNet's math:: wrappers: float arguments use the float libm functions ----------------------
inline float mx_exp(float a) { return ::expf(a); }
inline double mx_exp(double a) { return ::exp(a); }
inline float mx_log(float a) { return ::logf(a); }
inline double mx_log(double a) { return ::log(a); }
inline float mx_sqrt(float a) { return ::sqrtf(a); }
inline double mx_sqrt(double a) { return ::sqrt(a); }
inline float mx_fabs(float a) { return ::fabsf(a); }
inline double mx_fabs(double a) { return ::fabs(a); }
inline float mx_expm1(float a) { return ::expm1f(a); }
inline double mx_expm1(double a) { return ::expm1(a); }
inline float mx_erf(float a) { return ::erff(a); }
inline float mx_pow(float a, float b) { return ::powf(a, b); }
inline double mx_pow(double a, double b) { return ::pow(a, b); }
// math::sqr: a * a in the argument's precision.
inline float mx_sqr(float a) { return a * a; }
inline double mx_sqr(double a) { return a * a; }

template <class T>
inline void store(T* dst, std::int64_t i, T v, Req req) {
  if (req == Req::kAdd) dst[i] += v;
  else dst[i] = v;
}

// One step of mshadow's red::sum with residual (Kahan); an infinite partial sum drops the
// residual.
template <class T>
inline void kahan_add(T& val, T& res, T src) {
  const T y = src - res;
  const T t = val + y;
  res = std::isinf(t) ? T(0) : (t - val) - y;
  val = t;
}

// ---- conversions as x86-64 performs static_cast (UB in C++ for NaN / out-of-range floats) ------
// cvttss2si / cvttsd2si: truncation toward zero, the "integer indefinite" value (INT_MIN of the
// width) for NaN and out-of-range values. Integer sources wrap modulo 2^width.
template <class I>
inline std::int32_t to_int32_x86(I v) {
  if constexpr (std::is_floating_point_v<I>) {
    if (!(v > I(-2147483649.0) && v < I(2147483648.0))) return std::numeric_limits<std::int32_t>::min();
    return static_cast<std::int32_t>(v);
  } else {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)));
  }
}
template <class I>
inline std::int64_t to_int64_x86(I v) {
  if constexpr (std::is_floating_point_v<I>) {
    if (!(v >= I(-9223372036854775808.0) && v < I(9223372036854775808.0)))
      return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(v);
  } else {
    return static_cast<std::int64_t>(v);
  }
}
// static_cast<O>(double) for the output types of one_hot.
template <class O>
inline O cast_from_double(double v) {
  if constexpr (std::is_same_v<O, std::int32_t>) return to_int32_x86(v);
  else if constexpr (std::is_same_v<O, std::int64_t>) return to_int64_x86(v);
  else return static_cast<O>(v);
}

// ---- strided operands --------------------------------------------------------------------------
// One dimension of an iteration over up to three operands (0 is the output / the big operand);
// stride 0 broadcasts an operand along the dimension. `kept`: kahan_reduce keeps the dimension
// in its output (otherwise it is summed over).
struct StridedDim {
  std::int64_t size = 1;
  std::int64_t stride[3] = {0, 0, 0};
  bool kept = true;
};

// Drops size-1 dimensions and merges neighbours that step through every operand like one
// dimension (and agree on `kept`). The row-major order of the positions is unchanged.
inline std::vector<StridedDim> compact_dims(const std::vector<StridedDim>& dims) {
  std::vector<StridedDim> out;
  for (const auto& d : dims) {
    if (d.size == 1) continue;
    if (!out.empty() && d.size != 0 && out.back().size != 0) {
      StridedDim& p = out.back();
      bool merge = p.kept == d.kept;
      for (int o = 0; o < 3 && merge; ++o) merge = p.stride[o] == d.stride[o] * d.size;
      if (merge) {
        p.size *= d.size;
        for (int o = 0; o < 3; ++o) p.stride[o] = d.stride[o];
        continue;
      }
    }
    out.push_back(d);
  }
  return out;
}

// Row-major strides of `shape` padded on the left to `ndim` dimensions, 0 where the padded
// dimension is 1 and out_shape's is not (the operand is broadcast along it).
inline std::vector<std::int64_t> broadcast_strides(const Shape& shape, const Shape& out_shape) {
  const std::size_t nd = out_shape.size(), pad = nd - shape.size();
  std::vector<std::int64_t> st(nd, 0);
  std::int64_t s = 1;
  for (std::size_t i = nd; i-- > 0;) {
    const std::int64_t n = i >= pad ? shape[i - pad] : 1;
    st[i] = (n == 1 && out_shape[i] != 1) ? 0 : s;
    s *= n;
  }
  return st;
}

inline std::int64_t product(const std::vector<StridedDim>& dims) {
  std::int64_t p = 1;
  for (const auto& d : dims) p *= d.size;
  return p;
}

// fn(off0, off1, off2, len, step0, step1, step2) for the contiguous runs (in the last compacted
// dimension) covering the row-major positions [begin, end) of dims.
template <class Fn>
void for_each_segment(const std::vector<StridedDim>& dims, std::int64_t begin, std::int64_t end,
                      Fn&& fn) {
  if (begin >= end) return;
  if (dims.empty()) {  // a single position
    fn(std::int64_t{0}, std::int64_t{0}, std::int64_t{0}, std::int64_t{1}, std::int64_t{0},
       std::int64_t{0}, std::int64_t{0});
    return;
  }
  const StridedDim& in = dims.back();
  const std::size_t nout = dims.size() - 1;
  std::vector<std::int64_t> coord(nout, 0);
  std::int64_t off[3] = {0, 0, 0};
  std::int64_t row = begin / in.size, cin = begin % in.size;
  for (std::size_t j = nout; j-- > 0;) {
    coord[j] = row % dims[j].size;
    row /= dims[j].size;
    for (int o = 0; o < 3; ++o) off[o] += coord[j] * dims[j].stride[o];
  }
  std::int64_t pos = begin;
  while (pos < end) {
    const std::int64_t len = std::min(in.size - cin, end - pos);
    fn(off[0] + cin * in.stride[0], off[1] + cin * in.stride[1], off[2] + cin * in.stride[2], len,
       in.stride[0], in.stride[1], in.stride[2]);
    pos += len;
    cin = 0;
    for (std::size_t j = nout; j-- > 0;) {  // odometer over the outer dimensions
      ++coord[j];
      for (int o = 0; o < 3; ++o) off[o] += dims[j].stride[o];
      if (coord[j] < dims[j].size) break;
      for (int o = 0; o < 3; ++o) off[o] -= coord[j] * dims[j].stride[o];
      coord[j] = 0;
    }
  }
}

// Parallel for_each_segment over all positions of dims (fixed chunks: element-wise work).
template <class Fn>
void for_each_segment_parallel(const std::vector<StridedDim>& dims, Fn&& fn) {
  const std::int64_t total = product(dims);
  constexpr std::int64_t kGrain = 32768;
  parallel_chunks(total, kGrain, total >= kParallelElements,
                  [&](std::int64_t b, std::int64_t e) { for_each_segment(dims, b, e, fn); });
}

// For every kept position p of dims (row-major over the kept dimensions), out[p] receives
// (per req) fin(S) where S is the Kahan sum, in row-major order of the reduced dimensions, of
// value(off0, off1, off2) over the reduced positions (0 when a reduced dimension has size 0, a
// single term when no dimension is reduced).
template <class T, class Value, class Fin>
void kahan_reduce(const std::vector<StridedDim>& dims_in, Value&& value, Fin&& fin, T* out,
                  Req req) {
  if (req == Req::kNull) return;
  const std::vector<StridedDim> dims = compact_dims(dims_in);
  std::vector<StridedDim> kept, red;
  for (const auto& d : dims) (d.kept ? kept : red).push_back(d);
  // The innermost kept dimension, when it is the last one, is processed as a vector of
  // independent sums (each keeps its own order), the others one position at a time.
  StridedDim vec;
  vec.size = 1;
  if (!dims.empty() && dims.back().kept) {
    vec = kept.back();
    kept.pop_back();
  }
  StridedDim rin;
  rin.size = 1;
  rin.kept = false;
  if (!red.empty()) {
    rin = red.back();
    red.pop_back();
  }
  const std::int64_t n_outer = product(kept), nv = vec.size;
  const std::int64_t n_rout = product(red), m = n_rout * rin.size;
  if (n_outer == 0 || nv == 0) return;
  constexpr std::int64_t kBlock = 128;
  const std::int64_t nb = (nv + kBlock - 1) / kBlock;
  const bool parallel = n_outer * nv * std::max<std::int64_t>(m, 1) >= kParallelElements &&
                        n_outer * nb > 1;
  parallel_chunks(n_outer * nb, 1, parallel, [&](std::int64_t wb, std::int64_t we) {
    T val[kBlock], res[kBlock];
    std::vector<std::int64_t> rc(red.size());
    for (std::int64_t w = wb; w < we; ++w) {
      const std::int64_t so = w / nb, c0 = (w % nb) * kBlock;
      const std::int64_t len = std::min(kBlock, nv - c0);
      std::int64_t base[3] = {0, 0, 0};
      std::int64_t t = so;
      for (std::size_t j = kept.size(); j-- > 0;) {
        const std::int64_t c = t % kept[j].size;
        t /= kept[j].size;
        for (int o = 0; o < 3; ++o) base[o] += c * kept[j].stride[o];
      }
      for (int o = 0; o < 3; ++o) base[o] += c0 * vec.stride[o];
      for (std::int64_t i = 0; i < len; ++i) val[i] = res[i] = T(0);
      if (m > 0) {
        std::fill(rc.begin(), rc.end(), 0);
        std::int64_t ro[3] = {0, 0, 0};
        for (std::int64_t q = 0; q < n_rout; ++q) {
          for (std::int64_t r = 0; r < rin.size; ++r) {
            const std::int64_t o0 = base[0] + ro[0] + r * rin.stride[0];
            const std::int64_t o1 = base[1] + ro[1] + r * rin.stride[1];
            const std::int64_t o2 = base[2] + ro[2] + r * rin.stride[2];
            for (std::int64_t i = 0; i < len; ++i)
              kahan_add(val[i], res[i],
                        static_cast<T>(value(o0 + i * vec.stride[0], o1 + i * vec.stride[1],
                                             o2 + i * vec.stride[2])));
          }
          for (std::size_t j = red.size(); j-- > 0;) {
            ++rc[j];
            for (int o = 0; o < 3; ++o) ro[o] += red[j].stride[o];
            if (rc[j] < red[j].size) break;
            for (int o = 0; o < 3; ++o) ro[o] -= rc[j] * red[j].stride[o];
            rc[j] = 0;
          }
        }
      }
      T* dst = out + so * nv + c0;
      for (std::int64_t i = 0; i < len; ++i) store(dst, i, static_cast<T>(fin(val[i])), req);
    }
  });
}

// Positions 0..n-1 grouped by their (non-negative) keys: the distinct keys sorted, each group's
// positions increasing. A stable LSD radix sort on 11-bit digits: O(n) per digit of the largest
// key, nothing proportional to the key range.
inline RowGroups group_by_key(const std::vector<std::int64_t>& keys) {
  const std::int64_t n = static_cast<std::int64_t>(keys.size());
  std::vector<std::int64_t> pos(n), tmp(n);
  std::iota(pos.begin(), pos.end(), std::int64_t{0});
  std::uint64_t max_key = 0;
  for (std::int64_t k : keys) max_key = std::max(max_key, static_cast<std::uint64_t>(k));
  constexpr int kBits = 11;
  constexpr std::size_t kBuckets = std::size_t{1} << kBits;
  std::vector<std::int64_t> count(kBuckets);
  for (int shift = 0; shift < 64 && (max_key >> shift) != 0; shift += kBits) {
    std::fill(count.begin(), count.end(), 0);
    for (std::int64_t i = 0; i < n; ++i)
      ++count[(static_cast<std::uint64_t>(keys[pos[i]]) >> shift) & (kBuckets - 1)];
    std::int64_t sum = 0;
    for (auto& c : count) {
      const std::int64_t t = c;
      c = sum;
      sum += t;
    }
    for (std::int64_t i = 0; i < n; ++i)
      tmp[count[(static_cast<std::uint64_t>(keys[pos[i]]) >> shift) & (kBuckets - 1)]++] = pos[i];
    pos.swap(tmp);
  }
  RowGroups g;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t k = keys[pos[i]];
    if (g.rows.empty() || g.rows.back() != k) {
      g.rows.push_back(k);
      g.starts.push_back(i);
    }
  }
  g.starts.push_back(n);
  g.sources = std::move(pos);
  return g;
}

}  // namespace mxopt::ops::detail
