// Binds the neural-network kernels of mxopt/ops.h (FullyConnected, Activation, Dropout,
// SoftmaxOutput, the regression outputs, BatchNorm, copy) as plain functions on numpy buffers:
// `_core.op_<name>(...)` / `_core.op_<name>_backward(...)`, with the argument rules of
// bind_ops.cc (array_args.h).
#include <optional>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "array_args.h"
#include "bindings.h"
#include "mxopt/ops.h"

namespace py = pybind11;

namespace mxopt::bindings {
namespace {

using namespace args;  // NOLINT: the argument-checking vocabulary of the operator bindings

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

void register_nn(py::module_& m) {
  using py::arg;
  const py::none none;
  m.def("op_fully_connected", &op_fully_connected, arg("x"), arg("w"), arg("bias"), arg("out"),
        arg("flatten") = true, "FullyConnected forward: out = x w^T + bias.");
  m.def("op_activation", &op_activation, arg("act_type"), arg("x"), arg("out"),
        "Activation forward (relu, sigmoid, tanh, softrelu, softsign).");
  m.def("op_dropout", &op_dropout, arg("p"), arg("uniform"), arg("x"), arg("out"), arg("mask"),
        "Dropout forward from float32 uniform draws: mask = (u < 1-p) / (1-p), out = x * mask.");
  m.def("op_softmax_output", &op_softmax_output, arg("x"), arg("out"), arg("grad_scale") = 1.0f,
        arg("ignore_label") = -1.0f, arg("multi_output") = false, arg("use_ignore") = false,
        arg("preserve_shape") = false, arg("normalization") = "null", arg("smooth_alpha") = 0.0f,
        "SoftmaxOutput forward.");
  m.def("gemm_isa", &ops::gemm_isa, "Instruction set of the FullyConnected GEMM kernels in use.");
  m.def("op_copy", &op_copy, arg("src"), arg("dst"), arg("req"),
        "dst = src (req 1) or dst += src (req 3): identity operators and head gradients.");
  m.def("op_batch_norm", &op_batch_norm, arg("eps"), arg("momentum"), arg("fix_gamma"),
        arg("use_global_stats"), arg("is_train"), arg("axis"), arg("x"), arg("gamma"), arg("beta"),
        arg("moving_mean"), arg("moving_var"), arg("out"), arg("mean"), arg("var"),
        "BatchNorm forward (var receives the inverse std; fix_gamma writes 1 into gamma).");
  m.def("op_regression", &op_regression, arg("type"), arg("x"), arg("out"),
        "Linear/Logistic/MAE RegressionOutput forward (type: linear, logistic, mae).");
  m.def("op_fully_connected_backward", &op_fully_connected_backward, arg("ograd"), arg("x"), arg("w"),
        arg("gx"), arg("req_x"), arg("gw"), arg("req_w"), arg("gbias") = none, arg("req_b") = 0,
        arg("flatten") = true, "FullyConnected backward.");
  m.def("op_activation_backward", &op_activation_backward, arg("act_type"), arg("ograd"), arg("x"),
        arg("y"), arg("gx"), arg("req"), "Activation backward (softsign reads x, the others y).");
  m.def("op_dropout_backward", &op_dropout_backward, arg("ograd"), arg("mask"), arg("gx"), arg("req"),
        "Dropout backward: gx = ograd * mask.");
  m.def("op_softmax_output_backward", &op_softmax_output_backward, arg("out"), arg("label"), arg("gx"),
        arg("req"), arg("grad_scale") = 1.0f, arg("ignore_label") = -1.0f, arg("multi_output") = false,
        arg("use_ignore") = false, arg("preserve_shape") = false, arg("normalization") = "null",
        arg("smooth_alpha") = 0.0f, "SoftmaxOutput backward (from its output and the label).");
  m.def("op_batch_norm_backward", &op_batch_norm_backward, arg("eps"), arg("momentum"),
        arg("fix_gamma"), arg("use_global_stats"), arg("is_train"), arg("axis"), arg("ograd"),
        arg("x"), arg("gamma"), arg("mean"), arg("var"), arg("moving_mean"), arg("moving_var"),
        arg("gx"), arg("req_x"), arg("ggamma"), arg("req_gamma"), arg("gbeta"), arg("req_beta"),
        "BatchNorm backward; in training it also updates the moving statistics (MXNet 1.9.1).");
  m.def("op_regression_backward", &op_regression_backward, arg("type"), arg("out"), arg("label"),
        arg("gx"), arg("req"), arg("grad_scale") = 1.0f, "RegressionOutput backward.");
}

}  // namespace mxopt::bindings
