// LeakyReLU (leaky, prelu, rrelu, elu, selu, gelu) forward and backward, following MXNet
// 1.9.1's LeakyReLUOp (leaky_relu-inl.h) and its mshadow_op functors: xelu computes its
// negative branch in float even for double data, gelu computes entirely in float, selu/elu use
// expm1 in the data's precision. PReLU broadcasts gamma like MXNet (expand_shape) and sums the
// gamma gradient over the broadcast axes with the Kahan reducer.
#include "broadcast_impl.h"

namespace mxopt::ops {
namespace {

constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluLambda = 1.0507009873554804934193349852946f;
constexpr float kSqrt2 = 1.4142135623730950488016887242096f;
constexpr float kPi = 3.14159265358979323846f;

template <class T>
inline T xelu(T a, T b) {
  return a > T(0) ? a : static_cast<T>(static_cast<float>(a) * static_cast<float>(b));
}
template <class T>
inline T xelu_grad(T a, T b) { return a > T(0) ? T(1) : b; }
template <class T>
inline T elu(T a, T b) { return a > T(0) ? a : static_cast<T>(b * detail::mx_expm1(a)); }
template <class T>
inline T elu_grad(T y, T b) { return y > T(0) ? T(1) : static_cast<T>(b + y); }
template <class T>
inline T selu(T a) {
  // math::id(SELU_ALPHA) stays float; times expm1 in T.
  return static_cast<T>(kSeluLambda) * (a > T(0) ? a : static_cast<T>(kSeluAlpha * detail::mx_expm1(a)));
}
template <class T>
inline T selu_grad(T y) {
  return static_cast<T>(kSeluLambda) * (y > T(0) ? T(1) : static_cast<T>(kSeluAlpha + y));
}
// erf_grad(float): 2.0 / sqrtf(PI) in double, times expf(-(x*x)), rounded to float.
inline float erf_grad(float x) {
  return static_cast<float>(2.0 / ::sqrtf(kPi) * ::expf(-(x * x)));
}
template <class T>
inline T gelu(T a) {
  const float x = static_cast<float>(a);
  return static_cast<T>(0.5f * x * (1.0f + ::erff(x / kSqrt2)));
}
template <class T>
inline T gelu_grad(T a) {
  const float x = static_cast<float>(a);
  return static_cast<T>(0.5f * (1.0f + ::erff(x / kSqrt2) + x * erf_grad(x / kSqrt2) / kSqrt2));
}

struct Xelu {
  template <class T> static T f(T a, T b) { return xelu(a, b); }
};
struct GXelu {  // d/dx: 1 or gamma
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T b) { return og * xelu_grad(a, b); }
};
struct GPrelu {  // d/dgamma: 0 or x
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T) { return og * (a > T(0) ? T(0) : a); }
};

void check_act(LeakyAct a) {
  if (static_cast<int>(a) < 0 || static_cast<int>(a) > static_cast<int>(LeakyAct::kGELU))
    throw std::invalid_argument("unknown LeakyReLU act_type " + std::to_string(static_cast<int>(a)));
}

template <class Fn>
void elementwise(std::int64_t n, Fn&& fn) {
  detail::for_each_range(n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) fn(i);
  });
}

}  // namespace

Shape prelu_gamma_shape(const Shape& gamma, const Shape& data) {
  const int nd = static_cast<int>(data.size());
  Shape out(nd, 1);
  int s = static_cast<int>(gamma.size()) - 1;
  for (int i = nd - 1; i >= 0; --i) {
    if (s >= 0 && i <= 1 && (data[i] == gamma[s] || gamma[s] == 1)) {
      out[i] = gamma[s];
      --s;
    }
  }
  if (s != -1)
    throw std::invalid_argument("Cannot broadcast gamma to data. gamma: " + shape_str(gamma) +
                                ", data: " + shape_str(data));
  return out;
}

