// Element-wise operators: Activation, Dropout, and plain copy/accumulate (Flatten, head grads).
// Formulas and evaluation order follow MXNet 1.9.1's mshadow_op functors.
#include <cmath>

#include "mxopt/ops.h"
#include "parallel.h"

namespace mxopt::ops {
namespace {

template <class T>
inline void store(T* dst, std::int64_t i, T v, Req req) {
  if (req == Req::kAdd) dst[i] += v;
  else dst[i] = v;
}

template <class T>
inline T act(ActType a, T x) {
  switch (a) {
    case ActType::kRelu: return (std::isnan(x) || x > T(0)) ? x : T(0);
    case ActType::kSigmoid: return T(1) / (T(1) + std::exp(-x));
    case ActType::kTanh: return std::tanh(x);
    case ActType::kSoftRelu: return x > T(20) ? x : std::log1p(std::exp(x));
    case ActType::kSoftSign: return x / (T(1) + std::fabs(x));
  }
  return x;
}

// d act / dx expressed through the output y (or the input x for softsign).
template <class T>
inline T act_grad(ActType a, T x, T y) {
  switch (a) {
    case ActType::kRelu: return y > T(0) ? T(1) : T(0);
    case ActType::kSigmoid: return y * (T(1) - y);
    case ActType::kTanh: return T(1) - y * y;
    case ActType::kSoftRelu: return -std::expm1(-y);
    case ActType::kSoftSign: {
      const T d = T(1) + std::fabs(x);
      return T(1) / (d * d);
    }
  }
  return T(0);
}

}  // namespace

template <class T>
void activation_forward(ActType a, const T* x, T* y, std::int64_t size) {
  detail::for_each_index(size, [&](std::int64_t i) { y[i] = act(a, x[i]); });
}

template <class T>
void activation_backward(ActType a, const T* gy, const T* x, const T* y, T* gx, Req req,
                         std::int64_t size) {
  if (req == Req::kNull) return;
  detail::for_each_index(size, [&](std::int64_t i) {
    store(gx, i, gy[i] * act_grad(a, x ? x[i] : T(0), y ? y[i] : T(0)), req);
  });
}

template <class T>
void dropout_forward(float p, const float* uniform, const T* x, T* y, T* mask, std::int64_t size) {
  const float pkeep = 1.0f - p;
  const T scale = pkeep > 0.0f ? T(1.0f / pkeep) : T(0);
  detail::for_each_index(size, [&](std::int64_t i) {
    const T m = uniform[i] < pkeep ? scale : T(0);
    mask[i] = m;
    y[i] = x[i] * m;
  });
}

template <class T>
void dropout_backward(const T* gy, const T* mask, T* gx, Req req, std::int64_t size) {
  if (req == Req::kNull) return;
  detail::for_each_index(size, [&](std::int64_t i) { store(gx, i, gy[i] * mask[i], req); });
}

template <class T>
void assign(const T* src, T* dst, Req req, std::int64_t size) {
  if (req == Req::kNull) return;
  detail::for_each_index(size, [&](std::int64_t i) { store(dst, i, src[i], req); });
}

#define MXOPT_INSTANTIATE(T)                                                                   \
  template void activation_forward<T>(ActType, const T*, T*, std::int64_t);                     \
  template void activation_backward<T>(ActType, const T*, const T*, const T*, T*, Req,          \
                                       std::int64_t);                                           \
  template void dropout_forward<T>(float, const float*, const T*, T*, T*, std::int64_t);        \
  template void dropout_backward<T>(const T*, const T*, T*, Req, std::int64_t);                 \
  template void assign<T>(const T*, T*, Req, std::int64_t);
MXOPT_INSTANTIATE(float)
MXOPT_INSTANTIATE(double)
#undef MXOPT_INSTANTIATE

}  // namespace mxopt::ops
