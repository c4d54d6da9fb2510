// Unary math operators exp, log, sqrt, rsqrt, square, abs, sign, negative, reciprocal and their
// gradients, as MXNet 1.9.1 registers them (mshadow_op functors; gradient registrations:
// exp -> _mul(ograd, out), sqrt -> square_root_grad(out), log/rsqrt/square/abs/sign/reciprocal
// -> *_grad(in), negative -> negative(ograd)). A float literal in MXNet's formula (1.0f / x)
// keeps float math for float and becomes double math for double, as here.
#include "tensor_common.h"

namespace mxopt::ops {
namespace {

using detail::mx_exp;
using detail::mx_fabs;
using detail::mx_log;
using detail::mx_sqr;
using detail::mx_sqrt;

struct Exp {
  static constexpr UnaryGradInput kGrad = UnaryGradInput::kOutput;
  template <class T> static T f(T a) { return mx_exp(a); }
  template <class T> static T df(T, T y) { return y; }
};
struct Log {
  static constexpr UnaryGradInput kGrad = UnaryGradInput::kInput;
  template <class T> static T f(T a) { return mx_log(a); }
  template <class T> static T df(T x, T) { return static_cast<T>(1.0f / x); }
};
struct Sqrt {
  static constexpr UnaryGradInput kGrad = UnaryGradInput::kOutput;
  template <class T> static T f(T a) { return mx_sqrt(a); }
  template <class T> static T df(T, T y) { return static_cast<T>(0.5f / y); }
};
struct Rsqrt {
  static constexpr UnaryGradInput kGrad = UnaryGradInput::kInput;
  template <class T> static T f(T a) { return static_cast<T>(1.0f / mx_sqrt(a)); }
  template <class T> static T df(T x, T) { return static_cast<T>(-0.5f / (mx_sqrt(x) * x)); }
};
struct Square {
  static constexpr UnaryGradInput kGrad = UnaryGradInput::kInput;
  template <class T> static T f(T a) { return mx_sqr(a); }
  template <class T> static T df(T x, T) { return static_cast<T>(2.0f * x); }
};
struct Sign {  // NaN -> 0
  static constexpr UnaryGradInput kGrad = UnaryGradInput::kInput;
  template <class T> static T f(T a) { return a < T(0) ? T(-1) : (a > T(0) ? T(1) : T(0)); }
  template <class T> static T df(T, T) { return T(0); }
};
struct Abs {  // gradient sign(x): 0 at 0
  static constexpr UnaryGradInput kGrad = UnaryGradInput::kInput;
  template <class T> static T f(T a) { return mx_fabs(a); }
  template <class T> static T df(T x, T) { return Sign::f(x); }
};
struct Reciprocal {
  static constexpr UnaryGradInput kGrad = UnaryGradInput::kInput;
  template <class T> static T f(T a) { return static_cast<T>(1.0f / a); }
  template <class T> static T df(T x, T) { return static_cast<T>(-1.0f / mx_sqr(x)); }
};

template <class Fn>
void with_op(UnaryOp op, Fn&& fn) {
  switch (op) {
    case UnaryOp::kExp: return fn(Exp{});
    case UnaryOp::kLog: return fn(Log{});
    case UnaryOp::kSqrt: return fn(Sqrt{});
    case UnaryOp::kRsqrt: return fn(Rsqrt{});
    case UnaryOp::kSquare: return fn(Square{});
    case UnaryOp::kAbs: return fn(Abs{});
    case UnaryOp::kSign: return fn(Sign{});
    case UnaryOp::kReciprocal: return fn(Reciprocal{});
    case UnaryOp::kNegative: break;  // handled by the callers
  }
}

void check_op(UnaryOp op) {
  if (static_cast<int>(op) < 0 || static_cast<int>(op) > static_cast<int>(UnaryOp::kReciprocal))
    throw std::invalid_argument("unknown unary operator " + std::to_string(static_cast<int>(op)));
}

}  // namespace

UnaryGradInput unary_grad_input(UnaryOp op) {
  check_op(op);
  if (op == UnaryOp::kNegative) return UnaryGradInput::kNone;
  UnaryGradInput g = UnaryGradInput::kNone;
  with_op(op, [&](auto f) { g = decltype(f)::kGrad; });
  return g;
}

template <class T>
void unary_forward(UnaryOp op, const T* x, T* y, std::int64_t size) {
  check_op(op);
  if (op == UnaryOp::kNegative) {
    detail::for_each_range(size, [=](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) y[i] = -x[i];
    });
    return;
  }
  with_op(op, [&](auto f) {
    using F = decltype(f);
    detail::for_each_range(size, [=](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) y[i] = F::f(x[i]);
    });
  });
}

template <class T>
void unary_backward(UnaryOp op, const T* gy, const T* x, const T* y, T* gx, Req req,
                    std::int64_t size) {
  check_op(op);
  if (req == Req::kNull) return;
  const UnaryGradInput need = unary_grad_input(op);
  if ((need == UnaryGradInput::kInput && !x) || (need == UnaryGradInput::kOutput && !y))
    throw std::invalid_argument(std::string("unary backward: the gradient reads the ") +
                                (need == UnaryGradInput::kInput ? "input x" : "output y"));
  const bool add = req == Req::kAdd;
  if (op == UnaryOp::kNegative) {
    detail::for_each_range(size, [=](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) detail::store(gx, i, -gy[i], add ? Req::kAdd : Req::kWrite);
    });
    return;
  }
  with_op(op, [&](auto f) {
    using F = decltype(f);
    detail::for_each_range(size, [=](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        const T xi = F::kGrad == UnaryGradInput::kInput ? x[i] : T(0);
        const T yi = F::kGrad == UnaryGradInput::kOutput ? y[i] : T(0);
        const T g = gy[i] * F::df(xi, yi);
        if (add) gx[i] += g;
        else gx[i] = g;
      }
    });
  });
}

#define MXOPT_INSTANTIATE(T)                                                           \
  template void unary_forward<T>(UnaryOp, const T*, T*, std::int64_t);                 \
  template void unary_backward<T>(UnaryOp, const T*, const T*, const T*, T*, Req,      \
                                  std::int64_t);
MXOPT_INSTANTIATE(float)
MXOPT_INSTANTIATE(double)
#undef MXOPT_INSTANTIATE

}  // namespace mxopt::ops
