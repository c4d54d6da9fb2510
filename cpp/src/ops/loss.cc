// Loss-layer operators: SoftmaxOutput and Linear/Logistic/MAE regression outputs. Their
// backward ignores the head gradient, as in MXNet. Evaluation order follows MXNet 1.9.1's CPU
// code: the per-row softmax is computed sequentially (max, exp and running sum, divide) and the
// gradient is formed first, then multiplied by the float scale grad_scale / norm.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "mxopt/ops.h"
#include "parallel.h"

namespace mxopt::ops {
namespace {

template <class T>
inline void store(T* dst, std::int64_t i, T v, Req req) {
  if (req == Req::kAdd) dst[i] += v;
  else dst[i] = v;
}

// static_cast<int>(label) without undefined behaviour for NaN / out-of-range labels (they then
// match no class, which is what such a label does in MXNet on every sane platform).
template <class T>
inline std::int64_t label_class(T v) {
  if (!(v > T(-2147483648.0) && v < T(2147483648.0))) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(static_cast<int>(v));
}

std::int64_t product(const std::vector<std::int64_t>& s, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < to && i < s.size(); ++i) p *= s[i];
  return p;
}

// Softmax of `count` values spaced `stride` apart.
template <class T>
inline void softmax_strided(const T* x, T* y, std::int64_t count, std::int64_t stride) {
  if (count == 0) return;
  T mmax = x[0];
  for (std::int64_t c = 1; c < count; ++c)
    if (mmax < x[c * stride]) mmax = x[c * stride];
  T sum = T(0);
  for (std::int64_t c = 0; c < count; ++c) {
    y[c * stride] = std::exp(x[c * stride] - mmax);
    sum += y[c * stride];
  }
  for (std::int64_t c = 0; c < count; ++c) y[c * stride] /= sum;
}

}  // namespace

template <class T>
void softmax_output_forward(const SoftmaxOutputParam& param, const T* x, T* y,
                            const std::vector<std::int64_t>& shape) {
  if (shape.empty()) throw std::invalid_argument("SoftmaxOutput: data must have ndim >= 1");
  const std::int64_t size = product(shape, 0, shape.size());
  if (size == 0) return;
  if (param.multi_output) {
    const std::int64_t n = shape[0], k = shape.size() > 1 ? shape[1] : 1, s = size / n / k;
    detail::parallel_chunks(n * s, 64, size >= detail::kParallelElements,
                            [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t t = b; t < e; ++t) {
        const std::int64_t i = t / s, j = t % s;
        softmax_strided(x + i * k * s + j, y + i * k * s + j, k, s);
      }
    });
    return;
  }
  const std::int64_t cols = param.preserve_shape ? shape.back() : size / shape[0];
  const std::int64_t rows = size / cols;
  detail::parallel_chunks(rows, 16, size >= detail::kParallelElements,
                          [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) softmax_strided(x + r * cols, y + r * cols, cols, 1);
  });
}

