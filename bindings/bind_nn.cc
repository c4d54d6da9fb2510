// Binds the neural-network kernels of mxopt/ops.h (FullyConnected, Activation, Dropout,
// SoftmaxOutput, the regression outputs) as plain functions on numpy buffers. The operator
// layer (python/mxopt/_ops) calls one of them per node and direction.
//
// Every call checks its arrays before anything is written: numpy arrays, C-contiguous, one
// float dtype (float32 or float64) across the call, outputs writeable and of the exact size
// the kernel writes. Gradient outputs take a req (0 null: may be None, 1 write, 3 add).
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "mxopt/ops.h"

namespace py = pybind11;

namespace mxopt::bindings {
namespace {

using ops::Req;

struct Buf {
  void* ptr = nullptr;
  std::vector<std::int64_t> shape;
  std::int64_t size = 0;
};

// The dtype of a call: that of its first float array (TypeError for anything else).
bool is_f64(const py::handle& obj, const char* name) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(name) + " must be a numpy.ndarray, got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.dtype().is(py::dtype::of<float>())) return false;
  if (a.dtype().is(py::dtype::of<double>())) return true;
  throw py::type_error(std::string(name) + " has dtype " + std::string(py::str(a.dtype())) +
                       ", expected float32 or float64");
}

template <class T>
Buf buf(const py::handle& obj, const char* name, bool writeable) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(name) + " must be a numpy.ndarray");
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + " has dtype " + std::string(py::str(a.dtype())) +
                         ", expected " + (sizeof(T) == 4 ? "float32" : "float64"));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + " must be C-contiguous");
  if (writeable && !a.writeable()) throw py::value_error(std::string(name) + " is read-only");
  Buf b;
  b.ptr = const_cast<void*>(a.data());
  b.shape.assign(a.shape(), a.shape() + a.ndim());
  b.size = static_cast<std::int64_t>(a.size());
  return b;
}

// A gradient output: None is allowed (and required to be ignored) when req is null.
template <class T>
T* grad_out(const py::handle& obj, int req, const char* name, std::int64_t size) {
  if (req != 0 && req != 1 && req != 3)
    throw py::value_error(std::string("req of ") + name + " must be 0 (null), 1 (write) or 3 (add)");
  if (req == 0) return nullptr;
  if (obj.is_none()) throw py::value_error(std::string(name) + " is None but its req is not null");
  Buf b = buf<T>(obj, name, true);
  if (b.size != size)
    throw py::value_error(std::string(name) + " has " + std::to_string(b.size) +
                          " elements, expected " + std::to_string(size));
  return static_cast<T*>(b.ptr);
}

void need_size(const Buf& b, std::int64_t size, const char* name) {
  if (b.size != size)
    throw py::value_error(std::string(name) + " has " + std::to_string(b.size) +
                          " elements, expected " + std::to_string(size));
}

// ---- FullyConnected ------------------------------------------------------------------------
struct FcDims {
  std::int64_t m, k, n;
};

FcDims fc_dims(const Buf& x, const Buf& w, bool flatten) {
  if (w.shape.size() != 2) throw py::value_error("weight must be 2-D (num_hidden, input_dim)");
  if (x.shape.empty()) throw py::value_error("data must have ndim >= 1");
  const std::int64_t n = w.shape[0], k = w.shape[1];
  std::int64_t m = 1;
  if (flatten) m = x.shape[0];
  else
    for (std::size_t i = 0; i + 1 < x.shape.size(); ++i) m *= x.shape[i];
  if (m * k != x.size)
    throw py::value_error("data of shape " + std::string(py::str(py::cast(x.shape))) +
                          " does not match weight input_dim " + std::to_string(k));
  return {m, k, n};
}

