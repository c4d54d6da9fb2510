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

// One activation as a functor type, so that each loop is compiled for one function (and
// vectorizes: no switch and no unpredictable branch per element).
template <ActType A>
struct Act;
template <>
struct Act<ActType::kRelu> {
  // NaN passes through (MXNet's relu is `x > 0 ? x : 0` on the NaN-propagating maximum).
  template <class T> static T f(T x) { return (x != x || x > T(0)) ? x : T(0); }
  template <class T> static T df(T, T y) { return static_cast<T>(y > T(0)); }  // 1 or 0
};
template <>
struct Act<ActType::kSigmoid> {
  template <class T> static T f(T x) { return T(1) / (T(1) + std::exp(-x)); }
  template <class T> static T df(T, T y) { return y * (T(1) - y); }
};
template <>
struct Act<ActType::kTanh> {
  template <class T> static T f(T x) { return std::tanh(x); }
  template <class T> static T df(T, T y) { return T(1) - y * y; }
};
template <>
struct Act<ActType::kSoftRelu> {
  template <class T> static T f(T x) { return x > T(20) ? x : std::log1p(std::exp(x)); }
  template <class T> static T df(T, T y) { return -std::expm1(-y); }
};
template <>
struct Act<ActType::kSoftSign> {
  template <class T> static T f(T x) { return x / (T(1) + std::fabs(x)); }
  // d act / dx through the input x (the others go through the output y).
  template <class T> static T df(T x, T) {
    const T d = T(1) + std::fabs(x);
    return T(1) / (d * d);
  }
};

// fn(Act<a>{}) with the activation as a compile-time type.
template <class Fn>
void with_act(ActType a, Fn&& fn) {
  switch (a) {
    case ActType::kRelu: return fn(Act<ActType::kRelu>{});
    case ActType::kSigmoid: return fn(Act<ActType::kSigmoid>{});
    case ActType::kTanh: return fn(Act<ActType::kTanh>{});
    case ActType::kSoftRelu: return fn(Act<ActType::kSoftRelu>{});
    case ActType::kSoftSign: return fn(Act<ActType::kSoftSign>{});
  }
}

}  // namespace

template <class T>
void activation_forward(ActType a, const T* x, T* y, std::int64_t size) {
  with_act(a, [&](auto op) {
    using Op = decltype(op);
    detail::for_each_range(size, [x, y](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) y[i] = Op::f(x[i]);
    });
  });
}

template <class T>
void activation_backward(ActType a, const T* gy, const T* x, const T* y, T* gx, Req req,
                         std::int64_t size) {
  if (req == Req::kNull) return;
  with_act(a, [&](auto op) {
    using Op = decltype(op);
    // The functions read only the argument they need; the other may be a null pointer.
    const T* xs = x ? x : y;
    const T* ys = y ? y : x;
    const bool add = req == Req::kAdd;
    detail::for_each_range(size, [=](std::int64_t b, std::int64_t e) {
      if (add) {
        for (std::int64_t i = b; i < e; ++i) gx[i] += gy[i] * Op::df(xs[i], ys[i]);
      } else {
        for (std::int64_t i = b; i < e; ++i) gx[i] = gy[i] * Op::df(xs[i], ys[i]);
      }
    });
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