template <class T>
void softmax_output_backward(const SoftmaxOutputParam& param, const T* y, const T* label,
                             const std::vector<std::int64_t>& shape,
                             const std::vector<std::int64_t>& label_shape, T* gx, Req req) {
  if (req == Req::kNull) return;
  if (shape.empty()) throw std::invalid_argument("SoftmaxOutput: data must have ndim >= 1");
  const std::int64_t size = product(shape, 0, shape.size());
  const std::int64_t label_size = product(label_shape, 0, label_shape.size());
  if (label_shape == shape) {  // probability labels: normalization does not apply
    const T scale = T(param.grad_scale);
    detail::for_each_index(size, [&](std::int64_t i) { store(gx, i, (y[i] - label[i]) * scale, req); });
    return;
  }
  std::int64_t rows, k, s;  // gradient layout (rows, k, s): class axis k, positions s
  if (param.multi_output) {
    rows = shape[0];
    k = shape.size() > 1 ? shape[1] : 1;
    s = rows && k ? size / rows / k : 0;
  } else if (param.preserve_shape) {
    k = shape.back();
    rows = k ? size / k : 0;
    s = 1;
  } else {
    // MXNet 1.9.1: rows are the samples (as in the forward) and row r uses label[r]; the
    // label keeps its inferred shape data.shape[:-1], and normalization counts all of it.
    rows = shape[0];
    k = rows ? size / rows : 0;
    s = 1;
  }
  if (label_size < rows * s)
    throw std::invalid_argument("SoftmaxOutput: label has " + std::to_string(label_size) +
                                " elements, expected at least " + std::to_string(rows * s));
  const std::int64_t ignore = label_class(T(param.ignore_label));
  std::int64_t valid = label_size;
  if (param.normalization == Normalization::kValid) {
    for (std::int64_t i = 0; i < label_size; ++i)
      if (label_class(label[i]) == ignore) --valid;
    if (valid == 0) valid = 1;
  } else if (param.normalization == Normalization::kNull) {
    valid = param.multi_output ? s : 1;
  }
  const T scale = T(param.grad_scale / static_cast<float>(valid));
  const bool smooth = param.smooth_alpha != 0.0f && !param.multi_output;
  const T one_minus = T(1.0f);
  const T alpha = T(param.smooth_alpha);
  const T smooth_grad = T(param.smooth_alpha / static_cast<float>(k - 1));
  detail::parallel_chunks(rows * s, 64, size >= detail::kParallelElements,
                          [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      const std::int64_t i = t / s, j = t % s;
      const std::int64_t cls = label_class(label[t]);
      const bool ignored = param.use_ignore && cls == ignore;
      for (std::int64_t c = 0; c < k; ++c) {
        const std::int64_t at = (i * k + c) * s + j;
        T g;
        if (ignored) g = T(0);
        else if (smooth) g = c == cls ? (y[at] - one_minus) + alpha : y[at] - smooth_grad;
        else g = c == cls ? y[at] - one_minus : y[at];
        store(gx, at, g * scale, req);
      }
    }
  });
}

template <class T>
void regression_forward(RegressionType type, const T* x, T* y, std::int64_t size) {
  if (type == RegressionType::kLogistic)
    detail::for_each_index(size, [&](std::int64_t i) { y[i] = T(1) / (T(1) + std::exp(-x[i])); });
  else
    detail::for_each_index(size, [&](std::int64_t i) { y[i] = x[i]; });
}

template <class T>
void regression_backward(RegressionType type, float grad_scale, const T* y, const T* label,
                         std::int64_t size, std::int64_t label_rows, T* gx, Req req) {
  if (req == Req::kNull || size == 0) return;
  if (label_rows <= 0) throw std::invalid_argument("regression output: label has no rows");
  const std::int64_t num_output = size / label_rows;
  const T scale = T(grad_scale / static_cast<float>(num_output));
  if (type == RegressionType::kMAE)
    detail::for_each_index(size, [&](std::int64_t i) {
      store(gx, i, scale * (y[i] - label[i] > T(0) ? T(1) : T(-1)), req);
    });
  else
    detail::for_each_index(size, [&](std::int64_t i) { store(gx, i, scale * (y[i] - label[i]), req); });
}

#define MXOPT_INSTANTIATE(T)                                                                     \
  template void softmax_output_forward<T>(const SoftmaxOutputParam&, const T*, T*,               \
                                          const std::vector<std::int64_t>&);                     \
  template void softmax_output_backward<T>(const SoftmaxOutputParam&, const T*, const T*,        \
                                           const std::vector<std::int64_t>&,                     \
                                           const std::vector<std::int64_t>&, T*, Req);           \
  template void regression_forward<T>(RegressionType, const T*, T*, std::int64_t);               \
  template void regression_backward<T>(RegressionType, float, const T*, const T*, std::int64_t,  \
                                       std::int64_t, T*, Req);
MXOPT_INSTANTIATE(float)
MXOPT_INSTANTIATE(double)
#undef MXOPT_INSTANTIATE

}  // namespace mxopt::ops
