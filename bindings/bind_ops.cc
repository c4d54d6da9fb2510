// Binds the tensor operator kernels (mxopt/tensor_ops.h) as plain functions on numpy buffers,
// one per operator and direction: `_core.op_<name>(...)` and `_core.op_<name>_backward(...)`
// (the neural-network layers of mxopt/ops.h are in bind_nn.cc; both check their arguments with
// array_args.h).
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

#include "array_args.h"
#include "bindings.h"
#include "mxopt/ops.h"
#include "mxopt/tensor_ops.h"

namespace py = pybind11;

namespace mxopt::bindings {
namespace {

using namespace args;  // NOLINT: the argument-checking vocabulary of the operator bindings

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
  return c;  // (the kernels check indptr and indices before they read through them)
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
}

}  // namespace mxopt::bindings