template <class T>
void fc_forward(const py::object& x, const py::object& w, const py::object& bias,
                const py::object& out, bool flatten) {
  Buf bx = buf<T>(x, "data", false), bw = buf<T>(w, "weight", false);
  Buf by = buf<T>(out, "out", true);
  const FcDims d = fc_dims(bx, bw, flatten);
  const T* pb = nullptr;
  if (!bias.is_none()) {
    Buf bb = buf<T>(bias, "bias", false);
    need_size(bb, d.n, "bias");
    pb = static_cast<const T*>(bb.ptr);
  }
  need_size(by, d.m * d.n, "out");
  py::gil_scoped_release nogil;
  ops::fully_connected_forward<T>(static_cast<const T*>(bx.ptr), static_cast<const T*>(bw.ptr), pb,
                                  static_cast<T*>(by.ptr), d.m, d.k, d.n);
}

template <class T>
void fc_backward(const py::object& gy, const py::object& x, const py::object& w,
                 const py::object& gx, int req_x, const py::object& gw, int req_w,
                 const py::object& gb, int req_b, bool flatten) {
  Buf bgy = buf<T>(gy, "out_grad", false), bx = buf<T>(x, "data", false);
  Buf bw = buf<T>(w, "weight", false);
  const FcDims d = fc_dims(bx, bw, flatten);
  need_size(bgy, d.m * d.n, "out_grad");
  T* px = grad_out<T>(gx, req_x, "data_grad", d.m * d.k);
  T* pw = grad_out<T>(gw, req_w, "weight_grad", d.n * d.k);
  T* pb = grad_out<T>(gb, req_b, "bias_grad", d.n);
  py::gil_scoped_release nogil;
  ops::fully_connected_backward<T>(static_cast<const T*>(bgy.ptr), static_cast<const T*>(bx.ptr),
                                   static_cast<const T*>(bw.ptr), d.m, d.k, d.n, px,
                                   static_cast<Req>(req_x), pw, static_cast<Req>(req_w), pb,
                                   static_cast<Req>(req_b));
}

// ---- Activation / Dropout / copy -----------------------------------------------------------
template <class T>
void act_forward(int act, const py::object& x, const py::object& out) {
  Buf bx = buf<T>(x, "data", false), by = buf<T>(out, "out", true);
  need_size(by, bx.size, "out");
  py::gil_scoped_release nogil;
  ops::activation_forward<T>(static_cast<ops::ActType>(act), static_cast<const T*>(bx.ptr),
                             static_cast<T*>(by.ptr), bx.size);
}

template <class T>
void act_backward(int act, const py::object& gy, const py::object& x, const py::object& y,
                  const py::object& gx, int req) {
  Buf bgy = buf<T>(gy, "out_grad", false), bx = buf<T>(x, "data", false);
  Buf by = buf<T>(y, "out", false);
  need_size(bx, bgy.size, "data");
  need_size(by, bgy.size, "out");
  T* px = grad_out<T>(gx, req, "data_grad", bgy.size);
  if (!px) return;
  py::gil_scoped_release nogil;
  ops::activation_backward<T>(static_cast<ops::ActType>(act), static_cast<const T*>(bgy.ptr),
                              static_cast<const T*>(bx.ptr), static_cast<const T*>(by.ptr), px,
                              static_cast<Req>(req), bgy.size);
}

template <class T>
void dropout_forward(float p, const py::array_t<float, py::array::c_style>& uniform,
                     const py::object& x, const py::object& out, const py::object& mask) {
  if (!(p >= 0.0f && p <= 1.0f)) throw py::value_error("p must be in [0, 1]");
  Buf bx = buf<T>(x, "data", false), by = buf<T>(out, "out", true), bm = buf<T>(mask, "mask", true);
  need_size(by, bx.size, "out");
  need_size(bm, bx.size, "mask");
  if (uniform.size() != bx.size) throw py::value_error("uniform must hold one draw per element");
  py::gil_scoped_release nogil;
  ops::dropout_forward<T>(p, uniform.data(), static_cast<const T*>(bx.ptr), static_cast<T*>(by.ptr),
                          static_cast<T*>(bm.ptr), bx.size);
}

