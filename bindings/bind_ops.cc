// Binds the operator kernels (mxopt/tensor_ops.h and mxopt/ops.h) as plain functions on numpy
// buffers, one per operator and direction: `_core.op_<name>(...)` and
// `_core.op_<name>_backward(...)`.
//
// Every function checks all of its arguments before anything is written: float operands and
// outputs are C-contiguous float32 or float64 numpy arrays of ONE dtype per call (TypeError
// otherwise, never a cast or a copy), outputs are writeable and have exactly the expected shape
// (ValueError naming the argument and both shapes). Gradient outputs take a req: 0 = null (the
// array may be None and is not touched), 1 = write, 3 = add. An output may be the very same
// buffer as an input of the same shape only in element-wise kernels; any other overlap between
// an output and another argument is a ValueError. The C++ work runs without the GIL.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "mxopt/ops.h"
#include "mxopt/tensor_ops.h"

namespace py = pybind11;

namespace mxopt::bindings {
namespace {

using ops::Req;
using ops::Shape;

// ---- argument checking -------------------------------------------------------------------------

std::string dtype_name(const py::dtype& dt) { return py::str(dt).cast<std::string>(); }

Shape shape_of(const py::array& a) {
  return Shape(a.shape(), a.shape() + a.ndim());
}

// One checked numpy argument: its buffer, shape and byte range (for overlap checks).
struct Arr {
  py::array array;
  void* ptr = nullptr;
  Shape shape;
  std::int64_t size = 0;
  std::string name;
  std::uintptr_t lo = 0, hi = 0;
  template <class T> T* data() const { return static_cast<T*>(ptr); }
};

py::array as_array(const py::handle& obj, const std::string& name) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(name + " must be a numpy.ndarray, got " +
                         py::type::handle_of(obj).attr("__name__").cast<std::string>());
  return py::reinterpret_borrow<py::array>(obj);
}

Arr make_arr(const py::array& a, const std::string& name, bool writeable) {
  if (!(a.flags() & py::array::c_style)) throw py::value_error(name + " must be C-contiguous");
  if (writeable && !a.writeable()) throw py::value_error(name + " must be writeable");
  Arr r;
  r.array = a;
  r.ptr = const_cast<void*>(a.data());
  r.shape = shape_of(a);
  r.size = static_cast<std::int64_t>(a.size());
  r.name = name;
  r.lo = reinterpret_cast<std::uintptr_t>(r.ptr);
  r.hi = r.lo + static_cast<std::uintptr_t>(a.nbytes());
  return r;
}

void expect_shape(const Arr& a, const Shape& want, const std::string& what = "") {
  if (a.shape != want)
    throw py::value_error(a.name + " has shape " + ops::shape_str(a.shape) + ", expected " +
                          ops::shape_str(want) + what);
}

Req parse_req(int req, const std::string& name) {
  if (req != 0 && req != 1 && req != 3)
    throw py::value_error(name + " must be 0 (null), 1 (write) or 3 (add), got " + std::to_string(req));
  return static_cast<Req>(req);
}

enum class FloatType { kF32, kF64 };

// The float arrays of one call: they must all share the dtype of the first one checked.
class Floats {
 public:
  Arr in(const py::handle& obj, const std::string& name) { return take(obj, name, false); }
  Arr out(const py::handle& obj, const std::string& name, const Shape& want) {
    Arr a = take(obj, name, true);
    expect_shape(a, want);
    return a;
  }
  // A gradient output: None allowed (and returned empty) when req is null.
  std::optional<Arr> grad(const py::handle& obj, const std::string& name, Req req, const Shape& want) {
    if (obj.is_none()) {
      if (req != Req::kNull)
        throw py::value_error(name + " is None but its req is " + std::to_string(static_cast<int>(req)) +
                              " (only req 0 allows None)");
      return std::nullopt;
    }
    return out(obj, name, want);
  }
  // A writeable output whose shape the caller checks.
  Arr out_unshaped(const py::handle& obj, const std::string& name) { return take(obj, name, true); }
  std::optional<Arr> optional_in(const py::handle& obj, const std::string& name) {
    if (obj.is_none()) return std::nullopt;
    return in(obj, name);
  }
  FloatType type() const { return type_; }
  bool known() const { return known_; }
  void set_type(FloatType t, const std::string& from) {
    known_ = true;
    type_ = t;
    first_ = from;
  }

 private:
  Arr take(const py::handle& obj, const std::string& name, bool writeable) {
    py::array a = as_array(obj, name);
    const py::dtype dt = a.dtype();
    FloatType t;
    if (dt.is(py::dtype::of<float>())) t = FloatType::kF32;
    else if (dt.is(py::dtype::of<double>())) t = FloatType::kF64;
    else throw py::type_error(name + " must be a float32 or float64 array, got dtype " + dtype_name(dt));
    if (!known_) set_type(t, name);
    else if (t != type_)
      throw py::type_error(name + " has dtype " + dtype_name(dt) + ", expected " +
                           (type_ == FloatType::kF32 ? "float32" : "float64") + " (the dtype of " +
                           first_ + ")");
    return make_arr(a, name, writeable);
  }
  bool known_ = false;
  FloatType type_ = FloatType::kF32;
  std::string first_;
};

bool overlaps(const Arr& a, const Arr& b) {
  return a.size > 0 && b.size > 0 && a.lo < b.hi && b.lo < a.hi;
}
bool same_buffer(const Arr& a, const Arr& b) { return a.lo == b.lo && a.hi == b.hi; }

// Outputs must not overlap each other, nor the inputs except (when `exact_ok`) by being the
// very same buffer as an input of the same shape.
void check_overlap(const std::vector<const Arr*>& outs, const std::vector<const Arr*>& ins,
                   bool exact_ok) {
  for (std::size_t i = 0; i < outs.size(); ++i) {
    if (!outs[i]) continue;
    for (std::size_t j = i + 1; j < outs.size(); ++j)
      if (outs[j] && overlaps(*outs[i], *outs[j]))
        throw py::value_error(outs[i]->name + " and " + outs[j]->name + " overlap in memory");
    for (const Arr* in : ins) {
      if (!in || !overlaps(*outs[i], *in)) continue;
      if (exact_ok && same_buffer(*outs[i], *in) && outs[i]->shape == in->shape) continue;
      throw py::value_error(outs[i]->name + " overlaps " + in->name + " in memory");
    }
  }
}

template <class Fn>
void with_float(FloatType t, Fn&& fn) {
  if (t == FloatType::kF32) fn(float{});
  else fn(double{});
}

template <class T>
T* ptr_or_null(const std::optional<Arr>& a) {
  return a ? a->data<T>() : nullptr;
}
const Arr* opt_ptr(const std::optional<Arr>& a) { return a ? &*a : nullptr; }

// Index arrays (one_hot, Embedding): float32/float64/int8/uint8/int32/int64, C-contiguous.
enum class IndexType { kF32, kF64, kI8, kU8, kI32, kI64 };
IndexType index_type(const py::array& a, const std::string& name) {
  const py::dtype dt = a.dtype();
  if (dt.is(py::dtype::of<float>())) return IndexType::kF32;
  if (dt.is(py::dtype::of<double>())) return IndexType::kF64;
  if (dt.is(py::dtype::of<std::int8_t>())) return IndexType::kI8;
  if (dt.is(py::dtype::of<std::uint8_t>())) return IndexType::kU8;
  if (dt.is(py::dtype::of<std::int32_t>())) return IndexType::kI32;
  if (dt.is(py::dtype::of<std::int64_t>())) return IndexType::kI64;
  throw py::type_error(name + " must be a float32, float64, int8, uint8, int32 or int64 array, got dtype " +
                       dtype_name(dt));
}
template <class Fn>
void with_index(IndexType t, Fn&& fn) {
  switch (t) {
    case IndexType::kF32: return fn(float{});
    case IndexType::kF64: return fn(double{});
    case IndexType::kI8: return fn(std::int8_t{});
    case IndexType::kU8: return fn(std::uint8_t{});
    case IndexType::kI32: return fn(std::int32_t{});
    case IndexType::kI64: return fn(std::int64_t{});
  }
}

// An int64 C-contiguous 1-D array (CSR structure).
Arr int64_vector(const py::handle& obj, const std::string& name) {
  py::array a = as_array(obj, name);
  if (!a.dtype().is(py::dtype::of<std::int64_t>()))
    throw py::type_error(name + " must be an int64 array, got dtype " + dtype_name(a.dtype()));
  if (a.ndim() != 1) throw py::value_error(name + " must be one-dimensional, got shape " + ops::shape_str(shape_of(a)));
  return make_arr(a, name, false);
}

template <class E>
E parse_enum(const std::string& value, const std::string& what,
             const std::vector<std::pair<const char*, E>>& table) {
  std::string names;
  for (const auto& [n, e] : table) {
    if (value == n) return e;
    names += (names.empty() ? "" : ", ") + std::string("'") + n + "'";
  }
  throw py::value_error(what + " must be one of " + names + ", got '" + value + "'");
}

// Runs fn without the GIL; C++ argument errors come back as ValueError.
template <class Fn>
void run(Fn&& fn) {
  py::gil_scoped_release nogil;
  fn();
}

Shape appended(Shape s, std::int64_t d) {
  s.push_back(d);
  return s;
}

// ---- broadcast binary --------------------------------------------------------------------------

ops::BinaryOp binary_op(const std::string& op) {
  return parse_enum<ops::BinaryOp>(op, "op", {{"add", ops::BinaryOp::kAdd}, {"sub", ops::BinaryOp::kSub},
                                              {"mul", ops::BinaryOp::kMul}, {"div", ops::BinaryOp::kDiv},
                                              {"maximum", ops::BinaryOp::kMaximum},
                                              {"minimum", ops::BinaryOp::kMinimum},
                                              {"power", ops::BinaryOp::kPower}});
}

Shape checked_broadcast_shape(const Arr& l, const Arr& r) {
  try {
    return ops::broadcast_shape(l.shape, r.shape);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

void op_broadcast(const std::string& op_name, const py::object& lhs, const py::object& rhs,
                  const py::object& out) {
  const auto op = binary_op(op_name);
  Floats f;
  Arr l = f.in(lhs, "lhs"), r = f.in(rhs, "rhs");
  const Shape oshape = checked_broadcast_shape(l, r);
  Arr o = f.out(out, "out", oshape);
  check_overlap({&o}, {&l, &r}, true);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::broadcast_forward<T>(op, l.data<T>(), l.shape, r.data<T>(), r.shape, o.data<T>()); });
  });
}

