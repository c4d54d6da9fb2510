// softmax / log_softmax along an axis and their gradients: MXNet 1.9.1's CPU Softmax and
// SoftmaxGrad (nn/softmax-inl.h) with MXNET_SAFE_ACCUMULATION unset, so the accumulator is T.
// Per row: the max by `mmax < v`, the sum of exp(v - max) (divided by the temperature first
// when it is not 1) in order, then exp(v - max) / sum (softmax) or (v - max) - log(sum)
// (log_softmax). Rows are independent; OpenMP spreads whole rows.
#include "tensor_common.h"

namespace mxopt::ops {
namespace {

int check_axis(int axis, std::size_t ndim) {
  const int nd = static_cast<int>(ndim);
  if (axis < -nd || axis >= nd)
    throw std::invalid_argument("axis " + std::to_string(axis) +
                                " exceeds the input dimension of " + std::to_string(nd));
  return axis < 0 ? axis + nd : axis;
}

struct RowLayout {
  std::int64_t rows = 0, m = 0, stride = 1, trailing = 1;
  std::int64_t base(std::int64_t i) const { return (i / trailing) * m * trailing + i % trailing; }
};

RowLayout layout(const Shape& shape, int axis) {
  RowLayout l;
  l.m = shape[axis];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) l.trailing *= shape[d];
  l.stride = l.trailing;
  l.rows = l.m ? shape_size(shape) / l.m : 0;
  return l;
}

template <class Fn>
void for_rows(const RowLayout& l, Fn&& fn) {
  const std::int64_t grain = std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(l.m, 1));
  detail::parallel_chunks(l.rows, grain, l.rows * l.m >= detail::kParallelElements,
                          [&](std::int64_t b, std::int64_t e) {
                            for (std::int64_t i = b; i < e; ++i) fn(l.base(i));
                          });
}

}  // namespace

template <class T>
void softmax_forward(const T* x, T* y, const Shape& shape, int axis_in, double temperature,
                     bool log) {
  if (shape.empty()) throw std::invalid_argument("softmax: data must have at least one dimension");
  const int axis = check_axis(axis_in, shape.size());
  const RowLayout l = layout(shape, axis);
  if (l.m == 0 || l.rows == 0) return;
  const T temp = static_cast<T>(temperature);
  const bool scaled = !(temp == T(1));
  const std::int64_t m = l.m, sa = l.stride;
  for_rows(l, [&](std::int64_t base) {
    const T* in = x + base;
    T* out = y + base;
    T mmax = in[0];
    for (std::int64_t j = 1; j < m; ++j)
      if (mmax < in[j * sa]) mmax = in[j * sa];
    T sum = T(0);
    if (!scaled) {
      for (std::int64_t j = 0; j < m; ++j) sum += detail::mx_exp(in[j * sa] - mmax);
    } else {
      for (std::int64_t j = 0; j < m; ++j) sum += detail::mx_exp((in[j * sa] - mmax) / temp);
    }
    if (log) {
      const T ls = detail::mx_log(sum);
      for (std::int64_t j = 0; j < m; ++j) {
        const T v = scaled ? (in[j * sa] - mmax) / temp : in[j * sa] - mmax;
        out[j * sa] = v - ls;
      }
    } else {
      for (std::int64_t j = 0; j < m; ++j) {
        const T v = scaled ? (in[j * sa] - mmax) / temp : in[j * sa] - mmax;
        out[j * sa] = detail::mx_exp(v) / sum;
      }
    }
  });
}

template <class T>
void softmax_backward(const T* gy, const T* y, T* gx, const Shape& shape, int axis_in,
                      double temperature, bool log, Req req) {
  if (shape.empty()) throw std::invalid_argument("softmax: data must have at least one dimension");
  const int axis = check_axis(axis_in, shape.size());
  if (req == Req::kNull) return;
  const RowLayout l = layout(shape, axis);
  if (l.m == 0 || l.rows == 0) return;
  const T temp = static_cast<T>(temperature);
  const bool scaled = !(temp == T(1));
  const std::int64_t m = l.m, sa = l.stride;
  for_rows(l, [&](std::int64_t base) {
    const T* g = gy + base;
    const T* o = y + base;
    T* dst = gx + base;
    T sum = T(0);
    if (log) {
      for (std::int64_t j = 0; j < m; ++j) sum += g[j * sa];
    } else {
      for (std::int64_t j = 0; j < m; ++j) sum += g[j * sa] * o[j * sa];
    }
    for (std::int64_t j = 0; j < m; ++j) {
      T v = log ? g[j * sa] - detail::mx_exp(o[j * sa]) * sum : o[j * sa] * (g[j * sa] - sum);
      if (scaled) v = v / temp;
      detail::store(dst, j * sa, v, req);
    }
  });
}

#define MXOPT_INSTANTIATE(T)                                                                    \
  template void softmax_forward<T>(const T*, T*, const Shape&, int, double, bool);             \
  template void softmax_backward<T>(const T*, const T*, T*, const Shape&, int, double, bool,   \
                                    Req);
MXOPT_INSTANTIATE(float)
MXOPT_INSTANTIATE(double)
#undef MXOPT_INSTANTIATE

}  // namespace mxopt::ops