template <class T>
void leaky_relu_forward(const LeakyReLUParam& p, const T* x, const Shape& xshape, const T* gamma,
                        const Shape& gshape, const T* uniform, T* mask, T* y) {
  check_act(p.act);
  if (xshape.empty()) throw std::invalid_argument("LeakyReLU: data must have at least one dimension");
  const std::int64_t n = shape_size(xshape);
  switch (p.act) {
    case LeakyAct::kLeaky: {
      const T slope = static_cast<T>(p.slope);
      elementwise(n, [&](std::int64_t i) { y[i] = xelu(x[i], slope); });
      return;
    }
    case LeakyAct::kPReLU: {
      if (!gamma) throw std::invalid_argument("LeakyReLU prelu needs gamma");
      const Shape g = prelu_gamma_shape(gshape, xshape);
      if (n == 0) return;
      detail::broadcast_apply<T, Xelu>(x, xshape, gamma, g, y, xshape);
      return;
    }
    case LeakyAct::kRReLU: {
      if (uniform) {  // training: slopes drawn uniformly in [lower, upper)
        if (!mask) throw std::invalid_argument("LeakyReLU rrelu in training needs a mask output");
        const T range = static_cast<T>(p.upper_bound - p.lower_bound);
        const T lower = static_cast<T>(p.lower_bound);
        elementwise(n, [&](std::int64_t i) {
          T m = uniform[i] * range;
          m = m + lower;
          mask[i] = m;
          y[i] = xelu(x[i], m);
        });
      } else {
        const T slope = static_cast<T>((p.lower_bound + p.upper_bound) / 2.0f);
        elementwise(n, [&](std::int64_t i) { y[i] = xelu(x[i], slope); });
      }
      return;
    }
    case LeakyAct::kELU: {
      const T slope = static_cast<T>(p.slope);
      elementwise(n, [&](std::int64_t i) { y[i] = elu(x[i], slope); });
      return;
    }
    case LeakyAct::kSELU:
      elementwise(n, [&](std::int64_t i) { y[i] = selu(x[i]); });
      return;
    case LeakyAct::kGELU:
      elementwise(n, [&](std::int64_t i) { y[i] = gelu(x[i]); });
      return;
  }
}

template <class T>
void leaky_relu_backward(const LeakyReLUParam& p, const T* gy, const T* x, const T* y,
                         const Shape& xshape, const T* gamma, const Shape& gshape, const T* mask,
                         T* gx, Req req, T* ggamma, Req greq) {
  check_act(p.act);
  if (xshape.empty()) throw std::invalid_argument("LeakyReLU: data must have at least one dimension");
  const std::int64_t n = shape_size(xshape);
  const bool reads_x = p.act == LeakyAct::kPReLU || p.act == LeakyAct::kGELU;
  if ((reads_x && !x) || (!reads_x && !y))
    throw std::invalid_argument(std::string("LeakyReLU backward: this act_type's gradient reads ") +
                                (reads_x ? "the input x" : "the output y"));
  if (p.act == LeakyAct::kPReLU) {
    if (!gamma) throw std::invalid_argument("LeakyReLU prelu backward needs gamma");
    const Shape g = prelu_gamma_shape(gshape, xshape);
    if (n == 0) return;
    detail::broadcast_grad<T, GXelu, GPrelu>(gy, x, xshape, gamma, g, xshape, gx, req, ggamma, greq);
    return;
  }
  if (req == Req::kNull || n == 0) return;
  const bool add = req == Req::kAdd;
  auto put = [&](std::int64_t i, T v) {
    if (add) gx[i] += v;
    else gx[i] = v;
  };
  switch (p.act) {
    case LeakyAct::kLeaky: {
      const T slope = static_cast<T>(p.slope);
      elementwise(n, [&](std::int64_t i) { put(i, gy[i] * xelu_grad(y[i], slope)); });
      return;
    }
    case LeakyAct::kRReLU: {
      if (mask) {
        elementwise(n, [&](std::int64_t i) { put(i, xelu_grad(y[i], mask[i]) * gy[i]); });
      } else {
        const T slope = static_cast<T>((p.lower_bound + p.upper_bound) / 2.0f);
        elementwise(n, [&](std::int64_t i) { put(i, xelu_grad(y[i], slope) * gy[i]); });
      }
      return;
    }
    case LeakyAct::kELU: {
      const T slope = static_cast<T>(p.slope);
      elementwise(n, [&](std::int64_t i) { put(i, gy[i] * elu_grad(y[i], slope)); });
      return;
    }
    case LeakyAct::kSELU:
      elementwise(n, [&](std::int64_t i) { put(i, gy[i] * selu_grad(y[i])); });
      return;
    case LeakyAct::kGELU:
      elementwise(n, [&](std::int64_t i) { put(i, gy[i] * gelu_grad(x[i])); });
      return;
    case LeakyAct::kPReLU:
      return;
  }
}

#define MXOPT_INSTANTIATE(T)                                                                     \
  template void leaky_relu_forward<T>(const LeakyReLUParam&, const T*, const Shape&, const T*,   \
                                      const Shape&, const T*, T*, T*);                           \
  template void leaky_relu_backward<T>(const LeakyReLUParam&, const T*, const T*, const T*,      \
                                       const Shape&, const T*, const Shape&, const T*, T*, Req,  \
                                       T*, Req);
MXOPT_INSTANTIATE(float)
MXOPT_INSTANTIATE(double)
#undef MXOPT_INSTANTIATE

}  // namespace mxopt::ops