void op_broadcast_backward(const std::string& op_name, const py::object& ograd,
                           const py::object& lhs, const py::object& rhs, const py::object& glhs,
                           int req_l, const py::object& grhs, int req_r) {
  const auto op = binary_op(op_name);
  const Req rl = parse_req(req_l, "req_l"), rr = parse_req(req_r, "req_r");
  Floats f;
  Arr g = f.in(ograd, "ograd"), l = f.in(lhs, "lhs"), r = f.in(rhs, "rhs");
  const Shape oshape = checked_broadcast_shape(l, r);
  expect_shape(g, oshape, " (the broadcast shape of lhs and rhs)");
  auto gl = f.grad(glhs, "glhs", rl, l.shape), gr = f.grad(grhs, "grhs", rr, r.shape);
  check_overlap({opt_ptr(gl), opt_ptr(gr)}, {&g, &l, &r}, l.shape == r.shape);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::broadcast_backward<T>(op, g.data<T>(), l.data<T>(), l.shape, r.data<T>(), r.shape,
                                 ptr_or_null<T>(gl), rl, ptr_or_null<T>(gr), rr);
    });
  });
}

// ---- unary -------------------------------------------------------------------------------------

ops::UnaryOp unary_op(const std::string& op) {
  return parse_enum<ops::UnaryOp>(
      op, "op",
      {{"exp", ops::UnaryOp::kExp}, {"log", ops::UnaryOp::kLog}, {"sqrt", ops::UnaryOp::kSqrt},
       {"rsqrt", ops::UnaryOp::kRsqrt}, {"square", ops::UnaryOp::kSquare}, {"abs", ops::UnaryOp::kAbs},
       {"sign", ops::UnaryOp::kSign}, {"negative", ops::UnaryOp::kNegative},
       {"reciprocal", ops::UnaryOp::kReciprocal}});
}

void op_unary(const std::string& op_name, const py::object& x, const py::object& out) {
  const auto op = unary_op(op_name);
  Floats f;
  Arr a = f.in(x, "x");
  Arr o = f.out(out, "out", a.shape);
  check_overlap({&o}, {&a}, true);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::unary_forward<T>(op, a.data<T>(), o.data<T>(), a.size); });
  });
}

void op_unary_backward(const std::string& op_name, const py::object& ograd, const py::object& x,
                       const py::object& y, const py::object& gx, int req) {
  const auto op = unary_op(op_name);
  const Req rq = parse_req(req, "req");
  Floats f;
  Arr g = f.in(ograd, "ograd");
  auto xa = f.optional_in(x, "x"), ya = f.optional_in(y, "y");
  if (xa) expect_shape(*xa, g.shape, " (the shape of ograd)");
  if (ya) expect_shape(*ya, g.shape, " (the shape of ograd)");
  const auto need = ops::unary_grad_input(op);
  if (need == ops::UnaryGradInput::kInput && !xa)
    throw py::value_error("x is required: the gradient of " + op_name + " reads the input");
  if (need == ops::UnaryGradInput::kOutput && !ya)
    throw py::value_error("y is required: the gradient of " + op_name + " reads the output");
  auto gxa = f.grad(gx, "gx", rq, g.shape);
  check_overlap({opt_ptr(gxa)}, {&g, opt_ptr(xa), opt_ptr(ya)}, true);
  if (!gxa) return;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::unary_backward<T>(op, g.data<T>(), ptr_or_null<T>(xa), ptr_or_null<T>(ya), gxa->data<T>(),
                             rq, g.size);
    });
  });
}

// ---- sum / mean --------------------------------------------------------------------------------

ops::ReduceOp reduce_op(const std::string& op) {
  return parse_enum<ops::ReduceOp>(op, "op", {{"sum", ops::ReduceOp::kSum}, {"mean", ops::ReduceOp::kMean}});
}

std::vector<int> reduce_axes(const py::object& axes, int ndim) {
  std::vector<int> a;
  if (axes.is_none()) {
    for (int i = 0; i < ndim; ++i) a.push_back(i);
    return a;
  }
  if (py::isinstance<py::int_>(axes)) a.push_back(axes.cast<int>());
  else a = axes.cast<std::vector<int>>();
  try {
    return ops::normalize_axes(a, ndim);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

// out may keep the reduced axes as 1 or drop them ((), or (1,) as MXNet gives, when all go).
void check_reduced_shape(const Arr& out, const Shape& xshape, const std::vector<int>& axes,
                         const std::string& name) {
  Shape keep = xshape, drop;
  std::vector<bool> red(xshape.size(), false);
  for (int a : axes) red[a] = true;
  for (std::size_t d = 0; d < xshape.size(); ++d) {
    if (red[d]) keep[d] = 1;
    else drop.push_back(xshape[d]);
  }
  if (out.shape == keep || out.shape == drop || (drop.empty() && out.shape == Shape{1})) return;
  throw py::value_error(name + " has shape " + ops::shape_str(out.shape) + ", expected " +
                        ops::shape_str(keep) + " (keepdims) or " + ops::shape_str(drop));
}

void op_reduce(const std::string& op_name, const py::object& x, const py::object& out,
               const py::object& axes) {
  const auto op = reduce_op(op_name);
  Floats f;
  Arr a = f.in(x, "x");
  const auto ax = reduce_axes(axes, static_cast<int>(a.shape.size()));
  Arr o = f.out_unshaped(out, "out");
  check_reduced_shape(o, a.shape, ax, "out");
  check_overlap({&o}, {&a}, false);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::reduce_forward<T>(op, a.data<T>(), a.shape, ax, o.data<T>()); });
  });
}

