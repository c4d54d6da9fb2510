// Broadcast binary operators: broadcast_add/sub/mul/div/maximum/minimum/power and, for equal
// shapes, elemwise_add/sub/mul/div. Formulas follow MXNet 1.9.1's mshadow_op functors (plus,
// minus, mul, div, maximum, minimum, power and their gradient functors div_grad, div_rgrad,
// ge/lt, le/gt, power_grad, power_rgrad); float operands are computed in float.
#include <sstream>

#include "broadcast_impl.h"

namespace mxopt::ops {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  if (s.size() == 1) os << ',';
  os << ')';
  return os.str();
}

std::int64_t shape_size(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Shape broadcast_shape(const Shape& lhs, const Shape& rhs) {
  if (lhs == rhs) return lhs;
  const std::size_t nd = std::max(lhs.size(), rhs.size());
  Shape out(nd);
  for (std::size_t i = 0; i < nd; ++i) {
    const std::int64_t l = i + lhs.size() >= nd ? lhs[i + lhs.size() - nd] : 1;
    const std::int64_t r = i + rhs.size() >= nd ? rhs[i + rhs.size() - nd] : 1;
    if (l != r && l != 1 && r != 1)
      throw std::invalid_argument("operands could not be broadcast together with shapes " +
                                  shape_str(lhs) + " " + shape_str(rhs));
    out[i] = l == 1 ? r : l;
  }
  // MXNet merges neighbouring dimensions that broadcast alike and handles at most 5 of the
  // resulting dimensions (BinaryBroadcastShapeCompact); more is an error there, and here.
  int merged = 0;
  std::int64_t lprod = 1, rprod = 1;
  for (std::size_t i = 0; i < nd; ++i) {
    const std::int64_t l = i + lhs.size() >= nd ? lhs[i + lhs.size() - nd] : 1;
    const std::int64_t r = i + rhs.size() >= nd ? rhs[i + rhs.size() - nd] : 1;
    if ((lprod != rprod || l != r) && lprod * l > 1 && rprod * r > 1) {
      ++merged;
      lprod = rprod = 1;
    }
    lprod *= l;
    rprod *= r;
  }
  if (lprod > 1 || rprod > 1) ++merged;
  if (merged > 5)
    throw std::invalid_argument("Too many broadcast dimensions with operands " + shape_str(lhs) +
                                " " + shape_str(rhs) + " (MXNet handles at most 5 after merging)");
  return out;
}

namespace {

// ---- forward functors ----
struct Plus {
  template <class T> static T f(T a, T b) { return a + b; }
};
struct Minus {
  template <class T> static T f(T a, T b) { return a - b; }
};
struct Mul {
  template <class T> static T f(T a, T b) { return a * b; }
};
struct Div {
  template <class T> static T f(T a, T b) { return a / b; }
};
struct Maximum {  // NaN propagates from either side (a NaN rhs fails the comparison)
  template <class T> static T f(T a, T b) { return std::isnan(a) ? a : (a > b ? a : b); }
};
struct Minimum {
  template <class T> static T f(T a, T b) { return std::isnan(a) ? a : (a < b ? a : b); }
};
struct Power {
  template <class T> static T f(T a, T b) { return detail::mx_pow(a, b); }
};

// ---- gradient functors: g(ograd, lhs, rhs) ----
struct GIdentity {
  static constexpr bool kReadsInputs = false;
  template <class T> static T g(T og, T, T) { return og; }
};
struct GNegate {
  static constexpr bool kReadsInputs = false;
  template <class T> static T g(T og, T, T) { return -og; }
};
struct GRight {  // d(a*b)/da
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T, T b) { return og * b; }
};
struct GLeft {
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T) { return og * a; }
};
struct GDivLeft {  // 1.0f / b (float literal: float math for float, double for double)
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T, T b) { return og * static_cast<T>(1.0f / b); }
};
struct GDivRight {  // -a / sqr(b)
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T b) { return og * static_cast<T>(-a / detail::mx_sqr(b)); }
};
struct GGe {
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T b) { return og * (a >= b ? T(1) : T(0)); }
};
struct GLt {
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T b) { return og * (a < b ? T(1) : T(0)); }
};
struct GLe {
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T b) { return og * (a <= b ? T(1) : T(0)); }
};
struct GGt {
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T b) { return og * (a > b ? T(1) : T(0)); }
};
struct GPowLeft {  // pow(a, b - 1) * b
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T b) {
    return og * static_cast<T>(detail::mx_pow(a, b - T(1)) * b);
  }
};
struct GPowRight {  // pow(a, b) * log(a)
  static constexpr bool kReadsInputs = true;
  template <class T> static T g(T og, T a, T b) {
    return og * static_cast<T>(detail::mx_pow(a, b) * detail::mx_log(a));
  }
};