template <class T>
void dropout_backward(const py::object& gy, const py::object& mask, const py::object& gx, int req) {
  Buf bgy = buf<T>(gy, "out_grad", false), bm = buf<T>(mask, "mask", false);
  need_size(bm, bgy.size, "mask");
  T* px = grad_out<T>(gx, req, "data_grad", bgy.size);
  if (!px) return;
  py::gil_scoped_release nogil;
  ops::dropout_backward<T>(static_cast<const T*>(bgy.ptr), static_cast<const T*>(bm.ptr), px,
                           static_cast<Req>(req), bgy.size);
}

template <class T>
void assign(const py::object& src, const py::object& dst, int req) {
  Buf bs = buf<T>(src, "src", false);
  T* pd = grad_out<T>(dst, req, "dst", bs.size);
  if (!pd) return;
  py::gil_scoped_release nogil;
  ops::assign<T>(static_cast<const T*>(bs.ptr), pd, static_cast<Req>(req), bs.size);
}

// ---- SoftmaxOutput and regression outputs --------------------------------------------------
ops::SoftmaxOutputParam softmax_param(const py::dict& d) {
  ops::SoftmaxOutputParam p;
  for (auto item : d) {
    const std::string k = item.first.cast<std::string>();
    py::handle v = item.second;
    if (k == "grad_scale") p.grad_scale = v.cast<float>();
    else if (k == "ignore_label") p.ignore_label = v.cast<float>();
    else if (k == "multi_output") p.multi_output = v.cast<bool>();
    else if (k == "use_ignore") p.use_ignore = v.cast<bool>();
    else if (k == "preserve_shape") p.preserve_shape = v.cast<bool>();
    else if (k == "normalization") p.normalization = static_cast<ops::Normalization>(v.cast<int>());
    else if (k == "smooth_alpha") p.smooth_alpha = v.cast<float>();
    else throw py::value_error("unknown SoftmaxOutput parameter " + k);
  }
  return p;
}

template <class T>
void softmax_output_forward(const py::dict& param, const py::object& x, const py::object& out) {
  const auto p = softmax_param(param);
  Buf bx = buf<T>(x, "data", false), by = buf<T>(out, "out", true);
  if (bx.shape.empty() || bx.shape[0] == 0) throw py::value_error("data must be non-empty with ndim >= 1");
  if (p.multi_output && bx.shape.size() < 2) throw py::value_error("multi_output needs data with ndim >= 2");
  need_size(by, bx.size, "out");
  py::gil_scoped_release nogil;
  ops::softmax_output_forward<T>(p, static_cast<const T*>(bx.ptr), static_cast<T*>(by.ptr), bx.shape);
}

template <class T>
void softmax_output_backward(const py::dict& param, const py::object& y, const py::object& label,
                             const py::object& gx, int req) {
  const auto p = softmax_param(param);
  Buf by = buf<T>(y, "out", false), bl = buf<T>(label, "label", false);
  if (by.shape.empty() || by.shape[0] == 0) throw py::value_error("out must be non-empty with ndim >= 1");
  if (bl.shape != by.shape) {
    std::int64_t want = 0;
    if (p.multi_output) {
      if (by.shape.size() < 2) throw py::value_error("multi_output needs data with ndim >= 2");
      want = by.size / by.shape[1];
    } else {
      want = by.shape.back() ? by.size / by.shape.back() : 0;
    }
    if (bl.size != want)
      throw py::value_error("label has " + std::to_string(bl.size) + " elements, expected " +
                            std::to_string(want) + " labels or probability labels of the data's shape");
  }
  T* px = grad_out<T>(gx, req, "data_grad", by.size);
  if (!px) return;
  py::gil_scoped_release nogil;
  ops::softmax_output_backward<T>(p, static_cast<const T*>(by.ptr), static_cast<const T*>(bl.ptr),
                                  by.shape, bl.shape, px, static_cast<Req>(req));
}