void op_reduce_backward(const std::string& op_name, const py::object& ograd, const py::object& x,
                        const py::object& gx, const py::object& axes, int req,
                        bool mean_scales_accumulated) {
  const auto op = reduce_op(op_name);
  const Req rq = parse_req(req, "req");
  Floats f;
  Arr g = f.in(ograd, "ograd"), a = f.in(x, "x");
  const auto ax = reduce_axes(axes, static_cast<int>(a.shape.size()));
  check_reduced_shape(g, a.shape, ax, "ograd");
  auto gxa = f.grad(gx, "gx", rq, a.shape);
  check_overlap({opt_ptr(gxa)}, {&g}, false);
  if (!gxa) return;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::reduce_backward<T>(op, g.data<T>(), a.shape, ax, gxa->data<T>(), rq, mean_scales_accumulated);
    });
  });
}

// ---- softmax -----------------------------------------------------------------------------------

int checked_axis(int axis, std::size_t ndim, const std::string& name = "axis") {
  const int nd = static_cast<int>(ndim);
  if (nd == 0) throw py::value_error("the data must have at least one dimension");
  if (axis < -nd || axis >= nd)
    throw py::value_error(name + " " + std::to_string(axis) + " exceeds the input dimension of " +
                          std::to_string(nd));
  return axis;
}

double temperature_value(const py::object& t) {
  return t.is_none() ? 1.0 : t.cast<double>();
}

void op_softmax(const py::object& x, const py::object& out, int axis, const py::object& temperature,
                bool log) {
  Floats f;
  Arr a = f.in(x, "x");
  Arr o = f.out(out, "out", a.shape);
  checked_axis(axis, a.shape.size());
  check_overlap({&o}, {&a}, true);
  const double t = temperature_value(temperature);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::softmax_forward<T>(a.data<T>(), o.data<T>(), a.shape, axis, t, log); });
  });
}

void op_softmax_backward(const py::object& ograd, const py::object& y, const py::object& gx,
                         int axis, const py::object& temperature, bool log, int req) {
  const Req rq = parse_req(req, "req");
  Floats f;
  Arr g = f.in(ograd, "ograd"), ya = f.in(y, "y");
  expect_shape(ya, g.shape, " (the shape of ograd)");
  checked_axis(axis, g.shape.size());
  auto gxa = f.grad(gx, "gx", rq, g.shape);
  check_overlap({opt_ptr(gxa)}, {&g, &ya}, true);
  if (!gxa) return;
  const double t = temperature_value(temperature);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::softmax_backward<T>(g.data<T>(), ya.data<T>(), gxa->data<T>(), g.shape, axis, t, log, rq);
    });
  });
}

// ---- one_hot -----------------------------------------------------------------------------------

void op_one_hot(const py::object& indices, const py::object& out, std::int64_t depth,
                double on_value, double off_value) {
  if (depth < 0) throw py::value_error("depth must be a non-negative integer, got " + std::to_string(depth));
  py::array ia = as_array(indices, "indices");
  const IndexType it = index_type(ia, "indices");
  Arr idx = make_arr(ia, "indices", false);
  py::array oa = as_array(out, "out");
  const py::dtype odt = oa.dtype();
  Arr o = make_arr(oa, "out", true);
  expect_shape(o, appended(idx.shape, depth));
  check_overlap({&o}, {&idx}, false);
  auto go = [&](auto otag) {
    using O = decltype(otag);
    with_index(it, [&](auto itag) {
      using I = decltype(itag);
      run([&] { ops::one_hot<I, O>(idx.data<I>(), idx.size, depth, on_value, off_value, o.data<O>()); });
    });
  };
  if (odt.is(py::dtype::of<float>())) go(float{});
  else if (odt.is(py::dtype::of<double>())) go(double{});
  else if (odt.is(py::dtype::of<std::int32_t>())) go(std::int32_t{});
  else if (odt.is(py::dtype::of<std::int64_t>())) go(std::int64_t{});
  else throw py::type_error("out must be a float32, float64, int32 or int64 array, got dtype " + dtype_name(odt));
}

// ---- Embedding ---------------------------------------------------------------------------------

struct Indices {
  Arr arr;
  IndexType type;
};
Indices index_arg(const py::object& obj, const std::string& name) {
  py::array a = as_array(obj, name);
  const IndexType t = index_type(a, name);
  return {make_arr(a, name, false), t};
}

void op_embedding(const py::object& indices, const py::object& weight, const py::object& out) {
  Indices idx = index_arg(indices, "indices");
  Floats f;
  Arr w = f.in(weight, "weight");
  if (w.shape.size() != 2) throw py::value_error("weight must be two-dimensional, got shape " + ops::shape_str(w.shape));
  if (w.shape[0] == 0) throw py::value_error("weight must have at least one row, got shape " + ops::shape_str(w.shape));
  Arr o = f.out(out, "out", appended(idx.arr.shape, w.shape[1]));
  check_overlap({&o}, {&idx.arr, &w}, false);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    with_index(idx.type, [&](auto itag) {
      using I = decltype(itag);
      run([&] {
        ops::embedding_forward<I, T>(idx.arr.data<I>(), idx.arr.size, w.data<T>(), w.shape[0], w.shape[1],
                                     o.data<T>());
      });
    });
  });
}

void op_embedding_backward(const py::object& indices, const py::object& ograd, const py::object& gweight,
                           int req) {
  const Req rq = parse_req(req, "req");
  Indices idx = index_arg(indices, "indices");
  Floats f;
  Arr g = f.in(ograd, "ograd");
  if (g.shape.size() != idx.arr.shape.size() + 1 ||
      !std::equal(idx.arr.shape.begin(), idx.arr.shape.end(), g.shape.begin()))
    throw py::value_error("ograd has shape " + ops::shape_str(g.shape) + ", expected indices.shape + (output_dim,) = " +
                          ops::shape_str(idx.arr.shape) + " + (output_dim,)");
  const std::int64_t dim = g.shape.back();
  if (gweight.is_none()) {
    if (rq != Req::kNull) throw py::value_error("gweight is None but its req is not 0");
    return;
  }
  Arr gw = f.out_unshaped(gweight, "gweight");
  if (gw.shape.size() != 2 || gw.shape[1] != dim || gw.shape[0] == 0)
    throw py::value_error("gweight has shape " + ops::shape_str(gw.shape) + ", expected (input_dim, " +
                          std::to_string(dim) + ") with input_dim > 0");
  check_overlap({&gw}, {&idx.arr, &g}, false);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    with_index(idx.type, [&](auto itag) {
      using I = decltype(itag);
      run([&] {
        ops::embedding_backward<I, T>(idx.arr.data<I>(), idx.arr.size, g.data<T>(), gw.shape[0], dim,
                                      gw.data<T>(), rq);
      });
    });
  });
}

py::tuple op_embedding_backward_rsp(const py::object& indices, const py::object& ograd,
                                    std::int64_t input_dim) {
  Indices idx = index_arg(indices, "indices");
  Floats f;
  Arr g = f.in(ograd, "ograd");
  if (g.shape.size() != idx.arr.shape.size() + 1 ||
      !std::equal(idx.arr.shape.begin(), idx.arr.shape.end(), g.shape.begin()))
    throw py::value_error("ograd has shape " + ops::shape_str(g.shape) + ", expected indices.shape + (output_dim,) = " +
                          ops::shape_str(idx.arr.shape) + " + (output_dim,)");
  if (input_dim <= 0) throw py::value_error("input_dim must be positive, got " + std::to_string(input_dim));
  const std::int64_t dim = g.shape.back();
  ops::RowGroups groups;
  with_index(idx.type, [&](auto itag) {
    using I = decltype(itag);
    py::gil_scoped_release nogil;
    groups = ops::embedding_rsp_groups<I>(idx.arr.data<I>(), idx.arr.size, input_dim);
  });
  const auto nr = static_cast<py::ssize_t>(groups.rows.size());
  py::array_t<std::int64_t> rows(nr);
  std::copy(groups.rows.begin(), groups.rows.end(), rows.mutable_data());
  py::array values;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    py::array_t<T> v({nr, static_cast<py::ssize_t>(dim)});
    T* vp = v.mutable_data();
    run([&] { ops::embedding_backward_rsp<T>(groups, g.data<T>(), dim, vp); });
    values = v;
  });
  return py::make_tuple(rows, values);
}