void check_op(BinaryOp op) {
  if (static_cast<int>(op) < 0 || static_cast<int>(op) > static_cast<int>(BinaryOp::kPower))
    throw std::invalid_argument("unknown broadcast binary operator " + std::to_string(static_cast<int>(op)));
}

}  // namespace

bool binary_backward_reads_inputs(BinaryOp op) {
  check_op(op);
  return op != BinaryOp::kAdd && op != BinaryOp::kSub;
}

template <class T>
void broadcast_forward(BinaryOp op, const T* lhs, const Shape& lshape, const T* rhs,
                       const Shape& rshape, T* out) {
  check_op(op);
  const Shape oshape = broadcast_shape(lshape, rshape);
  if (shape_size(oshape) == 0) return;
  switch (op) {
    case BinaryOp::kAdd: return detail::broadcast_apply<T, Plus>(lhs, lshape, rhs, rshape, out, oshape);
    case BinaryOp::kSub: return detail::broadcast_apply<T, Minus>(lhs, lshape, rhs, rshape, out, oshape);
    case BinaryOp::kMul: return detail::broadcast_apply<T, Mul>(lhs, lshape, rhs, rshape, out, oshape);
    case BinaryOp::kDiv: return detail::broadcast_apply<T, Div>(lhs, lshape, rhs, rshape, out, oshape);
    case BinaryOp::kMaximum:
      return detail::broadcast_apply<T, Maximum>(lhs, lshape, rhs, rshape, out, oshape);
    case BinaryOp::kMinimum:
      return detail::broadcast_apply<T, Minimum>(lhs, lshape, rhs, rshape, out, oshape);
    case BinaryOp::kPower: return detail::broadcast_apply<T, Power>(lhs, lshape, rhs, rshape, out, oshape);
  }
}

template <class T>
void broadcast_backward(BinaryOp op, const T* ograd, const T* lhs, const Shape& lshape,
                        const T* rhs, const Shape& rshape, T* glhs, Req lreq, T* grhs, Req rreq) {
  check_op(op);
  const Shape oshape = broadcast_shape(lshape, rshape);
  if (lreq == Req::kNull && rreq == Req::kNull) return;
  if (binary_backward_reads_inputs(op) && (!lhs || !rhs))
    throw std::invalid_argument("broadcast backward: this operator's gradient reads lhs and rhs");
  if ((lreq != Req::kNull && !glhs) || (rreq != Req::kNull && !grhs))
    throw std::invalid_argument("broadcast backward: a gradient with a non-null req has no buffer");
  using namespace detail;
  switch (op) {
    case BinaryOp::kAdd:
      return broadcast_grad<T, GIdentity, GIdentity>(ograd, lhs, lshape, rhs, rshape, oshape, glhs, lreq, grhs, rreq);
    case BinaryOp::kSub:
      return broadcast_grad<T, GIdentity, GNegate>(ograd, lhs, lshape, rhs, rshape, oshape, glhs, lreq, grhs, rreq);
    case BinaryOp::kMul:
      return broadcast_grad<T, GRight, GLeft>(ograd, lhs, lshape, rhs, rshape, oshape, glhs, lreq, grhs, rreq);
    case BinaryOp::kDiv:
      return broadcast_grad<T, GDivLeft, GDivRight>(ograd, lhs, lshape, rhs, rshape, oshape, glhs, lreq, grhs, rreq);
    case BinaryOp::kMaximum:
      return broadcast_grad<T, GGe, GLt>(ograd, lhs, lshape, rhs, rshape, oshape, glhs, lreq, grhs, rreq);
    case BinaryOp::kMinimum:
      return broadcast_grad<T, GLe, GGt>(ograd, lhs, lshape, rhs, rshape, oshape, glhs, lreq, grhs, rreq);
    case BinaryOp::kPower:
      return broadcast_grad<T, GPowLeft, GPowRight>(ograd, lhs, lshape, rhs, rshape, oshape, glhs, lreq, grhs, rreq);
  }
}

#define MXOPT_INSTANTIATE(T)                                                                      \
  template void broadcast_forward<T>(BinaryOp, const T*, const Shape&, const T*, const Shape&,   \
                                     T*);                                                         \
  template void broadcast_backward<T>(BinaryOp, const T*, const T*, const Shape&, const T*,      \
                                      const Shape&, T*, Req, T*, Req);
MXOPT_INSTANTIATE(float)
MXOPT_INSTANTIATE(double)
#undef MXOPT_INSTANTIATE

}  // namespace mxopt::ops