template <class T>
void regression_forward(int type, const py::object& x, const py::object& out) {
  Buf bx = buf<T>(x, "data", false), by = buf<T>(out, "out", true);
  need_size(by, bx.size, "out");
  py::gil_scoped_release nogil;
  ops::regression_forward<T>(static_cast<ops::RegressionType>(type), static_cast<const T*>(bx.ptr),
                             static_cast<T*>(by.ptr), bx.size);
}

template <class T>
void regression_backward(int type, float grad_scale, const py::object& y, const py::object& label,
                         const py::object& gx, int req) {
  Buf by = buf<T>(y, "out", false), bl = buf<T>(label, "label", false);
  if (by.shape.empty() || bl.shape.empty() || bl.shape[0] != by.shape[0] || bl.size != by.size)
    throw py::value_error("label shape does not match data shape");
  T* px = grad_out<T>(gx, req, "data_grad", by.size);
  if (!px) return;
  py::gil_scoped_release nogil;
  ops::regression_backward<T>(static_cast<ops::RegressionType>(type), grad_scale,
                              static_cast<const T*>(by.ptr), static_cast<const T*>(bl.ptr), by.size,
                              bl.shape[0], px, static_cast<Req>(req));
}

// ---- BatchNorm --------------------------------------------------------------------------------
struct BnDims {
  std::int64_t outer = 1, channels = 1, inner = 1;
};

BnDims bn_dims(const Buf& x, int axis) {
  const int nd = static_cast<int>(x.shape.size());
  if (nd == 0) throw py::value_error("data must have ndim >= 1");
  const int a = axis < 0 ? axis + nd : axis;
  if (a < 0 || a >= nd) throw py::value_error("Channel axis out of range: " + std::to_string(axis));
  BnDims d;
  for (int i = 0; i < a; ++i) d.outer *= x.shape[i];
  d.channels = x.shape[a];
  for (int i = a + 1; i < nd; ++i) d.inner *= x.shape[i];
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

template <class T>
T* channel_buf(const py::object& obj, const char* name, std::int64_t channels, bool writeable) {
  Buf b = buf<T>(obj, name, writeable);
  need_size(b, channels, name);
  return static_cast<T*>(b.ptr);
}

template <class T>
void bn_forward(double eps, float momentum, bool fix_gamma, bool use_global_stats, bool is_train,
                int axis, const py::object& x, const py::object& gamma, const py::object& beta,
                const py::object& mm, const py::object& mv, const py::object& out,
                const py::object& mean, const py::object& invstd) {
  Buf bx = buf<T>(x, "data", false), by = buf<T>(out, "out", true);
  const BnDims d = bn_dims(bx, axis);
  need_size(by, bx.size, "out");
  T* pg = channel_buf<T>(gamma, "gamma", d.channels, fix_gamma);
  const T* pb = channel_buf<T>(beta, "beta", d.channels, false);
  const T* pmm = channel_buf<T>(mm, "moving_mean", d.channels, false);
  const T* pmv = channel_buf<T>(mv, "moving_var", d.channels, false);
  T* pmean = channel_buf<T>(mean, "mean", d.channels, true);
  T* pinv = channel_buf<T>(invstd, "var", d.channels, true);
  const auto p = bn_param(eps, momentum, fix_gamma, use_global_stats);
  py::gil_scoped_release nogil;
  ops::batch_norm_forward<T>(p, is_train, static_cast<const T*>(bx.ptr), pg, pb, pmm, pmv,
                             static_cast<T*>(by.ptr), pmean, pinv, d.outer, d.channels, d.inner);
}

template <class T>
void bn_backward(double eps, float momentum, bool fix_gamma, bool use_global_stats, bool is_train,
                 int axis, const py::object& gy, const py::object& x, const py::object& gamma,
                 const py::object& mean, const py::object& invstd, const py::object& mm,
                 const py::object& mv, const py::object& gx, int req_x, const py::object& gg,
                 int req_g, const py::object& gb, int req_b) {
  Buf bgy = buf<T>(gy, "out_grad", false), bx = buf<T>(x, "data", false);
  const BnDims d = bn_dims(bx, axis);
  need_size(bgy, bx.size, "out_grad");
  const T* pg = channel_buf<T>(gamma, "gamma", d.channels, false);
  const T* pmean = channel_buf<T>(mean, "mean", d.channels, false);
  const T* pinv = channel_buf<T>(invstd, "var", d.channels, false);
  T* pmm = channel_buf<T>(mm, "moving_mean", d.channels, true);
  T* pmv = channel_buf<T>(mv, "moving_var", d.channels, true);
  T* px = grad_out<T>(gx, req_x, "data_grad", bx.size);
  T* pgg = grad_out<T>(gg, req_g, "gamma_grad", d.channels);
  T* pgb = grad_out<T>(gb, req_b, "beta_grad", d.channels);
  const auto p = bn_param(eps, momentum, fix_gamma, use_global_stats);
  py::gil_scoped_release nogil;
  ops::batch_norm_backward<T>(p, is_train, static_cast<const T*>(bgy.ptr),
                              static_cast<const T*>(bx.ptr), pg, pmean, pinv, pmm, pmv, px,
                              static_cast<Req>(req_x), pgg, static_cast<Req>(req_g), pgb,
                              static_cast<Req>(req_b), d.outer, d.channels, d.inner);
}

// float32 / float64 dispatch on the named array.
#define MXOPT_BY_DTYPE(arg, name, fn, ...) \
  (is_f64(arg, name) ? fn<double>(__VA_ARGS__) : fn<float>(__VA_ARGS__))

}  // namespace