// ---- Concat ------------------------------------------------------------------------------------

Shape checked_concat_shape(const std::vector<Shape>& shapes, int axis) {
  try {
    return ops::concat_shape(shapes, axis);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

void op_concat(const py::sequence& inputs, const py::object& out, int axis) {
  Floats f;
  std::vector<Arr> ins;
  std::vector<Shape> shapes;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    ins.push_back(f.in(inputs[i], "inputs[" + std::to_string(i) + "]"));
    shapes.push_back(ins.back().shape);
  }
  if (ins.empty()) throw py::value_error("inputs must hold at least one array");
  const Shape oshape = checked_concat_shape(shapes, axis);
  Arr o = f.out(out, "out", oshape);
  std::vector<const Arr*> in_ptrs;
  for (const auto& a : ins) in_ptrs.push_back(&a);
  check_overlap({&o}, in_ptrs, false);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    std::vector<const T*> ptrs;
    for (const auto& a : ins) ptrs.push_back(a.data<T>());
    run([&] { ops::concat_forward<T>(ptrs, shapes, axis, o.data<T>()); });
  });
}

void op_concat_backward(const py::object& ograd, const py::sequence& grads, const std::vector<int>& reqs,
                        int axis, const py::object& sizes) {
  Floats f;
  Arr g = f.in(ograd, "ograd");
  const std::size_t n = grads.size();
  if (n == 0) throw py::value_error("grads must hold one entry per input");
  if (reqs.size() != n)
    throw py::value_error("reqs has " + std::to_string(reqs.size()) + " entries for " + std::to_string(n) + " grads");
  const int nd = static_cast<int>(g.shape.size());
  checked_axis(axis, g.shape.size());
  const int a = axis < 0 ? axis + nd : axis;
  std::vector<Req> rq;
  for (std::size_t i = 0; i < n; ++i) rq.push_back(parse_req(reqs[i], "reqs[" + std::to_string(i) + "]"));
  // The size of every input along the axis: from `sizes`, from its gradient, or (for one
  // missing entry) from what remains of ograd's.
  std::vector<std::int64_t> mid(n, -1);
  if (!sizes.is_none()) {
    auto s = sizes.cast<std::vector<std::int64_t>>();
    if (s.size() != n) throw py::value_error("sizes must hold one entry per input");
    mid = s;
  }
  std::vector<std::optional<Arr>> gs(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string name = "grads[" + std::to_string(i) + "]";
    if (grads[i].is_none()) {
      if (rq[i] != Req::kNull) throw py::value_error(name + " is None but its req is not 0");
      continue;
    }
    gs[i] = f.out_unshaped(grads[i], name);
    if (static_cast<int>(gs[i]->shape.size()) != nd)
      throw py::value_error(name + " has shape " + ops::shape_str(gs[i]->shape) + ", incompatible with ograd " +
                            ops::shape_str(g.shape));
    if (mid[i] >= 0 && mid[i] != gs[i]->shape[a])
      throw py::value_error(name + " has size " + std::to_string(gs[i]->shape[a]) + " along the axis, sizes says " +
                            std::to_string(mid[i]));
    mid[i] = gs[i]->shape[a];
  }
  std::int64_t known = 0, missing = 0, at = -1;
  for (std::size_t i = 0; i < n; ++i) {
    if (mid[i] < 0) {
      ++missing;
      at = static_cast<std::int64_t>(i);
    } else {
      known += mid[i];
    }
  }
  if (missing > 1) throw py::value_error("sizes is required when more than one gradient is None");
  if (missing == 1) mid[at] = g.shape[a] - known;
  std::vector<Shape> shapes;
  for (std::size_t i = 0; i < n; ++i) {
    Shape s = g.shape;
    s[a] = mid[i];
    if (mid[i] < 0) throw py::value_error("the gradients are larger along the axis than ograd");
    shapes.push_back(s);
    if (gs[i]) expect_shape(*gs[i], s);
  }
  if (checked_concat_shape(shapes, axis) != g.shape)
    throw py::value_error("ograd has shape " + ops::shape_str(g.shape) + ", the inputs concatenate to " +
                          ops::shape_str(checked_concat_shape(shapes, axis)));
  std::vector<const Arr*> out_ptrs;
  for (const auto& x : gs) out_ptrs.push_back(opt_ptr(x));
  check_overlap(out_ptrs, {&g}, false);
  if (!f.known()) return;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    std::vector<T*> ptrs;
    for (const auto& x : gs) ptrs.push_back(ptr_or_null<T>(x));
    run([&] { ops::concat_backward<T>(g.data<T>(), shapes, axis, ptrs, rq); });
  });
}

// ---- LeakyReLU ---------------------------------------------------------------------------------

ops::LeakyReLUParam leaky_param(const std::string& act, float slope, float lower, float upper) {
  ops::LeakyReLUParam p;
  p.act = parse_enum<ops::LeakyAct>(act, "act_type",
                                    {{"leaky", ops::LeakyAct::kLeaky}, {"prelu", ops::LeakyAct::kPReLU},
                                     {"rrelu", ops::LeakyAct::kRReLU}, {"elu", ops::LeakyAct::kELU},
                                     {"selu", ops::LeakyAct::kSELU}, {"gelu", ops::LeakyAct::kGELU}});
  p.slope = slope;
  p.lower_bound = lower;
  p.upper_bound = upper;
  return p;
}

Shape checked_gamma_shape(const Arr& gamma, const Shape& data) {
  try {
    return ops::prelu_gamma_shape(gamma.shape, data);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

void op_leaky_relu(const std::string& act_type, const py::object& x, const py::object& gamma,
                   const py::object& out, float slope, float lower_bound, float upper_bound,
                   const py::object& uniform, const py::object& mask) {
  const auto p = leaky_param(act_type, slope, lower_bound, upper_bound);
  Floats f;
  Arr a = f.in(x, "x");
  if (a.shape.empty()) throw py::value_error("x must have at least one dimension");
  std::optional<Arr> g, u, m;
  if (p.act == ops::LeakyAct::kPReLU) {
    if (gamma.is_none()) throw py::value_error("gamma is required for act_type 'prelu'");
    g = f.in(gamma, "gamma");
    checked_gamma_shape(*g, a.shape);
  }
  if (p.act == ops::LeakyAct::kRReLU && !uniform.is_none()) {
    u = f.in(uniform, "uniform");
    expect_shape(*u, a.shape, " (the shape of x)");
    if (mask.is_none()) throw py::value_error("mask is required when uniform is given (rrelu training)");
    m = f.out(mask, "mask", a.shape);
  }
  Arr o = f.out(out, "out", a.shape);
  check_overlap({&o, opt_ptr(m)}, {&a, opt_ptr(g), opt_ptr(u)}, true);
  if (g) check_overlap({&o}, {&*g}, false);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::leaky_relu_forward<T>(p, a.data<T>(), a.shape, ptr_or_null<T>(g), g ? g->shape : Shape{},
                                 ptr_or_null<T>(u), ptr_or_null<T>(m), o.data<T>());
    });
  });
}

