// Shared kernels: float16 conversions, row-index validation and MXNet's two L2 reductions.
#include <stdexcept>
#include <string>

#include "kernel_util.h"

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

template <class T>
float sum_sq(const T* x, std::size_t n) {
  using C = compute_t<T>;
  using P = promote_t<C>;
  const C* v = cp(x);
  float acc = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const C sq = v[i] * v[i];
    acc = static_cast<float>(static_cast<P>(acc) + static_cast<P>(sq));
  }
  return acc;
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
  template double nrm2<T>(const T*, std::size_t);     \
  template double dot_norm<T>(const T*, std::size_t);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace kernels
}  // namespace mxopt