void register_nn(py::module_& m) {
  m.def("gemm_isa", &ops::gemm_isa, "Instruction set of the FullyConnected GEMM kernels in use.");
  m.def("nn_fully_connected",
        [](py::object x, py::object w, py::object b, py::object out, bool flatten) {
          MXOPT_BY_DTYPE(x, "data", fc_forward, x, w, b, out, flatten);
        },
        py::arg("data"), py::arg("weight"), py::arg("bias"), py::arg("out"), py::arg("flatten"));
  m.def("nn_fully_connected_backward",
        [](py::object gy, py::object x, py::object w, py::object gx, int rx, py::object gw, int rw,
           py::object gb, int rb, bool flatten) {
          MXOPT_BY_DTYPE(x, "data", fc_backward, gy, x, w, gx, rx, gw, rw, gb, rb, flatten);
        },
        py::arg("out_grad"), py::arg("data"), py::arg("weight"), py::arg("data_grad"),
        py::arg("req_data"), py::arg("weight_grad"), py::arg("req_weight"), py::arg("bias_grad"),
        py::arg("req_bias"), py::arg("flatten"));
  m.def("nn_activation",
        [](int act, py::object x, py::object out) { MXOPT_BY_DTYPE(x, "data", act_forward, act, x, out); },
        py::arg("act_type"), py::arg("data"), py::arg("out"));
  m.def("nn_activation_backward",
        [](int act, py::object gy, py::object x, py::object y, py::object gx, int req) {
          MXOPT_BY_DTYPE(x, "data", act_backward, act, gy, x, y, gx, req);
        },
        py::arg("act_type"), py::arg("out_grad"), py::arg("data"), py::arg("out"),
        py::arg("data_grad"), py::arg("req"));
  m.def("nn_dropout",
        [](float p, py::array_t<float, py::array::c_style> u, py::object x, py::object out,
           py::object mask) { MXOPT_BY_DTYPE(x, "data", dropout_forward, p, u, x, out, mask); },
        py::arg("p"), py::arg("uniform").noconvert(), py::arg("data"), py::arg("out"), py::arg("mask"));
  m.def("nn_dropout_backward",
        [](py::object gy, py::object mask, py::object gx, int req) {
          MXOPT_BY_DTYPE(gy, "out_grad", dropout_backward, gy, mask, gx, req);
        },
        py::arg("out_grad"), py::arg("mask"), py::arg("data_grad"), py::arg("req"));
  m.def("nn_assign",
        [](py::object src, py::object dst, int req) { MXOPT_BY_DTYPE(src, "src", assign, src, dst, req); },
        py::arg("src"), py::arg("dst"), py::arg("req"),
        "dst = src (req 1) or dst += src (req 3), same element count.");
  m.def("nn_softmax_output",
        [](py::dict p, py::object x, py::object out) {
          MXOPT_BY_DTYPE(x, "data", softmax_output_forward, p, x, out);
        },
        py::arg("param"), py::arg("data"), py::arg("out"));
  m.def("nn_softmax_output_backward",
        [](py::dict p, py::object y, py::object label, py::object gx, int req) {
          MXOPT_BY_DTYPE(y, "out", softmax_output_backward, p, y, label, gx, req);
        },
        py::arg("param"), py::arg("out"), py::arg("label"), py::arg("data_grad"), py::arg("req"));
  m.def("nn_batch_norm",
        [](double eps, float momentum, bool fix_gamma, bool use_global_stats, bool is_train,
           int axis, py::object x, py::object gamma, py::object beta, py::object mm, py::object mv,
           py::object out, py::object mean, py::object invstd) {
          MXOPT_BY_DTYPE(x, "data", bn_forward, eps, momentum, fix_gamma, use_global_stats,
                         is_train, axis, x, gamma, beta, mm, mv, out, mean, invstd);
        },
        py::arg("eps"), py::arg("momentum"), py::arg("fix_gamma"), py::arg("use_global_stats"),
        py::arg("is_train"), py::arg("axis"), py::arg("data"), py::arg("gamma"), py::arg("beta"),
        py::arg("moving_mean"), py::arg("moving_var"), py::arg("out"), py::arg("mean"),
        py::arg("var"),
        "BatchNorm forward; fix_gamma writes 1 into gamma; var receives the inverse std.");
  m.def("nn_batch_norm_backward",
        [](double eps, float momentum, bool fix_gamma, bool use_global_stats, bool is_train,
           int axis, py::object gy, py::object x, py::object gamma, py::object mean,
           py::object invstd, py::object mm, py::object mv, py::object gx, int rx, py::object gg,
           int rg, py::object gb, int rb) {
          MXOPT_BY_DTYPE(x, "data", bn_backward, eps, momentum, fix_gamma, use_global_stats,
                         is_train, axis, gy, x, gamma, mean, invstd, mm, mv, gx, rx, gg, rg, gb, rb);
        },
        py::arg("eps"), py::arg("momentum"), py::arg("fix_gamma"), py::arg("use_global_stats"),
        py::arg("is_train"), py::arg("axis"), py::arg("out_grad"), py::arg("data"),
        py::arg("gamma"), py::arg("mean"), py::arg("var"), py::arg("moving_mean"),
        py::arg("moving_var"), py::arg("data_grad"), py::arg("req_data"), py::arg("gamma_grad"),
        py::arg("req_gamma"), py::arg("beta_grad"), py::arg("req_beta"),
        "BatchNorm backward; in training also updates the moving statistics (MXNet 1.9.1).");
  m.def("nn_regression",
        [](int type, py::object x, py::object out) { MXOPT_BY_DTYPE(x, "data", regression_forward, type, x, out); },
        py::arg("type"), py::arg("data"), py::arg("out"));
  m.def("nn_regression_backward",
        [](int type, float grad_scale, py::object y, py::object label, py::object gx, int req) {
          MXOPT_BY_DTYPE(y, "out", regression_backward, type, grad_scale, y, label, gx, req);
        },
        py::arg("type"), py::arg("grad_scale"), py::arg("out"), py::arg("label"),
        py::arg("data_grad"), py::arg("req"));
}

}  // namespace mxopt::bindings