void op_leaky_relu_backward(const std::string& act_type, const py::object& ograd, const py::object& x,
                            const py::object& y, const py::object& gx, int req, const py::object& gamma,
                            const py::object& ggamma, int greq, const py::object& mask, float slope,
                            float lower_bound, float upper_bound) {
  const auto p = leaky_param(act_type, slope, lower_bound, upper_bound);
  const Req rq = parse_req(req, "req"), grq = parse_req(greq, "greq");
  Floats f;
  Arr g = f.in(ograd, "ograd");
  if (g.shape.empty()) throw py::value_error("ograd must have at least one dimension");
  auto xa = f.optional_in(x, "x"), ya = f.optional_in(y, "y");
  if (xa) expect_shape(*xa, g.shape, " (the shape of ograd)");
  if (ya) expect_shape(*ya, g.shape, " (the shape of ograd)");
  const bool reads_x = p.act == ops::LeakyAct::kPReLU || p.act == ops::LeakyAct::kGELU;
  if (reads_x && !xa) throw py::value_error("x is required: the gradient of '" + act_type + "' reads the input");
  if (!reads_x && !ya) throw py::value_error("y is required: the gradient of '" + act_type + "' reads the output");
  std::optional<Arr> ga, gg, ma;
  if (p.act == ops::LeakyAct::kPReLU) {
    if (gamma.is_none()) throw py::value_error("gamma is required for act_type 'prelu'");
    ga = f.in(gamma, "gamma");
    checked_gamma_shape(*ga, g.shape);
    gg = f.grad(ggamma, "ggamma", grq, ga->shape);
  } else if (!ggamma.is_none() || grq != Req::kNull) {
    throw py::value_error("ggamma/greq apply to act_type 'prelu' only");
  }
  if (p.act == ops::LeakyAct::kRReLU && !mask.is_none()) {
    ma = f.in(mask, "mask");
    expect_shape(*ma, g.shape, " (the shape of ograd)");
  }
  auto gxa = f.grad(gx, "gx", rq, g.shape);
  // prelu's gamma gradient is a reduction: nothing may overlap it.
  check_overlap({opt_ptr(gxa)}, {&g, opt_ptr(xa), opt_ptr(ya), opt_ptr(ma)}, p.act != ops::LeakyAct::kPReLU);
  check_overlap({opt_ptr(gxa), opt_ptr(gg)}, {opt_ptr(ga)}, false);
  check_overlap({opt_ptr(gg)}, {&g, opt_ptr(xa)}, false);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::leaky_relu_backward<T>(p, g.data<T>(), ptr_or_null<T>(xa), ptr_or_null<T>(ya), g.shape,
                                  ptr_or_null<T>(ga), ga ? ga->shape : Shape{}, ptr_or_null<T>(ma),
                                  ptr_or_null<T>(gxa), rq, ptr_or_null<T>(gg), grq);
    });
  });
}

// ---- CSR sparse dot ----------------------------------------------------------------------------

struct Csr {
  Arr data, indices, indptr;
  std::int64_t rows, cols;
};

Csr csr_args(Floats& f, const py::object& data, const py::object& indices, const py::object& indptr,
             const std::vector<std::int64_t>& csr_shape) {
  if (csr_shape.size() != 2 || csr_shape[0] < 0 || csr_shape[1] < 0)
    throw py::value_error("csr_shape must be a (rows, cols) pair of non-negative integers");
  Csr c{f.in(data, "data"), int64_vector(indices, "indices"), int64_vector(indptr, "indptr"),
        csr_shape[0], csr_shape[1]};
  if (c.data.shape.size() != 1)
    throw py::value_error("data must be one-dimensional, got shape " + ops::shape_str(c.data.shape));
  if (c.indices.size != c.data.size)
    throw py::value_error("indices has " + std::to_string(c.indices.size) + " entries, data has " +
                          std::to_string(c.data.size));
  if (c.indptr.size != c.rows + 1)
    throw py::value_error("indptr has " + std::to_string(c.indptr.size) + " entries, expected rows + 1 = " +
                          std::to_string(c.rows + 1));
  try {
    py::gil_scoped_release nogil;
    ops::validate_csr(c.indices.data<std::int64_t>(), c.indptr.data<std::int64_t>(), c.rows, c.cols,
                      c.indices.size);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
  return c;
}

template <class T>
ops::CsrMatrix<T> csr_view(const Csr& c) {
  ops::CsrMatrix<T> m;
  m.data = c.data.data<T>();
  m.indices = c.indices.data<std::int64_t>();
  m.indptr = c.indptr.data<std::int64_t>();
  m.rows = c.rows;
  m.cols = c.cols;
  m.nnz = c.indices.size;
  return m;
}

void op_csr_dot(const py::object& data, const py::object& indices, const py::object& indptr,
                const std::vector<std::int64_t>& csr_shape, const py::object& rhs, const py::object& out,
                bool transpose_a, int req) {
  const Req rq = parse_req(req, "req");
  Floats f;
  Csr c = csr_args(f, data, indices, indptr, csr_shape);
  Arr r = f.in(rhs, "rhs");
  const std::int64_t inner = transpose_a ? c.rows : c.cols, outer = transpose_a ? c.cols : c.rows;
  if (r.shape.size() != 2 || r.shape[0] != inner)
    throw py::value_error("rhs has shape " + ops::shape_str(r.shape) + ", expected (" + std::to_string(inner) +
                          ", k) for a " + std::to_string(c.rows) + "x" + std::to_string(c.cols) + " csr" +
                          (transpose_a ? " transposed" : ""));
  Arr o = f.out(out, "out", {outer, r.shape[1]});
  check_overlap({&o}, {&c.data, &c.indices, &c.indptr, &r}, false);
  if (rq == Req::kNull) return;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::csr_dot<T>(csr_view<T>(c), r.data<T>(), r.shape[1], transpose_a, o.data<T>(), rq); });
  });
}

// A numpy array owning a C++ vector (no copy).
template <class V>
py::array vector_to_numpy(std::unique_ptr<V> v, std::vector<py::ssize_t> shape) {
  auto* raw = v.release();
  py::capsule owner(raw, [](void* p) { delete static_cast<V*>(p); });
  return py::array_t<typename V::value_type>(shape, raw->data(), owner);
}

py::tuple op_csr_t_dot_rsp(const py::object& data, const py::object& indices, const py::object& indptr,
                           const std::vector<std::int64_t>& csr_shape, const py::object& rhs) {
  Floats f;
  Csr c = csr_args(f, data, indices, indptr, csr_shape);
  Arr r = f.in(rhs, "rhs");
  if (r.shape.size() != 2 || r.shape[0] != c.rows)
    throw py::value_error("rhs has shape " + ops::shape_str(r.shape) + ", expected (" + std::to_string(c.rows) +
                          ", k) (rows of the csr)");
  const std::int64_t k = r.shape[1];
  py::object rows_out, values_out;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    const auto m = csr_view<T>(c);
    auto rows = std::make_unique<std::vector<std::int64_t>>();
    auto values = std::make_unique<std::vector<T>>();
    run([&] { ops::csr_t_dot_rsp_direct<T>(m, r.data<T>(), k, rows.get(), values.get()); });
    const auto nr = static_cast<py::ssize_t>(rows->size());
    rows_out = vector_to_numpy(std::move(rows), {nr});
    values_out = vector_to_numpy(std::move(values), {nr, static_cast<py::ssize_t>(k)});
  });
  return py::make_tuple(rows_out, values_out);
}

// ---- the kernels of mxopt/ops.h ----------------------------------------------------------------

void op_fully_connected(const py::object& x, const py::object& w, const py::object& bias,
                        const py::object& out, bool flatten) {
  Floats f;
  Arr a = f.in(x, "x"), wa = f.in(w, "w");
  auto b = f.optional_in(bias, "bias");
  if (a.shape.empty()) throw py::value_error("x must have at least one dimension");
  if (wa.shape.size() != 2) throw py::value_error("w must be two-dimensional, got shape " + ops::shape_str(wa.shape));
  const std::int64_t n = wa.shape[0];
  const std::int64_t k = flatten ? ops::shape_size(Shape(a.shape.begin() + 1, a.shape.end())) : a.shape.back();
  const std::int64_t m = k ? a.size / k : (flatten ? a.shape[0] : ops::shape_size(Shape(a.shape.begin(), a.shape.end() - 1)));
  if (wa.shape[1] != k)
    throw py::value_error("w has shape " + ops::shape_str(wa.shape) + ", expected (num_hidden, " + std::to_string(k) + ")");
  if (b) expect_shape(*b, {n});
  Shape oshape = flatten ? Shape{a.shape[0], n} : a.shape;
  if (!flatten) oshape.back() = n;
  Arr o = f.out(out, "out", oshape);
  check_overlap({&o}, {&a, &wa, opt_ptr(b)}, false);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::fully_connected_forward<T>(a.data<T>(), wa.data<T>(), ptr_or_null<T>(b), o.data<T>(), m, k, n); });
  });
}

void op_fully_connected_backward(const py::object& ograd, const py::object& x, const py::object& w,
                                 const py::object& gx, int req_x, const py::object& gw, int req_w,
                                 const py::object& gbias, int req_b, bool flatten) {
  const Req rx = parse_req(req_x, "req_x"), rw = parse_req(req_w, "req_w"), rb = parse_req(req_b, "req_b");
  Floats f;
  Arr g = f.in(ograd, "ograd"), a = f.in(x, "x"), wa = f.in(w, "w");
  if (a.shape.empty()) throw py::value_error("x must have at least one dimension");
  if (wa.shape.size() != 2) throw py::value_error("w must be two-dimensional, got shape " + ops::shape_str(wa.shape));
  const std::int64_t n = wa.shape[0];
  const std::int64_t k = flatten ? ops::shape_size(Shape(a.shape.begin() + 1, a.shape.end())) : a.shape.back();
  const std::int64_t m = k ? a.size / k : (flatten ? a.shape[0] : ops::shape_size(Shape(a.shape.begin(), a.shape.end() - 1)));
  if (wa.shape[1] != k)
    throw py::value_error("w has shape " + ops::shape_str(wa.shape) + ", expected (num_hidden, " + std::to_string(k) + ")");
  Shape oshape = flatten ? Shape{a.shape[0], n} : a.shape;
  if (!flatten) oshape.back() = n;
  expect_shape(g, oshape);
  auto gxa = f.grad(gx, "gx", rx, a.shape), gwa = f.grad(gw, "gw", rw, wa.shape);
  auto gba = f.grad(gbias, "gbias", rb, {n});
  check_overlap({opt_ptr(gxa), opt_ptr(gwa), opt_ptr(gba)}, {&g, &a, &wa}, false);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::fully_connected_backward<T>(g.data<T>(), a.data<T>(), wa.data<T>(), m, k, n, ptr_or_null<T>(gxa), rx,
                                       ptr_or_null<T>(gwa), rw, ptr_or_null<T>(gba), rb);
    });
  });
}

ops::ActType act_type(const std::string& a) {
  return parse_enum<ops::ActType>(a, "act_type",
                                  {{"relu", ops::ActType::kRelu}, {"sigmoid", ops::ActType::kSigmoid},
                                   {"tanh", ops::ActType::kTanh}, {"softrelu", ops::ActType::kSoftRelu},
                                   {"softsign", ops::ActType::kSoftSign}});
}

void op_activation(const std::string& act, const py::object& x, const py::object& out) {
  const auto t = act_type(act);
  Floats f;
  Arr a = f.in(x, "x");
  Arr o = f.out(out, "out", a.shape);
  check_overlap({&o}, {&a}, true);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::activation_forward<T>(t, a.data<T>(), o.data<T>(), a.size); });
  });
}

void op_activation_backward(const std::string& act, const py::object& ograd, const py::object& x,
                            const py::object& y, const py::object& gx, int req) {
  const auto t = act_type(act);
  const Req rq = parse_req(req, "req");
  Floats f;
  Arr g = f.in(ograd, "ograd");
  auto xa = f.optional_in(x, "x"), ya = f.optional_in(y, "y");
  if (xa) expect_shape(*xa, g.shape, " (the shape of ograd)");
  if (ya) expect_shape(*ya, g.shape, " (the shape of ograd)");
  const bool reads_x = t == ops::ActType::kSoftSign;
  if (reads_x && !xa) throw py::value_error("x is required: the gradient of 'softsign' reads the input");
  if (!reads_x && !ya) throw py::value_error("y is required: the gradient of '" + act + "' reads the output");
  auto gxa = f.grad(gx, "gx", rq, g.shape);
  check_overlap({opt_ptr(gxa)}, {&g, opt_ptr(xa), opt_ptr(ya)}, true);
  if (!gxa) return;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::activation_backward<T>(t, g.data<T>(), reads_x ? xa->data<T>() : nullptr,
                                  reads_x ? nullptr : ya->data<T>(), gxa->data<T>(), rq, g.size);
    });
  });
}

void op_dropout(float p, const py::object& uniform, const py::object& x, const py::object& out,
                const py::object& mask) {
  if (!(p >= 0.0f && p <= 1.0f)) throw py::value_error("p must lie in [0, 1], got " + std::to_string(p));
  py::array ua = as_array(uniform, "uniform");
  if (!ua.dtype().is(py::dtype::of<float>()))
    throw py::type_error("uniform must be a float32 array, got dtype " + dtype_name(ua.dtype()));
  Arr u = make_arr(ua, "uniform", false);
  Floats f;
  Arr a = f.in(x, "x");
  if (u.size != a.size)
    throw py::value_error("uniform has " + std::to_string(u.size) + " draws for " + std::to_string(a.size) +
                          " elements of x");
  Arr o = f.out(out, "out", a.shape), m = f.out(mask, "mask", a.shape);
  check_overlap({&o, &m}, {&a}, true);
  check_overlap({&o, &m}, {&u}, false);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::dropout_forward<T>(p, u.data<float>(), a.data<T>(), o.data<T>(), m.data<T>(), a.size); });
  });
}

void op_dropout_backward(const py::object& ograd, const py::object& mask, const py::object& gx, int req) {
  const Req rq = parse_req(req, "req");
  Floats f;
  Arr g = f.in(ograd, "ograd"), m = f.in(mask, "mask");
  expect_shape(m, g.shape, " (the shape of ograd)");
  auto gxa = f.grad(gx, "gx", rq, g.shape);
  check_overlap({opt_ptr(gxa)}, {&g, &m}, true);
  if (!gxa) return;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::dropout_backward<T>(g.data<T>(), m.data<T>(), gxa->data<T>(), rq, g.size); });
  });
}

ops::SoftmaxOutputParam softmax_output_param(float grad_scale, float ignore_label, bool multi_output,
                                             bool use_ignore, bool preserve_shape,
                                             const std::string& normalization, float smooth_alpha) {
  ops::SoftmaxOutputParam p;
  p.grad_scale = grad_scale;
  p.ignore_label = ignore_label;
  p.multi_output = multi_output;
  p.use_ignore = use_ignore;
  p.preserve_shape = preserve_shape;
  p.normalization = parse_enum<ops::Normalization>(normalization, "normalization",
                                                   {{"null", ops::Normalization::kNull},
                                                    {"batch", ops::Normalization::kBatch},
                                                    {"valid", ops::Normalization::kValid}});
  p.smooth_alpha = smooth_alpha;
  return p;
}

void op_softmax_output(const py::object& x, const py::object& out, float grad_scale, float ignore_label,
                       bool multi_output, bool use_ignore, bool preserve_shape,
                       const std::string& normalization, float smooth_alpha) {
  const auto p = softmax_output_param(grad_scale, ignore_label, multi_output, use_ignore, preserve_shape,
                                      normalization, smooth_alpha);
  Floats f;
  Arr a = f.in(x, "x");
  if (a.shape.empty()) throw py::value_error("x must have at least one dimension");
  Arr o = f.out(out, "out", a.shape);
  check_overlap({&o}, {&a}, true);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::softmax_output_forward<T>(p, a.data<T>(), o.data<T>(), a.shape); });
  });
}

void op_softmax_output_backward(const py::object& out, const py::object& label, const py::object& gx, int req,
                                float grad_scale, float ignore_label, bool multi_output, bool use_ignore,
                                bool preserve_shape, const std::string& normalization, float smooth_alpha) {
  const auto p = softmax_output_param(grad_scale, ignore_label, multi_output, use_ignore, preserve_shape,
                                      normalization, smooth_alpha);
  const Req rq = parse_req(req, "req");
  Floats f;
  Arr y = f.in(out, "out"), l = f.in(label, "label");
  if (y.shape.empty()) throw py::value_error("out must have at least one dimension");
  // Rows (positions) that read a label: as in ops::softmax_output_backward.
  std::int64_t need = 0;
  if (l.shape != y.shape && y.size > 0) {
    if (p.multi_output) need = y.size / (y.shape.size() > 1 ? y.shape[1] : 1);
    else if (p.preserve_shape) need = y.size / y.shape.back();
    else need = y.shape[0];
    if (l.size < need)
      throw py::value_error("label has shape " + ops::shape_str(l.shape) + " (" + std::to_string(l.size) +
                            " values), at least " + std::to_string(need) + " are needed for out " +
                            ops::shape_str(y.shape));
  }
  auto gxa = f.grad(gx, "gx", rq, y.shape);
  check_overlap({opt_ptr(gxa)}, {&y, &l}, false);
  if (!gxa) return;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::softmax_output_backward<T>(p, y.data<T>(), l.data<T>(), y.shape, l.shape, gxa->data<T>(), rq); });
  });
}

ops::RegressionType regression_type(const std::string& t) {
  return parse_enum<ops::RegressionType>(t, "type",
                                         {{"linear", ops::RegressionType::kLinear},
                                          {"logistic", ops::RegressionType::kLogistic},
                                          {"mae", ops::RegressionType::kMAE}});
}

void op_regression(const std::string& type, const py::object& x, const py::object& out) {
  const auto t = regression_type(type);
  Floats f;
  Arr a = f.in(x, "x");
  Arr o = f.out(out, "out", a.shape);
  check_overlap({&o}, {&a}, true);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] { ops::regression_forward<T>(t, a.data<T>(), o.data<T>(), a.size); });
  });
}

void op_regression_backward(const std::string& type, const py::object& out, const py::object& label,
                            const py::object& gx, int req, float grad_scale) {
  const auto t = regression_type(type);
  const Req rq = parse_req(req, "req");
  Floats f;
  Arr y = f.in(out, "out"), l = f.in(label, "label");
  if (l.size != y.size || l.shape.empty())
    throw py::value_error("label has shape " + ops::shape_str(l.shape) + ", expected as many values as out " +
                          ops::shape_str(y.shape));
  auto gxa = f.grad(gx, "gx", rq, y.shape);
  check_overlap({opt_ptr(gxa)}, {&y, &l}, true);
  if (!gxa) return;
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::regression_backward<T>(t, grad_scale, y.data<T>(), l.data<T>(), y.size, l.shape[0], gxa->data<T>(), rq);
    });
  });
}

// ---- copy (identity operators, head gradients) --------------------------------------------------
// Shapes may differ (Flatten, Reshape): the element counts must match.
void op_copy(const py::object& src, const py::object& dst, int req) {
  const Req r = parse_req(req, "req");
  Floats f;
  Arr a = f.in(src, "src");
  if (r == Req::kNull) return;
  if (dst.is_none()) throw py::value_error("dst is None but its req is not null");
  auto o = std::optional<Arr>(f.out_unshaped(dst, "dst"));
  if (o->size != a.size)
    throw py::value_error("dst has shape " + ops::shape_str(o->shape) + " (" + std::to_string(o->size) +
                          " elements), src has shape " + ops::shape_str(a.shape));
  if (overlaps(*o, a) && !same_buffer(*o, a)) throw py::value_error("dst overlaps src in memory");
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    if (o->ptr == a.ptr && r == Req::kWrite) return;
    run([&] { ops::assign<T>(a.data<T>(), o->data<T>(), r, a.size); });
  });
}

// ---- BatchNorm -----------------------------------------------------------------------------------
struct BnDims {
  std::int64_t outer = 1, channels = 1, inner = 1;
};

BnDims bn_dims(const Shape& s, int axis) {
  const int nd = static_cast<int>(s.size());
  if (nd == 0) throw py::value_error("x must have at least one dimension");
  const int a = axis < 0 ? axis + nd : axis;
  if (a < 0 || a >= nd) throw py::value_error("Channel axis out of range: " + std::to_string(axis));
  BnDims d;
  for (int i = 0; i < a; ++i) d.outer *= s[i];
  d.channels = s[a];
  for (int i = a + 1; i < nd; ++i) d.inner *= s[i];
  return d;
}

ops::BatchNormParam bn_param(double eps, float momentum, bool fix_gamma, bool use_global_stats) {
  ops::BatchNormParam p;
  p.eps = eps;
  p.momentum = momentum;
  p.fix_gamma = fix_gamma;
  p.use_global_stats = use_global_stats;
  return p;
}

void op_batch_norm(double eps, float momentum, bool fix_gamma, bool use_global_stats,
                   bool is_train, int axis, const py::object& x, const py::object& gamma,
                   const py::object& beta, const py::object& moving_mean,
                   const py::object& moving_var, const py::object& out, const py::object& mean,
                   const py::object& var) {
  Floats f;
  Arr a = f.in(x, "x");
  const BnDims d = bn_dims(a.shape, axis);
  const Shape c{d.channels};
  Arr g = fix_gamma ? f.out(gamma, "gamma", c) : f.in(gamma, "gamma");  // fix_gamma writes 1
  expect_shape(g, c);
  Arr b = f.in(beta, "beta"), mm = f.in(moving_mean, "moving_mean"), mv = f.in(moving_var, "moving_var");
  expect_shape(b, c);
  expect_shape(mm, c);
  expect_shape(mv, c);
  Arr o = f.out(out, "out", a.shape), me = f.out(mean, "mean", c), va = f.out(var, "var", c);
  check_overlap({&o, &me, &va}, {&a, &g, &b, &mm, &mv}, false);
  const auto p = bn_param(eps, momentum, fix_gamma, use_global_stats);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::batch_norm_forward<T>(p, is_train, a.data<T>(), g.data<T>(), b.data<T>(), mm.data<T>(),
                                 mv.data<T>(), o.data<T>(), me.data<T>(), va.data<T>(), d.outer,
                                 d.channels, d.inner);
    });
  });
}

void op_batch_norm_backward(double eps, float momentum, bool fix_gamma, bool use_global_stats,
                            bool is_train, int axis, const py::object& ograd, const py::object& x,
                            const py::object& gamma, const py::object& mean, const py::object& var,
                            const py::object& moving_mean, const py::object& moving_var,
                            const py::object& gx, int req_x, const py::object& ggamma, int req_g,
                            const py::object& gbeta, int req_b) {
  const Req rx = parse_req(req_x, "req_x"), rg = parse_req(req_g, "req_gamma"),
            rb = parse_req(req_b, "req_beta");
  Floats f;
  Arr a = f.in(x, "x");
  const BnDims d = bn_dims(a.shape, axis);
  const Shape c{d.channels};
  Arr og = f.in(ograd, "ograd"), g = f.in(gamma, "gamma"), me = f.in(mean, "mean"),
      va = f.in(var, "var");
  expect_shape(og, a.shape);
  expect_shape(g, c);
  expect_shape(me, c);
  expect_shape(va, c);
  Arr mm = f.out(moving_mean, "moving_mean", c), mv = f.out(moving_var, "moving_var", c);
  auto gxa = f.grad(gx, "gx", rx, a.shape);
  auto gga = f.grad(ggamma, "ggamma", rg, c);
  auto gba = f.grad(gbeta, "gbeta", rb, c);
  check_overlap({&mm, &mv, opt_ptr(gxa), opt_ptr(gga), opt_ptr(gba)}, {&a, &og, &g, &me, &va}, false);
  const auto p = bn_param(eps, momentum, fix_gamma, use_global_stats);
  with_float(f.type(), [&](auto tag) {
    using T = decltype(tag);
    run([&] {
      ops::batch_norm_backward<T>(p, is_train, og.data<T>(), a.data<T>(), g.data<T>(), me.data<T>(),
                                  va.data<T>(), mm.data<T>(), mv.data<T>(), ptr_or_null<T>(gxa), rx,
                                  ptr_or_null<T>(gga), rg, ptr_or_null<T>(gba), rb, d.outer,
                                  d.channels, d.inner);
    });
  });
}

}  // namespace

void register_ops(py::module_& m) {
  using py::arg;
  const py::none none;
  m.def("op_broadcast", &op_broadcast, arg("op"), arg("lhs"), arg("rhs"), arg("out"),
        "out = lhs <op> rhs with MXNet's broadcasting (op: add, sub, mul, div, maximum, minimum, power).");
  m.def("op_broadcast_backward", &op_broadcast_backward, arg("op"), arg("ograd"), arg("lhs"), arg("rhs"),
        arg("glhs"), arg("req_l"), arg("grhs"), arg("req_r"),
        "Gradients of op_broadcast, summed (Kahan) over each operand's broadcast axes.");
  m.def("op_unary", &op_unary, arg("op"), arg("x"), arg("out"),
        "out = op(x) (exp, log, sqrt, rsqrt, square, abs, sign, negative, reciprocal).");
  m.def("op_unary_backward", &op_unary_backward, arg("op"), arg("ograd"), arg("x"), arg("y"), arg("gx"),
        arg("req"), "gx (req) = ograd * op'(.), reading x or y as MXNet's gradient does.");
  m.def("op_reduce", &op_reduce, arg("op"), arg("x"), arg("out"), arg("axes") = none,
        "out = sum or mean of x over axes (None: all); out keeps them as 1 or drops them.");
  m.def("op_reduce_backward", &op_reduce_backward, arg("op"), arg("ograd"), arg("x"), arg("gx"),
        arg("axes") = none, arg("req") = 1, arg("mean_scales_accumulated") = false,
        "gx (req) = broadcast(ograd) (/ count for mean); mean_scales_accumulated reproduces MXNet's "
        "(gx + ograd) / count for req 3.");
  m.def("op_softmax", &op_softmax, arg("x"), arg("out"), arg("axis") = -1, arg("temperature") = none,
        arg("log") = false, "softmax (log=False) or log_softmax (log=True) of x along axis.");
  m.def("op_softmax_backward", &op_softmax_backward, arg("ograd"), arg("y"), arg("gx"), arg("axis") = -1,
        arg("temperature") = none, arg("log") = false, arg("req") = 1,
        "Gradient of softmax/log_softmax from its output y.");
  m.def("op_one_hot", &op_one_hot, arg("indices"), arg("out"), arg("depth"), arg("on_value") = 1.0,
        arg("off_value") = 0.0, "out (indices.shape + (depth,)) = one_hot(indices).");
  m.def("op_embedding", &op_embedding, arg("indices"), arg("weight"), arg("out"),
        "out = weight[clip(indices)] (Embedding forward).");
  m.def("op_embedding_backward", &op_embedding_backward, arg("indices"), arg("ograd"), arg("gweight"),
        arg("req") = 1, "Dense Embedding weight gradient (rows accumulated in index order).");
  m.def("op_embedding_backward_rsp", &op_embedding_backward_rsp, arg("indices"), arg("ograd"),
        arg("input_dim"),
        "Row-sparse Embedding weight gradient (sparse_grad=True): (rows int64 sorted, values).");
  m.def("op_concat", &op_concat, arg("inputs"), arg("out"), arg("axis") = 1, "Concat along axis.");
  m.def("op_concat_backward", &op_concat_backward, arg("ograd"), arg("grads"), arg("reqs"), arg("axis") = 1,
        arg("sizes") = none, "Split ograd into grads (None allowed with req 0) along axis.");
  m.def("op_leaky_relu", &op_leaky_relu, arg("act_type"), arg("x"), arg("gamma"), arg("out"),
        arg("slope") = 0.25f, arg("lower_bound") = 0.125f, arg("upper_bound") = 0.334f,
        arg("uniform") = none, arg("mask") = none,
        "LeakyReLU forward (leaky, prelu, rrelu, elu, selu, gelu); rrelu trains when uniform is given.");
  m.def("op_leaky_relu_backward", &op_leaky_relu_backward, arg("act_type"), arg("ograd"), arg("x"),
        arg("y"), arg("gx"), arg("req"), arg("gamma") = none, arg("ggamma") = none, arg("greq") = 0,
        arg("mask") = none, arg("slope") = 0.25f, arg("lower_bound") = 0.125f,
        arg("upper_bound") = 0.334f, "LeakyReLU backward (gamma gradient for prelu).");
  m.def("op_csr_dot", &op_csr_dot, arg("data"), arg("indices"), arg("indptr"), arg("csr_shape"),
        arg("rhs"), arg("out"), arg("transpose_a") = false, arg("req") = 1,
        "out = csr x rhs or csr^T x rhs (dense), CSR given as (data, indices, indptr, shape).");
  m.def("op_csr_t_dot_rsp", &op_csr_t_dot_rsp, arg("data"), arg("indices"), arg("indptr"),
        arg("csr_shape"), arg("rhs"),
        "csr^T x rhs as row_sparse (rows int64 sorted, values): dot(csr, W)'s weight gradient.");
  m.def("op_fully_connected", &op_fully_connected, arg("x"), arg("w"), arg("bias"), arg("out"),
        arg("flatten") = true, "FullyConnected forward: out = x w^T + bias.");
  m.def("op_fully_connected_backward", &op_fully_connected_backward, arg("ograd"), arg("x"), arg("w"),
        arg("gx"), arg("req_x"), arg("gw"), arg("req_w"), arg("gbias") = none, arg("req_b") = 0,
        arg("flatten") = true, "FullyConnected backward.");
  m.def("op_activation", &op_activation, arg("act_type"), arg("x"), arg("out"),
        "Activation forward (relu, sigmoid, tanh, softrelu, softsign).");
  m.def("op_activation_backward", &op_activation_backward, arg("act_type"), arg("ograd"), arg("x"),
        arg("y"), arg("gx"), arg("req"), "Activation backward (softsign reads x, the others y).");
  m.def("op_dropout", &op_dropout, arg("p"), arg("uniform"), arg("x"), arg("out"), arg("mask"),
        "Dropout forward from float32 uniform draws: mask = (u < 1-p) / (1-p), out = x * mask.");
  m.def("op_dropout_backward", &op_dropout_backward, arg("ograd"), arg("mask"), arg("gx"), arg("req"),
        "Dropout backward: gx = ograd * mask.");
  m.def("op_softmax_output", &op_softmax_output, arg("x"), arg("out"), arg("grad_scale") = 1.0f,
        arg("ignore_label") = -1.0f, arg("multi_output") = false, arg("use_ignore") = false,
        arg("preserve_shape") = false, arg("normalization") = "null", arg("smooth_alpha") = 0.0f,
        "SoftmaxOutput forward.");
  m.def("op_softmax_output_backward", &op_softmax_output_backward, arg("out"), arg("label"), arg("gx"),
        arg("req"), arg("grad_scale") = 1.0f, arg("ignore_label") = -1.0f, arg("multi_output") = false,
        arg("use_ignore") = false, arg("preserve_shape") = false, arg("normalization") = "null",
        arg("smooth_alpha") = 0.0f, "SoftmaxOutput backward (from its output and the label).");
  m.def("gemm_isa", &ops::gemm_isa, "Instruction set of the FullyConnected GEMM kernels in use.");
  m.def("op_copy", &op_copy, arg("src"), arg("dst"), arg("req"),
        "dst = src (req 1) or dst += src (req 3): identity operators and head gradients.");
  m.def("op_batch_norm", &op_batch_norm, arg("eps"), arg("momentum"), arg("fix_gamma"),
        arg("use_global_stats"), arg("is_train"), arg("axis"), arg("x"), arg("gamma"), arg("beta"),
        arg("moving_mean"), arg("moving_var"), arg("out"), arg("mean"), arg("var"),
        "BatchNorm forward (var receives the inverse std; fix_gamma writes 1 into gamma).");
  m.def("op_batch_norm_backward", &op_batch_norm_backward, arg("eps"), arg("momentum"),
        arg("fix_gamma"), arg("use_global_stats"), arg("is_train"), arg("axis"), arg("ograd"),
        arg("x"), arg("gamma"), arg("mean"), arg("var"), arg("moving_mean"), arg("moving_var"),
        arg("gx"), arg("req_x"), arg("ggamma"), arg("req_gamma"), arg("gbeta"), arg("req_beta"),
        "BatchNorm backward; in training it also updates the moving statistics (MXNet 1.9.1).");
  m.def("op_regression", &op_regression, arg("type"), arg("x"), arg("out"),
        "Linear/Logistic/MAE RegressionOutput forward (type: linear, logistic, mae).");
  m.def("op_regression_backward", &op_regression_backward, arg("type"), arg("out"), arg("label"),
        arg("gx"), arg("req"), arg("grad_scale") = 1.0f, "RegressionOutput backward.");
}

}  // namespace mxopt::bindings
