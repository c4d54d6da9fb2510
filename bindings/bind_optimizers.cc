// Binds the optimizer kernels (mxopt/optimizers/*.h) as thin, validated functions of mxopt._core.
//
// Every function updates the caller's numpy buffers IN PLACE. All arguments are validated
// (numpy.ndarray, float16/float32/float64, C-contiguous, writeable where written, matching shapes
// and dtypes) BEFORE anything is written, with errors naming the parameter; the GIL is released
// around the kernel. Hyper-parameters follow MXNet's operator parameters: float32 fields, and
// `clip_gradient` clips iff >= 0 (the Python layer decides what it forwards). P-clip arguments
// (`clip`) of the NDArray-arithmetic optimizers are None (no clipping) or a float.
#include <cstdint>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <structmember.h>  // T_OBJECT_EX (after Python.h)

#include "bindings.h"
#include "mxopt/optimizers.h"

namespace py = pybind11;

namespace mxopt::bindings {
namespace {

namespace k = mxopt::kernels;

enum class Dt { f16, f32, f64 };

const char* dt_name(Dt d) {
  switch (d) {
    case Dt::f16: return "float16";
    case Dt::f32: return "float32";
    default: return "float64";
  }
}

std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) s << ",";
  s << ")";
  return s.str();
}

// A validated numpy buffer.
struct Buf {
  py::array a;
  void* data = nullptr;  // a's data pointer, read once (the kernels' pointer lists are built
                         // from it every call; MultiTensors rechecks it before reusing a Buf)
  Dt dt = Dt::f32;
  std::string name;
  std::size_t size() const { return static_cast<std::size_t>(a.size()); }
  template <class T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
};

// Checks `obj` is a C-contiguous float16/32/64 numpy array (writeable if `write`).
Buf buf(const std::string& fn, py::handle obj, const char* name, bool write) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(fn + ": " + name + " must be a numpy.ndarray, got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  Buf b;
  b.a = py::reinterpret_borrow<py::array>(obj);
  b.data = py::detail::array_proxy(obj.ptr())->data;
  b.name = name;
  const py::dtype d = b.a.dtype();
  if (d.equal(py::dtype::of<float>()))
    b.dt = Dt::f32;
  else if (d.equal(py::dtype::of<double>()))
    b.dt = Dt::f64;
  else if (d.equal(py::dtype("float16")))
    b.dt = Dt::f16;
  else
    throw py::type_error(fn + ": " + name +
                         " must have dtype float16, float32 or float64 (native byte order), got " +
                         std::string(py::str(d)));
  if (!(b.a.flags() & py::array::c_style))
    throw py::value_error(fn + ": " + name + " must be C-contiguous (got a strided view of shape " +
                          shape_str(b.a) + ")");
  if (write && !b.a.writeable())
    throw py::value_error(fn + ": " + name + " is read-only; it is updated in place");
  return b;
}

bool same_shape(const py::array& a, const py::array& b) {
  if (a.ndim() != b.ndim()) return false;
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) != b.shape(i)) return false;
  return true;
}

void require_shape(const std::string& fn, const Buf& ref, const Buf& b) {
  if (!same_shape(ref.a, b.a))
    throw py::value_error(fn + ": " + b.name + " has shape " + shape_str(b.a) + " but " +
                          ref.name + " has shape " + shape_str(ref.a));
}

void require_dtype(const std::string& fn, const Buf& b, Dt dt, const char* why) {
  if (b.dt != dt)
    throw py::type_error(fn + ": " + b.name + " must be " + dt_name(dt) + " (" + why + "), got " +
                         dt_name(b.dt));
}

// Same shape and same dtype as the weight.
void like(const std::string& fn, const Buf& w, const Buf& b) {
  require_shape(fn, w, b);
  if (b.dt != w.dt)
    throw py::type_error(fn + ": " + b.name + " has dtype " + dt_name(b.dt) + " but " + w.name +
                         " has dtype " + dt_name(w.dt));
}

// Same shape as the weight, float32 (MXNet's float32-only states, master copies).
void like_f32(const std::string& fn, const Buf& w, const Buf& b, const char* why) {
  require_shape(fn, w, b);
  require_dtype(fn, b, Dt::f32, why);
}

// Optional buffer (None allowed).
bool is_none(py::handle h) { return h.is_none(); }

template <class F>
void by_dtype(Dt dt, F&& f) {
  switch (dt) {
    case Dt::f16: f(mxopt::float16{}); break;
    case Dt::f32: f(float{}); break;
    default: f(double{}); break;
  }
}

k::PClip pclip(py::handle clip) {
  k::PClip c;
  if (!clip.is_none()) {
    const double v = clip.cast<double>();
    c.active = true;
    c.lo = static_cast<float>(-v);
    c.hi = static_cast<float>(v);
  }
  return c;
}

// A row_sparse gradient: data of shape (k, *weight.shape[1:]) and int64 indices of shape (k,).
struct Rsp {
  Buf data;
  py::array_t<std::int64_t> idx;
  std::size_t rows = 0, k = 0, len = 0;
  template <class T>
  k::RowSparse<T> view() const {
    return {data.ptr<T>(), idx.data(), k, len};
  }
};

Rsp rsp(const std::string& fn, const Buf& w, py::handle data, py::handle indices) {
  Rsp r;
  r.data = buf(fn, data, "grad.data", false);
  if (w.a.ndim() < 1) throw py::value_error(fn + ": weight must have at least one dimension");
  if (r.data.dt != w.dt)
    throw py::type_error(fn + ": grad.data has dtype " + std::string(dt_name(r.data.dt)) +
                         " but weight has dtype " + dt_name(w.dt));
  bool ok = r.data.a.ndim() == w.a.ndim();
  for (py::ssize_t i = 1; ok && i < w.a.ndim(); ++i) ok = r.data.a.shape(i) == w.a.shape(i);
  if (!ok)
    throw py::value_error(fn + ": grad.data has shape " + shape_str(r.data.a) +
                          " but must be (num_rows,) + weight.shape[1:] with weight shape " +
                          shape_str(w.a));
  if (!py::isinstance<py::array>(indices))
    throw py::type_error(fn + ": grad.indices must be a numpy.ndarray");
  py::array ia = py::reinterpret_borrow<py::array>(indices);
  if (!ia.dtype().equal(py::dtype::of<std::int64_t>()) || ia.ndim() != 1 ||
      !(ia.flags() & py::array::c_style))
    throw py::type_error(fn + ": grad.indices must be a 1-D C-contiguous int64 array, got dtype " +
                         std::string(py::str(ia.dtype())) + " shape " + shape_str(ia));
  r.idx = py::reinterpret_borrow<py::array_t<std::int64_t>>(ia);
  r.k = static_cast<std::size_t>(ia.shape(0));
  if (static_cast<py::ssize_t>(r.k) != r.data.a.shape(0))
    throw py::value_error(fn + ": grad.indices has " + std::to_string(r.k) +
                          " entries but grad.data has " + std::to_string(r.data.a.shape(0)) +
                          " rows");
  r.rows = static_cast<std::size_t>(w.a.shape(0));
  r.len = r.rows ? w.size() / r.rows : 0;
  return r;  // (each *_rsp kernel checks the row indices before it writes)
}

template <class T>
T* opt_ptr(const Buf* b) {
  return b ? b->ptr<T>() : nullptr;
}

// ---- SGD family --------------------------------------------------------------------------------
k::SGDParams sgd_params(float lr, float wd, float rg, float clip, float momentum) {
  k::SGDParams p;
  p.lr = lr;
  p.wd = wd;
  p.rescale_grad = rg;
  p.clip_gradient = clip;
  p.momentum = momentum;
  return p;
}

#define MXOPT_SGD_ARGS                                                                          \
  py::kw_only(), py::arg("lr"), py::arg("wd") = 0.0f, py::arg("rescale_grad") = 1.0f,           \
      py::arg("clip_gradient") = k::kNoClip

void bind_sgd(py::module_& m) {
  m.def(
      "sgd_update",
      [](py::object weight, py::object grad, float lr, float wd, float rg, float clip) {
        const std::string fn = "sgd_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false);
        like(fn, w, g);
        const auto p = sgd_params(lr, wd, rg, clip, 0.0f);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::sgd_update(w.ptr<T>(), g.ptr<T>(), w.size(), p);
        });
      },
      "MXNet sgd_update: w = (1 - lr*wd)*w - lr*K(rescale_grad*g), in place.", py::arg("weight"),
      py::arg("grad"), MXOPT_SGD_ARGS);

  m.def(
      "sgd_mom_update",
      [](py::object weight, py::object grad, py::object mom, float lr, float wd, float rg,
         float clip, float momentum) {
        const std::string fn = "sgd_mom_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false);
        like(fn, w, g);
        Buf s;
        const bool has = !is_none(mom);
        if (has) {
          s = buf(fn, mom, "mom", true);
          like(fn, w, s);
        }
        const auto p = sgd_params(lr, wd, rg, clip, momentum);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::sgd_mom_update(w.ptr<T>(), g.ptr<T>(), has ? s.ptr<T>() : nullptr, w.size(), p);
        });
      },
      "MXNet sgd_mom_update / multi_sgd_[mom_]update (mom=None: no momentum state), in place.",
      py::arg("weight"), py::arg("grad"), py::arg("mom"), MXOPT_SGD_ARGS,
      py::arg("momentum") = 0.0f);

  m.def(
      "preloaded_sgd_mom_update",
      [](py::object weight, py::object grad, py::object mom, float lr, float wd, float rg,
         float clip, float momentum) {
        const std::string fn = "preloaded_sgd_mom_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false);
        like(fn, w, g);
        Buf s;
        const bool has = !is_none(mom);
        if (has) {
          s = buf(fn, mom, "mom", true);
          like(fn, w, s);
        }
        const auto p = sgd_params(lr, wd, rg, clip, momentum);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::preloaded_sgd_mom_update(w.ptr<T>(), g.ptr<T>(), has ? s.ptr<T>() : nullptr,
                                      w.size(), p);
        });
      },
      "MXNet preloaded_multi_sgd_[mom_]update for one tensor (LARS), in place.",
      py::arg("weight"), py::arg("grad"), py::arg("mom"), MXOPT_SGD_ARGS,
      py::arg("momentum") = 0.0f);

  m.def(
      "mp_sgd_update",
      [](py::object weight, py::object grad, py::object weight32, float lr, float wd, float rg,
         float clip) {
        const std::string fn = "mp_sgd_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            w32 = buf(fn, weight32, "weight32", true);
        require_dtype(fn, w, Dt::f16, "multi-precision weight");
        like(fn, w, g);
        like_f32(fn, w, w32, "master copy");
        const auto p = sgd_params(lr, wd, rg, clip, 0.0f);
        py::gil_scoped_release nogil;
        k::mp_sgd_update(w.ptr<mxopt::float16>(), g.ptr<mxopt::float16>(), w32.ptr<float>(),
                         w.size(), p);
      },
      "MXNet mp_sgd_update (float16 weight, float32 master copy), in place.", py::arg("weight"),
      py::arg("grad"), py::arg("weight32"), MXOPT_SGD_ARGS);

  m.def(
      "mp_sgd_mom_update",
      [](py::object weight, py::object grad, py::object mom, py::object weight32, float lr,
         float wd, float rg, float clip, float momentum) {
        const std::string fn = "mp_sgd_mom_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            w32 = buf(fn, weight32, "weight32", true);
        require_dtype(fn, w, Dt::f16, "multi-precision weight");
        like(fn, w, g);
        like_f32(fn, w, w32, "master copy");
        Buf s;
        const bool has = !is_none(mom);
        if (has) {
          s = buf(fn, mom, "mom", true);
          like_f32(fn, w, s, "multi-precision momentum");
        }
        const auto p = sgd_params(lr, wd, rg, clip, momentum);
        py::gil_scoped_release nogil;
        k::mp_sgd_mom_update(w.ptr<mxopt::float16>(), g.ptr<mxopt::float16>(),
                             has ? s.ptr<float>() : nullptr, w32.ptr<float>(), w.size(), p);
      },
      "MXNet (multi_)mp_sgd_mom_update (mom=None: multi_mp_sgd_update), in place.",
      py::arg("weight"), py::arg("grad"), py::arg("mom"), py::arg("weight32"), MXOPT_SGD_ARGS,
      py::arg("momentum") = 0.0f);

  m.def(
      "sgd_update_rsp",
      [](py::object weight, py::object data, py::object indices, float lr, float wd, float rg,
         float clip, bool lazy) {
        const std::string fn = "sgd_update_rsp";
        Buf w = buf(fn, weight, "weight", true);
        Rsp r = rsp(fn, w, data, indices);
        const auto p = sgd_params(lr, wd, rg, clip, 0.0f);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::sgd_update_rsp(w.ptr<T>(), r.rows, r.view<T>(), p, lazy);
        });
      },
      "MXNet sgd_update with a row_sparse gradient (lazy or standard), in place.",
      py::arg("weight"), py::arg("grad_data"), py::arg("grad_indices"), MXOPT_SGD_ARGS,
      py::arg("lazy_update") = true);

  m.def(
      "sgd_mom_update_rsp",
      [](py::object weight, py::object data, py::object indices, py::object mom, float lr,
         float wd, float rg, float clip, float momentum, bool lazy) {
        const std::string fn = "sgd_mom_update_rsp";
        Buf w = buf(fn, weight, "weight", true);
        Rsp r = rsp(fn, w, data, indices);
        Buf s = buf(fn, mom, "mom", true);
        like(fn, w, s);
        const auto p = sgd_params(lr, wd, rg, clip, momentum);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::sgd_mom_update_rsp(w.ptr<T>(), r.rows, r.view<T>(), s.ptr<T>(), p, lazy);
        });
      },
      "MXNet sgd_mom_update with a row_sparse gradient (lazy or standard), in place.",
      py::arg("weight"), py::arg("grad_data"), py::arg("grad_indices"), py::arg("mom"),
      MXOPT_SGD_ARGS, py::arg("momentum") = 0.0f, py::arg("lazy_update") = true);

  m.def(
      "nag_mom_update",
      [](py::object weight, py::object grad, py::object mom, float lr, float wd, float rg,
         float clip, float momentum) {
        const std::string fn = "nag_mom_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            s = buf(fn, mom, "mom", true);
        like(fn, w, g);
        like(fn, w, s);
        const auto p = sgd_params(lr, wd, rg, clip, momentum);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::nag_mom_update(w.ptr<T>(), g.ptr<T>(), s.ptr<T>(), w.size(), p);
        });
      },
      "MXNet nag_mom_update, in place.", py::arg("weight"), py::arg("grad"), py::arg("mom"),
      MXOPT_SGD_ARGS, py::arg("momentum") = 0.0f);

  m.def(
      "mp_nag_mom_update",
      [](py::object weight, py::object grad, py::object mom, py::object weight32, float lr,
         float wd, float rg, float clip, float momentum) {
        const std::string fn = "mp_nag_mom_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            s = buf(fn, mom, "mom", true), w32 = buf(fn, weight32, "weight32", true);
        require_dtype(fn, w, Dt::f16, "multi-precision weight");
        like(fn, w, g);
        like_f32(fn, w, s, "multi-precision momentum");
        like_f32(fn, w, w32, "master copy");
        const auto p = sgd_params(lr, wd, rg, clip, momentum);
        py::gil_scoped_release nogil;
        k::mp_nag_mom_update(w.ptr<mxopt::float16>(), g.ptr<mxopt::float16>(), s.ptr<float>(),
                             w32.ptr<float>(), w.size(), p);
      },
      "MXNet mp_nag_mom_update, in place.", py::arg("weight"), py::arg("grad"), py::arg("mom"),
      py::arg("weight32"), MXOPT_SGD_ARGS, py::arg("momentum") = 0.0f);

  m.def("lars_lr", &k::lars_lr,
        "LARS learning rate of one tensor (MXNet multi_lars, float32 arithmetic).",
        py::arg("lr"), py::arg("w_sum_sq"), py::arg("g_sum_sq"), py::arg("wd"), py::arg("eta"),
        py::arg("eps"), py::arg("rescale_grad"));

  m.def(
      "signum_update",
      [](py::object weight, py::object grad, py::object mom, float lr, float wd, float rg,
         float clip, float momentum, float wd_lh) {
        const std::string fn = "signum_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            s = buf(fn, mom, "mom", true);
        like(fn, w, g);
        like(fn, w, s);
        k::SignumParams p;
        p.lr = lr;
        p.wd = wd;
        p.rescale_grad = rg;
        p.clip_gradient = clip;
        p.momentum = momentum;
        p.wd_lh = wd_lh;
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::signum_update(w.ptr<T>(), g.ptr<T>(), s.ptr<T>(), w.size(), p);
        });
      },
      "MXNet signum_update, in place.", py::arg("weight"), py::arg("grad"), py::arg("mom"),
      MXOPT_SGD_ARGS, py::arg("momentum") = 0.0f, py::arg("wd_lh") = 0.0f);

  m.def(
      "signsgd_update",
      [](py::object weight, py::object grad, float lr, float wd) {
        const std::string fn = "signsgd_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false);
        like(fn, w, g);
        k::SignumParams p;
        p.lr = lr;
        p.wd = wd;
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::signsgd_update(w.ptr<T>(), g.ptr<T>(), w.size(), p);
        });
      },
      "MXNet signsgd_update: w = (1 - lr*wd)*w - lr*sign(g), in place.", py::arg("weight"),
      py::arg("grad"), py::kw_only(), py::arg("lr"), py::arg("wd") = 0.0f);
}

// ---- Adam family --------------------------------------------------------------------------------
void bind_adam(py::module_& m) {
  m.def(
      "adam_update",
      [](py::object weight, py::object grad, py::object mean, py::object var, float lr,
         float beta1, float beta2, float epsilon, float wd, float rg, float clip) {
        const std::string fn = "adam_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            m1 = buf(fn, mean, "mean", true), v = buf(fn, var, "var", true);
        like(fn, w, g);
        like(fn, w, m1);
        like(fn, w, v);
        const k::AdamParams p{lr, beta1, beta2, epsilon, wd, rg, clip};
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::adam_update(w.ptr<T>(), g.ptr<T>(), m1.ptr<T>(), v.ptr<T>(), w.size(), p);
        });
      },
      "MXNet adam_update (lr already bias-corrected), in place.", py::arg("weight"),
      py::arg("grad"), py::arg("mean"), py::arg("var"), py::kw_only(), py::arg("lr"),
      py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f, py::arg("epsilon") = 1e-8f,
      py::arg("wd") = 0.0f, py::arg("rescale_grad") = 1.0f, py::arg("clip_gradient") = k::kNoClip);

  m.def(
      "adam_update_rsp",
      [](py::object weight, py::object data, py::object indices, py::object mean, py::object var,
         float lr, float beta1, float beta2, float epsilon, float wd, float rg, float clip,
         bool lazy) {
        const std::string fn = "adam_update_rsp";
        Buf w = buf(fn, weight, "weight", true);
        Rsp r = rsp(fn, w, data, indices);
        Buf m1 = buf(fn, mean, "mean", true), v = buf(fn, var, "var", true);
        like(fn, w, m1);
        like(fn, w, v);
        const k::AdamParams p{lr, beta1, beta2, epsilon, wd, rg, clip};
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::adam_update_rsp(w.ptr<T>(), r.rows, r.view<T>(), m1.ptr<T>(), v.ptr<T>(), p, lazy);
        });
      },
      "MXNet adam_update with a row_sparse gradient (lazy or standard), in place.",
      py::arg("weight"), py::arg("grad_data"), py::arg("grad_indices"), py::arg("mean"),
      py::arg("var"), py::kw_only(), py::arg("lr"), py::arg("beta1") = 0.9f,
      py::arg("beta2") = 0.999f, py::arg("epsilon") = 1e-8f, py::arg("wd") = 0.0f,
      py::arg("rescale_grad") = 1.0f, py::arg("clip_gradient") = k::kNoClip,
      py::arg("lazy_update") = true);

  auto adamw_like = [&m](const char* name, auto kernel, const char* doc) {
    m.def(
        name,
        [name, kernel](py::object weight, py::object grad, py::object mean, py::object var,
                       float lr, float eta, float beta1, float beta2, float epsilon, float wd,
                       float rg, float clip, bool aggregated) {
          const std::string fn = name;
          Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", !aggregated),
              m1 = buf(fn, mean, "mean", true), v = buf(fn, var, "var", true);
          like(fn, w, g);
          like(fn, w, m1);
          like(fn, w, v);
          const k::AdamWParams p{lr, eta, beta1, beta2, epsilon, wd, rg, clip};
          bool done = false;
          py::gil_scoped_release nogil;
          by_dtype(w.dt, [&](auto t) {
            using T = decltype(t);
            done = kernel(w.ptr<T>(), g.ptr<T>(), m1.ptr<T>(), v.ptr<T>(), w.size(), p,
                          aggregated);
          });
          return done;
        },
        doc, py::arg("weight"), py::arg("grad"), py::arg("mean"), py::arg("var"), py::kw_only(),
        py::arg("lr") = 1.0f, py::arg("eta"), py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f,
        py::arg("epsilon") = 1e-6f, py::arg("wd") = 0.0f, py::arg("rescale_grad") = 1.0f,
        py::arg("clip_gradient") = k::kNoClip, py::arg("aggregated") = true);
  };
  adamw_like(
      "adamw_update",
      [](auto* w, auto* g, auto* m1, auto* v, std::size_t n, const k::AdamWParams& p, bool agg) {
        return k::adamw_update(w, g, m1, v, n, p, agg);
      },
      "MXNet (multi_)adamw_update; returns False (nothing written) if rescale_grad is 0 or "
      "not finite. aggregated=False rescales/clips grad in place as MXNet does.");
  adamw_like(
      "adabelief_update",
      [](auto* w, auto* g, auto* m1, auto* v, std::size_t n, const k::AdamWParams& p, bool agg) {
        return k::adabelief_update(w, g, m1, v, n, p, agg);
      },
      "MXNet 2.0 (multi_)adabelief_update; returns False (nothing written) if rescale_grad is "
      "0 or not finite.");

  auto step_like = [&m](const char* name, auto kernel, const char* doc) {
    m.def(
        name,
        [name, kernel](py::object weight, py::object grad, py::object mean, py::object var,
                       double lr, double lr_wd, double wd, double beta1, double omb1,
                       double beta2, double omb2, double epsilon, double rg, py::object clip) {
          const std::string fn = name;
          Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", true),
              m1 = buf(fn, mean, "mean", true), v = buf(fn, var, "var", true);
          like(fn, w, g);
          like(fn, w, m1);
          like(fn, w, v);
          k::AdamStepParams p;
          p.lr = lr;
          p.lr_wd = lr_wd;
          p.wd = wd;
          p.beta1 = beta1;
          p.one_minus_beta1 = omb1;
          p.beta2 = beta2;
          p.one_minus_beta2 = omb2;
          p.epsilon = epsilon;
          p.rescale_grad = rg;
          p.clip = pclip(clip);
          py::gil_scoped_release nogil;
          by_dtype(w.dt, [&](auto t) {
            using T = decltype(t);
            kernel(w.ptr<T>(), g.ptr<T>(), m1.ptr<T>(), v.ptr<T>(), w.size(), p);
          });
        },
        doc, py::arg("weight"), py::arg("grad"), py::arg("mean"), py::arg("var"), py::kw_only(),
        py::arg("lr"), py::arg("lr_wd"), py::arg("wd"), py::arg("beta1"),
        py::arg("one_minus_beta1"), py::arg("beta2"), py::arg("one_minus_beta2"),
        py::arg("epsilon"), py::arg("rescale_grad"), py::arg("clip_gradient") = py::none());
  };
  step_like(
      "adamw_step_update",
      [](auto* w, auto* g, auto* m1, auto* v, std::size_t n, const k::AdamStepParams& p) {
        k::adamw_step_update(w, g, m1, v, n, p);
      },
      "MXNet 2.0 AdamW.step() arithmetic (grad rescaled in place), in place.");
  step_like(
      "adabelief_step_update",
      [](auto* w, auto* g, auto* m1, auto* v, std::size_t n, const k::AdamStepParams& p) {
        k::adabelief_step_update(w, g, m1, v, n, p);
      },
      "MXNet 2.0 AdaBelief.step() arithmetic (grad rescaled in place), in place.");

  m.def(
      "adamax_update",
      [](py::object weight, py::object grad, py::object mean, py::object u, double lr,
         double beta1, double omb1, double beta2, double wd, double rg, py::object clip) {
        const std::string fn = "adamax_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            m1 = buf(fn, mean, "mean", true), uu = buf(fn, u, "u", true);
        like(fn, w, g);
        like(fn, w, m1);
        like(fn, w, uu);
        k::AdamaxParams p;
        p.lr = lr;
        p.beta1 = beta1;
        p.one_minus_beta1 = omb1;
        p.beta2 = beta2;
        p.wd = wd;
        p.rescale_grad = rg;
        p.clip = pclip(clip);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::adamax_update(w.ptr<T>(), g.ptr<T>(), m1.ptr<T>(), uu.ptr<T>(), w.size(), p);
        });
      },
      "Adamax step (MXNet NDArray arithmetic; lr already divided by 1-beta1^t), in place.",
      py::arg("weight"), py::arg("grad"), py::arg("mean"), py::arg("u"), py::kw_only(),
      py::arg("lr"), py::arg("beta1"), py::arg("one_minus_beta1"), py::arg("beta2"),
      py::arg("wd"), py::arg("rescale_grad"), py::arg("clip_gradient") = py::none());

  m.def(
      "nadam_update",
      [](py::object weight, py::object grad, py::object mean, py::object var, double lr,
         double beta1, double omb1, double beta2, double omb2, double epsilon, double wd,
         double rg, double omt, double mt1, double oms, double omsn, double omb2t,
         py::object clip) {
        const std::string fn = "nadam_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            m1 = buf(fn, mean, "mean", true), v = buf(fn, var, "var", true);
        like(fn, w, g);
        like(fn, w, m1);
        like(fn, w, v);
        k::NadamParams p;
        p.lr = lr;
        p.beta1 = beta1;
        p.one_minus_beta1 = omb1;
        p.beta2 = beta2;
        p.one_minus_beta2 = omb2;
        p.epsilon = epsilon;
        p.wd = wd;
        p.rescale_grad = rg;
        p.one_minus_momentum_t = omt;
        p.momentum_t1 = mt1;
        p.one_minus_m_schedule = oms;
        p.one_minus_m_schedule_next = omsn;
        p.one_minus_beta2_t = omb2t;
        p.clip = pclip(clip);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::nadam_update(w.ptr<T>(), g.ptr<T>(), m1.ptr<T>(), v.ptr<T>(), w.size(), p);
        });
      },
      "Nadam step (MXNet NDArray arithmetic), in place.", py::arg("weight"), py::arg("grad"),
      py::arg("mean"), py::arg("var"), py::kw_only(), py::arg("lr"), py::arg("beta1"),
      py::arg("one_minus_beta1"), py::arg("beta2"), py::arg("one_minus_beta2"),
      py::arg("epsilon"), py::arg("wd"), py::arg("rescale_grad"),
      py::arg("one_minus_momentum_t"), py::arg("momentum_t1"), py::arg("one_minus_m_schedule"),
      py::arg("one_minus_m_schedule_next"), py::arg("one_minus_beta2_t"),
      py::arg("clip_gradient") = py::none());
}

// ---- AdaGrad family, RMSProp, Ftrl/FTML -----------------------------------------------------
void bind_adagrad_rmsprop_ftrl(py::module_& m) {
  m.def(
      "adagrad_update",
      [](py::object weight, py::object grad, py::object history, double lr, double wd, double rg,
         double eps, py::object clip) {
        const std::string fn = "adagrad_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            h = buf(fn, history, "history", true);
        like(fn, w, g);
        like(fn, w, h);
        k::AdaGradParams p;
        p.lr = lr;
        p.wd = wd;
        p.rescale_grad = rg;
        p.epsilon = eps;
        p.clip = pclip(clip);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::adagrad_update(w.ptr<T>(), g.ptr<T>(), h.ptr<T>(), w.size(), p);
        });
      },
      "Dense AdaGrad step (MXNet NDArray arithmetic), in place.", py::arg("weight"),
      py::arg("grad"), py::arg("history"), py::kw_only(), py::arg("lr"), py::arg("wd"),
      py::arg("rescale_grad"), py::arg("epsilon"), py::arg("clip_gradient") = py::none());

  m.def(
      "adagrad_update_rsp",
      [](py::object weight, py::object data, py::object indices, py::object history, float lr,
         float rg, float eps, float clip) {
        const std::string fn = "adagrad_update_rsp";
        Buf w = buf(fn, weight, "weight", true);
        Rsp r = rsp(fn, w, data, indices);
        Buf h = buf(fn, history, "history", true);
        like(fn, w, h);
        k::AdaGradParams p;
        p.lr = lr;
        p.rescale_grad = rg;
        p.epsilon = eps;
        p.clip_gradient = clip;
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::adagrad_update_rsp(w.ptr<T>(), r.rows, r.view<T>(), h.ptr<T>(), p);
        });
      },
      "MXNet sparse adagrad_update (lazy), in place.", py::arg("weight"), py::arg("grad_data"),
      py::arg("grad_indices"), py::arg("history"), py::kw_only(), py::arg("lr"),
      py::arg("rescale_grad") = 1.0f, py::arg("epsilon") = 1e-7f,
      py::arg("clip_gradient") = k::kNoClip);

  auto group_history = [](const std::string& fn, const Buf& w, const Buf& h) {
    if (w.a.ndim() != 2)
      throw py::value_error(fn + ": weight must be 2-D, got shape " + shape_str(w.a));
    if (!(h.a.ndim() == 2 && h.a.shape(0) == w.a.shape(0) && h.a.shape(1) == 1))
      throw py::value_error(fn + ": history has shape " + shape_str(h.a) + " but must be (" +
                            std::to_string(w.a.shape(0)) + ", 1)");
    if (h.dt != w.dt)
      throw py::type_error(fn + ": history has dtype " + std::string(dt_name(h.dt)) +
                           " but weight has dtype " + dt_name(w.dt));
  };

  m.def(
      "group_adagrad_update",
      [group_history](py::object weight, py::object grad, py::object history, double lr,
                      double rg, double eps, py::object clip) {
        const std::string fn = "group_adagrad_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            h = buf(fn, history, "history", true);
        like(fn, w, g);
        group_history(fn, w, h);
        k::AdaGradParams p;
        p.lr = lr;
        p.rescale_grad = rg;
        p.epsilon = eps;
        p.clip = pclip(clip);
        const auto rows = static_cast<std::size_t>(w.a.shape(0));
        const auto cols = static_cast<std::size_t>(w.a.shape(1));
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::group_adagrad_update(w.ptr<T>(), g.ptr<T>(), h.ptr<T>(), rows, cols, p);
        });
      },
      "Dense GroupAdaGrad step (MXNet NDArray arithmetic), in place.", py::arg("weight"),
      py::arg("grad"), py::arg("history"), py::kw_only(), py::arg("lr"),
      py::arg("rescale_grad"), py::arg("epsilon"), py::arg("clip_gradient") = py::none());

  m.def(
      "group_adagrad_update_rsp",
      [group_history](py::object weight, py::object data, py::object indices, py::object history,
                      float lr, float rg, float eps, float clip) {
        const std::string fn = "group_adagrad_update_rsp";
        Buf w = buf(fn, weight, "weight", true);
        Rsp r = rsp(fn, w, data, indices);
        Buf h = buf(fn, history, "history", true);
        group_history(fn, w, h);
        k::AdaGradParams p;
        p.lr = lr;
        p.rescale_grad = rg;
        p.epsilon = eps;
        p.clip_gradient = clip;
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::group_adagrad_update_rsp(w.ptr<T>(), r.rows, r.view<T>(), h.ptr<T>(), p);
        });
      },
      "MXNet contrib.group_adagrad_update (lazy row_sparse), in place.", py::arg("weight"),
      py::arg("grad_data"), py::arg("grad_indices"), py::arg("history"), py::kw_only(),
      py::arg("lr"), py::arg("rescale_grad") = 1.0f, py::arg("epsilon") = 1e-5f,
      py::arg("clip_gradient") = k::kNoClip);

  m.def(
      "adadelta_update",
      [](py::object weight, py::object grad, py::object acc_g, py::object acc_delta, double rho,
         double omr, double eps, double wd, double rg, py::object clip) {
        const std::string fn = "adadelta_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", true),
            a = buf(fn, acc_g, "acc_g", true), d = buf(fn, acc_delta, "acc_delta", true);
        like(fn, w, g);
        like(fn, w, a);
        like(fn, w, d);
        k::AdaDeltaParams p;
        p.rho = rho;
        p.one_minus_rho = omr;
        p.epsilon = eps;
        p.wd = wd;
        p.rescale_grad = rg;
        p.clip = pclip(clip);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::adadelta_update(w.ptr<T>(), g.ptr<T>(), a.ptr<T>(), d.ptr<T>(), w.size(), p);
        });
      },
      "AdaDelta step (MXNet NDArray arithmetic; grad is multiplied by rescale_grad in place).",
      py::arg("weight"), py::arg("grad"), py::arg("acc_g"), py::arg("acc_delta"), py::kw_only(),
      py::arg("rho"), py::arg("one_minus_rho"), py::arg("epsilon"), py::arg("wd"), py::arg("rescale_grad"),
      py::arg("clip_gradient") = py::none());

  m.def(
      "rmsprop_update",
      [](py::object weight, py::object grad, py::object n, float lr, float gamma1, float epsilon,
         float wd, float rg, float clip, float clip_weights) {
        const std::string fn = "rmsprop_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            s = buf(fn, n, "n", true);
        like(fn, w, g);
        like(fn, w, s);
        k::RMSPropParams p;
        p.lr = lr;
        p.gamma1 = gamma1;
        p.epsilon = epsilon;
        p.wd = wd;
        p.rescale_grad = rg;
        p.clip_gradient = clip;
        p.clip_weights = clip_weights;
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::rmsprop_update(w.ptr<T>(), g.ptr<T>(), s.ptr<T>(), w.size(), p);
        });
      },
      "MXNet rmsprop_update, in place.", py::arg("weight"), py::arg("grad"), py::arg("n"),
      py::kw_only(), py::arg("lr"), py::arg("gamma1") = 0.95f, py::arg("epsilon") = 1e-8f,
      py::arg("wd") = 0.0f, py::arg("rescale_grad") = 1.0f, py::arg("clip_gradient") = k::kNoClip,
      py::arg("clip_weights") = k::kNoClip);

  m.def(
      "rmspropalex_update",
      [](py::object weight, py::object grad, py::object n, py::object gbar, py::object delta,
         float lr, float gamma1, float gamma2, float epsilon, float wd, float rg, float clip,
         float clip_weights) {
        const std::string fn = "rmspropalex_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            s = buf(fn, n, "n", true), gb = buf(fn, gbar, "g", true),
            d = buf(fn, delta, "delta", true);
        like(fn, w, g);
        like(fn, w, s);
        like(fn, w, gb);
        like(fn, w, d);
        k::RMSPropParams p;
        p.lr = lr;
        p.gamma1 = gamma1;
        p.gamma2 = gamma2;
        p.epsilon = epsilon;
        p.wd = wd;
        p.rescale_grad = rg;
        p.clip_gradient = clip;
        p.clip_weights = clip_weights;
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::rmspropalex_update(w.ptr<T>(), g.ptr<T>(), s.ptr<T>(), gb.ptr<T>(), d.ptr<T>(),
                                w.size(), p);
        });
      },
      "MXNet rmspropalex_update (centered RMSProp), in place.", py::arg("weight"),
      py::arg("grad"), py::arg("n"), py::arg("g"), py::arg("delta"), py::kw_only(),
      py::arg("lr"), py::arg("gamma1") = 0.95f, py::arg("gamma2") = 0.9f,
      py::arg("epsilon") = 1e-8f, py::arg("wd") = 0.0f, py::arg("rescale_grad") = 1.0f,
      py::arg("clip_gradient") = k::kNoClip, py::arg("clip_weights") = k::kNoClip);

  auto ftrl_params = [](float lr, float l1, float beta, float wd, float rg, float clip) {
    k::FtrlParams p;
    p.lr = lr;
    p.lamda1 = l1;
    p.beta = beta;
    p.wd = wd;
    p.rescale_grad = rg;
    p.clip_gradient = clip;
    return p;
  };
  m.def(
      "ftrl_update",
      [ftrl_params](py::object weight, py::object grad, py::object z, py::object n, float lr,
                    float l1, float beta, float wd, float rg, float clip) {
        const std::string fn = "ftrl_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            zz = buf(fn, z, "z", true), nn = buf(fn, n, "n", true);
        like(fn, w, g);
        like(fn, w, zz);
        like(fn, w, nn);
        const auto p = ftrl_params(lr, l1, beta, wd, rg, clip);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::ftrl_update(w.ptr<T>(), g.ptr<T>(), zz.ptr<T>(), nn.ptr<T>(), w.size(), p);
        });
      },
      "MXNet ftrl_update, in place.", py::arg("weight"), py::arg("grad"), py::arg("z"),
      py::arg("n"), py::kw_only(), py::arg("lr"), py::arg("lamda1") = 0.01f,
      py::arg("beta") = 1.0f, py::arg("wd") = 0.0f, py::arg("rescale_grad") = 1.0f,
      py::arg("clip_gradient") = k::kNoClip);

  m.def(
      "ftrl_update_rsp",
      [ftrl_params](py::object weight, py::object data, py::object indices, py::object z,
                    py::object n, float lr, float l1, float beta, float wd, float rg,
                    float clip) {
        const std::string fn = "ftrl_update_rsp";
        Buf w = buf(fn, weight, "weight", true);
        Rsp r = rsp(fn, w, data, indices);
        Buf zz = buf(fn, z, "z", true), nn = buf(fn, n, "n", true);
        like(fn, w, zz);
        like(fn, w, nn);
        const auto p = ftrl_params(lr, l1, beta, wd, rg, clip);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::ftrl_update_rsp(w.ptr<T>(), r.rows, r.view<T>(), zz.ptr<T>(), nn.ptr<T>(), p);
        });
      },
      "MXNet ftrl_update with a row_sparse gradient (lazy), in place.", py::arg("weight"),
      py::arg("grad_data"), py::arg("grad_indices"), py::arg("z"), py::arg("n"), py::kw_only(),
      py::arg("lr"), py::arg("lamda1") = 0.01f, py::arg("beta") = 1.0f, py::arg("wd") = 0.0f,
      py::arg("rescale_grad") = 1.0f, py::arg("clip_gradient") = k::kNoClip);

  m.def(
      "ftml_update",
      [](py::object weight, py::object grad, py::object d, py::object v, py::object z, float lr,
         float beta1, float beta2, double epsilon, float wd, float rg, float clip, int t) {
        const std::string fn = "ftml_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            dd = buf(fn, d, "d", true), vv = buf(fn, v, "v", true), zz = buf(fn, z, "z", true);
        like(fn, w, g);
        like(fn, w, dd);
        like(fn, w, vv);
        like(fn, w, zz);
        k::FTMLParams p;
        p.lr = lr;
        p.beta1 = beta1;
        p.beta2 = beta2;
        p.epsilon = epsilon;
        p.wd = wd;
        p.rescale_grad = rg;
        p.clip_gradient = clip;
        p.t = t;
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto tt) {
          using T = decltype(tt);
          k::ftml_update(w.ptr<T>(), g.ptr<T>(), dd.ptr<T>(), vv.ptr<T>(), zz.ptr<T>(), w.size(),
                         p);
        });
      },
      "MXNet ftml_update (epsilon is a double field), in place.", py::arg("weight"),
      py::arg("grad"), py::arg("d"), py::arg("v"), py::arg("z"), py::kw_only(), py::arg("lr"),
      py::arg("beta1") = 0.6f, py::arg("beta2") = 0.999f,
      py::arg("epsilon") = static_cast<double>(1e-8f), py::arg("wd") = 0.0f,
      py::arg("rescale_grad") = 1.0f, py::arg("clip_grad") = k::kNoClip, py::arg("t"));
}

// ---- LAMB/LANS, SGLD/DCASGD, Test, reductions, casts ----------------------------------------
void bind_misc(py::module_& m) {
  auto lamb_params = [](float lr, float beta1, float beta2, float epsilon, float wd, float rg,
                        float clip, float lower, float upper, int t, bool bc) {
    k::LAMBParams p;
    p.lr = lr;
    p.beta1 = beta1;
    p.beta2 = beta2;
    p.epsilon = epsilon;
    p.wd = wd;
    p.rescale_grad = rg;
    p.clip_gradient = clip;
    p.lower_bound = lower;
    p.upper_bound = upper;
    p.t = t;
    p.bias_correction = bc;
    return p;
  };
  m.def(
      "lamb_update",
      [lamb_params](py::object weight, py::object grad, py::object mean, py::object var,
                    float lr, float beta1, float beta2, float epsilon, float wd, float rg,
                    float clip, float lower, float upper, int t, bool bc, bool aggregated) {
        const std::string fn = "lamb_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            m1 = buf(fn, mean, "mean", true), v = buf(fn, var, "var", true);
        like(fn, w, g);
        like(fn, w, m1);
        like(fn, w, v);
        const auto p = lamb_params(lr, beta1, beta2, epsilon, wd, rg, clip, lower, upper, t, bc);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto tt) {
          using T = decltype(tt);
          k::lamb_update(w.ptr<T>(), g.ptr<T>(), m1.ptr<T>(), v.ptr<T>(), w.size(), p,
                         aggregated);
        });
      },
      "One LAMB step of one tensor (aggregated: multi_lamb_update, else lamb_update_phase1/2).",
      py::arg("weight"), py::arg("grad"), py::arg("mean"), py::arg("var"), py::kw_only(),
      py::arg("lr"), py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f,
      py::arg("epsilon") = 1e-6f, py::arg("wd") = 0.0f, py::arg("rescale_grad") = 1.0f,
      py::arg("clip_gradient") = k::kNoClip, py::arg("lower_bound") = -1.0f,
      py::arg("upper_bound") = -1.0f, py::arg("t"), py::arg("bias_correction") = true,
      py::arg("aggregated") = true);

  m.def(
      "mp_lamb_update",
      [lamb_params](py::object weight, py::object grad, py::object mean, py::object var,
                    py::object weight32, float lr, float beta1, float beta2, float epsilon,
                    float wd, float rg, float clip, float lower, float upper, int t, bool bc,
                    bool aggregated) {
        const std::string fn = "mp_lamb_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            m1 = buf(fn, mean, "mean", true), v = buf(fn, var, "var", true),
            w32 = buf(fn, weight32, "weight32", aggregated);
        require_dtype(fn, w, Dt::f16, "multi-precision weight");
        like(fn, w, g);
        like_f32(fn, w, m1, "multi-precision state");
        like_f32(fn, w, v, "multi-precision state");
        like_f32(fn, w, w32, "master copy");
        const auto p = lamb_params(lr, beta1, beta2, epsilon, wd, rg, clip, lower, upper, t, bc);
        py::gil_scoped_release nogil;
        k::mp_lamb_update(w.ptr<mxopt::float16>(), g.ptr<mxopt::float16>(), m1.ptr<float>(),
                          v.ptr<float>(), w32.ptr<float>(), w.size(), p, aggregated);
      },
      "One multi-precision LAMB step of one tensor (see mxopt/optimizers/lamb.h).",
      py::arg("weight"), py::arg("grad"), py::arg("mean"), py::arg("var"), py::arg("weight32"),
      py::kw_only(), py::arg("lr"), py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f,
      py::arg("epsilon") = 1e-6f, py::arg("wd") = 0.0f, py::arg("rescale_grad") = 1.0f,
      py::arg("clip_gradient") = k::kNoClip, py::arg("lower_bound") = -1.0f,
      py::arg("upper_bound") = -1.0f, py::arg("t"), py::arg("bias_correction") = true,
      py::arg("aggregated") = true);

  m.def(
      "lans_update",
      [](py::object weight, py::object grad, py::object mean, py::object var, float lr,
         float beta1, float beta2, float epsilon, float wd, float rg, float clip, bool p_clip,
         float lower, float upper, int t, bool fused, py::object norm_weight, double omb1,
         double omb2) {
        const std::string fn = "lans_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            m1 = buf(fn, mean, "mean", true), v = buf(fn, var, "var", true);
        like(fn, w, g);
        like(fn, w, m1);
        like(fn, w, v);
        Buf nw;
        const bool has_nw = !is_none(norm_weight);
        if (has_nw) {
          nw = buf(fn, norm_weight, "norm_weight", false);
          require_shape(fn, w, nw);
          require_dtype(fn, nw, Dt::f16, "the float16 weight of a multi-precision update");
        }
        k::LANSParams p;
        p.lr = lr;
        p.beta1 = beta1;
        p.beta2 = beta2;
        p.epsilon = epsilon;
        p.wd = wd;
        p.rescale_grad = rg;
        p.clip_gradient = clip;
        p.p_clip = p_clip;
        p.one_minus_beta1 = omb1;
        p.one_minus_beta2 = omb2;
        p.lower_bound = lower;
        p.upper_bound = upper;
        p.t = t;
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto tt) {
          using T = decltype(tt);
          k::lans_update(w.ptr<T>(), g.ptr<T>(), m1.ptr<T>(), v.ptr<T>(), w.size(), p, fused,
                         has_nw ? nw.ptr<mxopt::float16>() : nullptr);
        });
      },
      "One LANS step of one tensor (fused: MXNet 2.0 multi_lans_update, else 2.0 step()).",
      py::arg("weight"), py::arg("grad"), py::arg("mean"), py::arg("var"), py::kw_only(),
      py::arg("lr"), py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f,
      py::arg("epsilon") = 1e-6f, py::arg("wd") = 0.0f, py::arg("rescale_grad") = 1.0f,
      py::arg("clip_gradient") = k::kNoClip, py::arg("p_clip") = false,
      py::arg("lower_bound") = -1.0f, py::arg("upper_bound") = -1.0f, py::arg("t"),
      py::arg("fused") = true, py::arg("norm_weight") = py::none(),
      py::arg("one_minus_beta1") = 0.1, py::arg("one_minus_beta2") = 0.001);

  m.def(
      "sgld_update",
      [](py::object weight, py::object grad, py::object noise, double neg_half_lr, double wd,
         double rg, py::object clip) {
        const std::string fn = "sgld_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            z = buf(fn, noise, "noise", false);
        like(fn, w, g);
        like(fn, w, z);
        k::SGLDParams p;
        p.neg_half_lr = neg_half_lr;
        p.wd = wd;
        p.rescale_grad = rg;
        p.clip = pclip(clip);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::sgld_update(w.ptr<T>(), g.ptr<T>(), z.ptr<T>(), w.size(), p);
        });
      },
      "SGLD step with caller-drawn N(0, sqrt(lr)) noise (MXNet NDArray arithmetic), in place.",
      py::arg("weight"), py::arg("grad"), py::arg("noise"), py::kw_only(),
      py::arg("neg_half_lr"), py::arg("wd"), py::arg("rescale_grad"), py::arg("clip_gradient") = py::none());

  m.def(
      "dcasgd_update",
      [](py::object weight, py::object grad, py::object prev, double lr, double wd, double lamda,
         double rg, py::object clip) {
        const std::string fn = "dcasgd_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            p0 = buf(fn, prev, "previous_weight", true);
        like(fn, w, g);
        like(fn, w, p0);
        k::DCASGDParams p;
        p.lr = lr;
        p.wd = wd;
        p.lamda = lamda;
        p.rescale_grad = rg;
        p.clip = pclip(clip);
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::dcasgd_update(w.ptr<T>(), g.ptr<T>(), p0.ptr<T>(), w.size(), p);
        });
      },
      "DCASGD step (momentum 0; MXNet NDArray arithmetic), in place.", py::arg("weight"),
      py::arg("grad"), py::arg("previous_weight"), py::kw_only(), py::arg("lr"), py::arg("wd"),
      py::arg("lamda"), py::arg("rescale_grad"), py::arg("clip_gradient") = py::none());

  m.def(
      "test_update",
      [](py::object weight, py::object grad, py::object state, double rg) {
        const std::string fn = "test_update";
        Buf w = buf(fn, weight, "weight", true), g = buf(fn, grad, "grad", false),
            s = buf(fn, state, "state", true);
        like(fn, w, g);
        like_f32(fn, w, s, "the Test optimizer's state is float32");
        py::gil_scoped_release nogil;
        by_dtype(w.dt, [&](auto t) {
          using T = decltype(t);
          k::test_update(w.ptr<T>(), g.ptr<T>(), s.ptr<float>(), w.size(), rg);
        });
      },
      "The Test optimizer: w += g*rescale_grad; state[:] = w.", py::arg("weight"),
      py::arg("grad"), py::arg("state"), py::kw_only(), py::arg("rescale_grad"));

  m.def(
      "sum_sq",
      [](py::object x) {
        Buf b = buf("sum_sq", x, "x", false);
        float r = 0.0f;
        py::gil_scoped_release nogil;
        by_dtype(b.dt, [&](auto t) {
          using T = decltype(t);
          r = k::sum_sq(b.ptr<T>(), b.size());
        });
        return r;
      },
      "Sum of squares with MXNet multi_sum_sq semantics (float32, sequential).", py::arg("x"));

  m.def(
      "nrm2",
      [](py::object x) {
        Buf b = buf("nrm2", x, "x", false);
        double r = 0.0;
        py::gil_scoped_release nogil;
        by_dtype(b.dt, [&](auto t) {
          using T = decltype(t);
          r = k::nrm2(b.ptr<T>(), b.size());
        });
        return r;
      },
      "L2 norm with MXNet NDArray.norm() semantics (in the array dtype), as a double.",
      py::arg("x"));

  m.def(
      "dot_norm",
      [](py::object x) {
        Buf b = buf("dot_norm", x, "x", false);
        double r = 0.0;
        py::gil_scoped_release nogil;
        by_dtype(b.dt, [&](auto t) {
          using T = decltype(t);
          r = k::dot_norm(b.ptr<T>(), b.size());
        });
        return r;
      },
      "L2 norm of row_sparse data as MXNet computes it (BLAS dot, see common.h), as a double.",
      py::arg("x"));

  m.def(
      "cast_into",
      [](py::object src, py::object dst) {
        const std::string fn = "cast_into";
        Buf s = buf(fn, src, "src", false), d = buf(fn, dst, "dst", true);
        require_shape(fn, s, d);
        if (s.dt == Dt::f32 && d.dt == Dt::f16) {
          py::gil_scoped_release nogil;
          k::cast(s.ptr<float>(), d.ptr<mxopt::float16>(), s.size());
        } else if (s.dt == Dt::f16 && d.dt == Dt::f32) {
          py::gil_scoped_release nogil;
          k::cast(s.ptr<mxopt::float16>(), d.ptr<float>(), s.size());
        } else {
          throw py::type_error(fn + ": supports float32 -> float16 and float16 -> float32, got " +
                               dt_name(s.dt) + " -> " + dt_name(d.dt));
        }
      },
      "dst[...] = src converted (float32 <-> float16, round to nearest even), in place.",
      py::arg("src"), py::arg("dst"));
}

// ---- multi-tensor steps ------------------------------------------------------------------------
// A validated list of tensors: weights (one dtype; float16 for the multi-precision kernels),
// gradients like the weights, state lists (each like the weights, or float32 of the weights'
// shape), and later the per-tensor hyper-parameters. Every tensor is checked before anything is
// written; the kernels get pointer arrays and run without the GIL.
struct MultiData {
  std::vector<Buf> w, g;
  std::vector<std::vector<Buf>> s;  // one entry per state list (empty: the list was None)
  std::vector<std::size_t> n;
  Dt dt = Dt::f32;
  std::size_t count() const { return n.size(); }
  template <class T>
  static std::vector<T*> ptrs(const std::vector<Buf>& v) {
    std::vector<T*> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = v[i].template ptr<T>();
    return out;
  }
  template <class T>
  std::vector<T*> state(std::size_t k) const {
    return ptrs<T>(s[k]);
  }
};

// A state list argument: `list` (None allowed iff `optional`), named `name` in messages; `f32`:
// float32 of the weights' shape (master copies, float32 moments), else like the weights.
struct StateArg {
  py::object list;
  const char* name;
  bool f32 = false;
  bool optional = false;
};

// What a kernel reads: a view of shared (possibly cached, see MultiTensors) validated tensors.
struct MultiArgs {
  explicit MultiArgs(std::shared_ptr<const MultiData> d)
      : keep(std::move(d)), w(keep->w), g(keep->g), s(keep->s), n(keep->n), dt(keep->dt) {}
  std::shared_ptr<const MultiData> keep;
  const std::vector<Buf>&w, &g;
  const std::vector<std::vector<Buf>>& s;
  const std::vector<std::size_t>& n;
  const Dt dt;
  std::size_t count() const { return n.size(); }
  template <class T>
  static std::vector<T*> ptrs(const std::vector<Buf>& v) {
    return MultiData::ptrs<T>(v);
  }
  template <class T>
  std::vector<T*> state(std::size_t k) const {
    return ptrs<T>(s[k]);
  }
};

template <class F = float>
std::vector<F> float_list(const std::string& fn, const py::sequence& v, const char* name,
                          std::size_t count) {
  if (static_cast<std::size_t>(py::len(v)) != count)
    throw py::value_error(fn + ": " + name + " has " + std::to_string(py::len(v)) +
                          " entries but there are " + std::to_string(count) + " weights");
  std::vector<F> out(count);
  if (py::isinstance<py::array_t<double, py::array::c_style>>(v) &&
      py::reinterpret_borrow<py::array>(v).ndim() == 1) {
    // A float64 vector: each entry converted as a Python float would be (double -> F).
    const double* p = static_cast<const double*>(py::reinterpret_borrow<py::array>(v).data());
    for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<F>(p[i]);
    return out;
  }
  for (std::size_t i = 0; i < count; ++i) out[i] = v[i].cast<F>();
  return out;
}

// mp: the weights must be float16 (multi-precision kernels). grad_write: the kernel may write
// the gradients (MXNet's single-form AdamW rescales them in place).
MultiData build_multi_args(const std::string& fn, const py::sequence& weights,
                           const py::sequence& grads, const std::vector<StateArg>& states,
                           bool mp = false, bool grad_write = false) {
  MultiData a;
  const std::size_t count = static_cast<std::size_t>(py::len(weights));
  auto check_len = [&](const py::sequence& v, const char* name) {
    if (static_cast<std::size_t>(py::len(v)) != count)
      throw py::value_error(fn + ": " + name + " has " + std::to_string(py::len(v)) +
                            " entries but weights has " + std::to_string(count));
  };
  check_len(grads, "grads");
  std::vector<py::sequence> lists(states.size());
  for (std::size_t k = 0; k < states.size(); ++k) {
    if (states[k].list.is_none()) {
      if (!states[k].optional)
        throw py::type_error(fn + ": " + states[k].name + " must be a list of arrays, got None");
      continue;
    }
    lists[k] = py::sequence(states[k].list);
    check_len(lists[k], states[k].name);
  }
  a.s.resize(states.size());
  a.w.reserve(count);
  a.g.reserve(count);
  a.n.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string ix = "[" + std::to_string(i) + "]";
    a.w.push_back(buf(fn, weights[i], ("weights" + ix).c_str(), true));
    a.g.push_back(buf(fn, grads[i], ("grads" + ix).c_str(), grad_write));
    like(fn, a.w[i], a.g[i]);
    if (i == 0) {
      a.dt = a.w[0].dt;
      if (mp) require_dtype(fn, a.w[0], Dt::f16, "multi-precision weights");
    }
    if (a.w[i].dt != a.dt)
      throw py::type_error(fn + ": weights" + ix + " has dtype " + dt_name(a.w[i].dt) +
                           " but weights[0] has dtype " + dt_name(a.dt) +
                           " (group tensors by dtype)");
    for (std::size_t k = 0; k < states.size(); ++k) {
      if (states[k].list.is_none()) continue;
      a.s[k].push_back(buf(fn, lists[k][i], (std::string(states[k].name) + ix).c_str(), true));
      if (states[k].f32)
        like_f32(fn, a.w[i], a.s[k].back(), "float32 state");
      else
        like(fn, a.w[i], a.s[k].back());
    }
    a.n.push_back(a.w[i].size());
  }
  return a;
}

// The fields of a numpy array a cached validation depends on.
struct ArrayStamp {
  const void* data;
  const void* descr;
  int flags;
  int nd;
  std::size_t dims;  // offset of its shape in MultiTensors::dims_
};

constexpr int kStampFlags = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ |
                            py::detail::npy_api::NPY_ARRAY_WRITEABLE_;

// A list of weights (a sequence: any multi-tensor kernel accepts it in place of the weights list)
// that caches the validated arguments of the kernel calls made with it. The cache is used while
// the kernel, the grads / states lists (the same list objects holding the same arrays) and every
// array's data pointer, dtype, shape, contiguity and writeability are unchanged; otherwise the
// arguments are validated again in full (same errors as with plain lists). The Updater's step
// plan (mxopt/optimizer/_plan.py) uses it to skip per-tensor validation in steady state.
// A strict one (the plan's) instead raises StaleMultiTensors, before anything is written, when
// the lists or arrays are not those recorded by `prime`: the plan then undoes its step and the
// Updater takes its per-index path, with that path's errors and side effects.
struct StaleMultiTensors : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class MultiTensors {
 public:
  explicit MultiTensors(py::list weights, bool strict = false)
      : weights_(std::move(weights)), strict_(strict) {}

  std::size_t size() const { return static_cast<std::size_t>(py::len(weights_)); }
  py::object item(py::ssize_t i) const {
    const py::ssize_t n = static_cast<py::ssize_t>(size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) throw py::index_error("MultiTensors index out of range");
    return weights_[static_cast<std::size_t>(i)];
  }

  // The cached arguments if still valid for (fn, grads, states), else fully validated new ones
  // (a kernel `fn` always passes the same StateArg specs, mp and grad_write).
  MultiArgs args(const std::string& fn, const py::sequence& grads,
                 const std::vector<StateArg>& states, bool mp, bool grad_write) {
    std::vector<py::object> lists = {grads};
    for (const StateArg& st : states) lists.push_back(st.list);
    if (strict_) {
      if (!unchanged(lists))
        throw StaleMultiTensors(fn + ": the arrays changed since the step plan recorded them");
      if (!data_ || fn != fn_) {  // recorded, unchanged, not yet validated for fn
        data_ = std::make_shared<const MultiData>(
            build_multi_args(fn, weights_, grads, states, mp, grad_write));
        fn_ = fn;
      }
      return MultiArgs(data_);
    }
    if (!data_ || fn != fn_ || !unchanged(lists)) {
      auto d = std::make_shared<const MultiData>(
          build_multi_args(fn, weights_, grads, states, mp, grad_write));
      prime(lists);
      data_ = std::move(d);
      fn_ = fn;
    }
    return MultiArgs(data_);
  }

  // Records the lists and their arrays as they are now (after a successful kernel call with
  // them): until one of them changes, `unchanged` is true and the next call cannot fail its
  // validation. False (nothing recorded) if a list is not a list of numpy arrays.
  bool prime(std::vector<py::object> lists) {
    trim(lists);
    data_.reset();
    fn_.clear();
    lists_.clear();
    objs_.clear();
    stamps_.clear();
    dims_.clear();
    if (!record(weights_)) return false;
    for (const py::object& l : lists) {
      lists_.push_back(l);
      if (!l.is_none() && !record(l)) {
        lists_.clear();
        return false;
      }
    }
    return true;
  }

  // True iff `lists` (grads, then the state lists) are the recorded list objects, holding the
  // recorded arrays, unchanged.
  bool unchanged(const std::vector<py::object>& lists) const {
    const std::size_t m = trimmed_size(lists);
    if (lists_.empty() || m != lists_.size()) return false;
    for (std::size_t j = 0; j < m; ++j)
      if (lists[j].ptr() != lists_[j].ptr()) return false;
    std::size_t k = 0;
    auto same = [&](const py::object& l) {
      const py::ssize_t n = PyList_GET_SIZE(l.ptr());
      if (k + static_cast<std::size_t>(n) > objs_.size()) return false;
      for (py::ssize_t i = 0; i < n; ++i, ++k)
        if (PyList_GET_ITEM(l.ptr(), i) != objs_[k].ptr() || !same_stamp(objs_[k], stamps_[k]))
          return false;
      return true;
    };
    if (!same(weights_)) return false;
    for (const py::object& l : lists_)
      if (!l.is_none() && !same(l)) return false;
    return k == objs_.size();
  }

 private:
  // Trailing None lists are absent lists (kernels with fewer state lists pass None).
  static std::size_t trimmed_size(const std::vector<py::object>& lists) {
    std::size_t m = lists.size();
    while (m > 0 && lists[m - 1].is_none()) --m;
    return m;
  }
  static void trim(std::vector<py::object>& lists) { lists.resize(trimmed_size(lists)); }

  bool record(const py::object& l) {
    if (!PyList_CheckExact(l.ptr())) return false;
    const py::ssize_t n = PyList_GET_SIZE(l.ptr());
    for (py::ssize_t i = 0; i < n; ++i) {
      py::handle a = PyList_GET_ITEM(l.ptr(), i);
      if (!py::isinstance<py::array>(a)) return false;
      const auto* p = py::detail::array_proxy(a.ptr());
      objs_.push_back(py::reinterpret_borrow<py::object>(a));
      stamps_.push_back({p->data, p->descr, p->flags & kStampFlags, p->nd, dims_.size()});
      dims_.insert(dims_.end(), p->dimensions, p->dimensions + p->nd);
    }
    return true;
  }

  bool same_stamp(const py::object& a, const ArrayStamp& s) const {
    const auto* p = py::detail::array_proxy(a.ptr());
    if (p->data != s.data || static_cast<const void*>(p->descr) != s.descr ||
        (p->flags & kStampFlags) != s.flags || p->nd != s.nd)
      return false;
    for (int j = 0; j < p->nd; ++j)
      if (p->dimensions[j] != dims_[s.dims + static_cast<std::size_t>(j)]) return false;
    return true;
  }

  py::list weights_;
  bool strict_;
  std::shared_ptr<const MultiData> data_;
  std::string fn_;
  std::vector<py::object> lists_;  // grads and state lists (None: absent) the record is of
  std::vector<py::object> objs_;   // their arrays, in order (weights first)
  std::vector<ArrayStamp> stamps_;
  std::vector<py::ssize_t> dims_;
};

MultiArgs multi_args(const std::string& fn, const py::sequence& weights, const py::sequence& grads,
                     const std::vector<StateArg>& states, bool mp = false,
                     bool grad_write = false) {
  if (py::isinstance<MultiTensors>(weights))
    return weights.cast<MultiTensors&>().args(fn, grads, states, mp, grad_write);
  return MultiArgs(std::make_shared<const MultiData>(
      build_multi_args(fn, weights, grads, states, mp, grad_write)));
}

// Where objects of one type keep `_data` when it is a plain __slots__ entry (NDArray's): the
// plan's per-step checks read the slot directly instead of looking the attribute up (15 -> 3 ns
// per tensor). Valid while the type's version tag is: CPython clears the tag whenever an
// attribute of the type or of a base is set or deleted.
struct DataSlot {
  PyTypeObject* type = nullptr;
  unsigned int version = 0;
  Py_ssize_t offset = 0;
};

bool cacheable_version(PyTypeObject* t) {
  return (t->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) != 0 && t->tp_version_tag != 0;
}

// The buffer behind a weight / gradient / state: the array itself or its `_data` (NDArray);
// nullptr if it has neither.
PyObject* buffer_of(PyObject* obj) {
  static PyObject* const name = PyUnicode_InternFromString("_data");
  static DataSlot slot;
  PyTypeObject* t = Py_TYPE(obj);
  if (t == slot.type && cacheable_version(t) && t->tp_version_tag == slot.version)
    return *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(obj) + slot.offset);
  if (t == py::detail::npy_api::get().PyArray_Type_ || py::isinstance<py::array>(obj))
    return obj;
  PyObject* b = PyObject_GetAttr(obj, name);
  if (b == nullptr) {
    PyErr_Clear();
    return nullptr;
  }
  Py_DECREF(b);  // still owned by obj
  // Attribute access on the type gives the descriptor itself; a T_OBJECT_EX member (a
  // __slots__ entry) reads the pointer at its offset, which is what the fast path does.
  PyObject* d = PyObject_GetAttr(reinterpret_cast<PyObject*>(t), name);
  if (d == nullptr) {
    PyErr_Clear();
  } else {
    if (Py_TYPE(d) == &PyMemberDescr_Type && cacheable_version(t)) {
      const PyMemberDef* m = reinterpret_cast<PyMemberDescrObject*>(d)->d_member;
      if (m->type == T_OBJECT_EX &&
          *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(obj) + m->offset) == b)
        slot = {t, t->tp_version_tag, m->offset};
    }
    Py_DECREF(d);
  }
  return b;
}

// f(i, d[keys[i]]) for i = 0, 1, ... while f returns true (nullptr: the key is missing). When
// d holds exactly these keys in this order (the plan's dicts were filled in index order), its
// entries are read in one sequential pass instead of n hash lookups (7 -> 2 ns per key).
template <class F>
void for_dict_values(const py::dict& d, const py::list& keys, F&& f) {
  const py::ssize_t n = PyList_GET_SIZE(keys.ptr());
  py::ssize_t i = 0;
  if (PyDict_GET_SIZE(d.ptr()) == n) {
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    // Nothing here runs Python code (f only compares pointers and exact ints), so the dict
    // cannot change during the pass.
    while (i < n && PyDict_Next(d.ptr(), &pos, &k, &v) && k == PyList_GET_ITEM(keys.ptr(), i)) {
      if (!f(i, v)) return;
      ++i;
    }
  }
  for (; i < n; ++i) {  // the rest (all of them unless the dict is in key order) by lookup
    PyObject* v = PyDict_GetItemWithError(d.ptr(), PyList_GET_ITEM(keys.ptr(), i));
    if (v == nullptr && PyErr_Occurred()) throw py::error_already_set();
    if (!f(i, v)) return;
  }
}

// True iff objs[i] is cached[i] and its buffer (itself or its _data) is bufs[i], for all i.
bool same_sources(const py::sequence& objs, const py::list& cached, const py::list& bufs) {
  const py::ssize_t n = PyList_GET_SIZE(cached.ptr());
  if (py::len(objs) != static_cast<std::size_t>(n) || PyList_GET_SIZE(bufs.ptr()) != n)
    return false;
  const py::object fast = py::reinterpret_steal<py::object>(
      PySequence_Fast(objs.ptr(), "same_sources: objs must be a sequence"));
  if (!fast) throw py::error_already_set();
  PyObject** items = PySequence_Fast_ITEMS(fast.ptr());
  for (py::ssize_t i = 0; i < n; ++i) {
    if (items[i] != PyList_GET_ITEM(cached.ptr(), i)) return false;
    if (buffer_of(items[i]) != PyList_GET_ITEM(bufs.ptr(), i)) return false;
  }
  return true;
}

// True iff d[keys[i]] is values[i] for all i.
bool same_dict_items(const py::dict& d, const py::list& keys, const py::list& values) {
  const py::ssize_t n = PyList_GET_SIZE(keys.ptr());
  if (PyList_GET_SIZE(values.ptr()) != n) return false;
  bool same = true;
  for_dict_values(d, keys, [&](py::ssize_t i, PyObject* v) {
    same = v != nullptr && v == PyList_GET_ITEM(values.ptr(), i);
    return same;
  });
  return same;
}

// The int d[k] shared by every key k (nullptr if a key is missing or the values differ).
PyObject* common_count(const py::dict& d, const py::list& keys) {
  PyObject *first = nullptr, *same = nullptr;  // same: the last value found equal
  bool ok = true;
  for_dict_values(d, keys, [&](py::ssize_t, PyObject* v) {
    if (v == same) return true;  // a plan sets most counts to one int object
    if (v == nullptr || !PyLong_CheckExact(v)) return ok = false;
    if (first != nullptr) {
      const int eq = PyObject_RichCompareBool(v, first, Py_EQ);
      if (eq < 0) throw py::error_already_set();
      if (eq == 0) return ok = false;
    } else {
      first = v;
    }
    same = v;
    return true;
  });
  return ok ? first : nullptr;
}

// d[k] = value for every k in keys.
void set_items(const py::dict& d, const py::list& keys, PyObject* value) {
  const py::ssize_t n = PyList_GET_SIZE(keys.ptr());
  for (py::ssize_t i = 0; i < n; ++i)
    if (PyDict_SetItem(d.ptr(), PyList_GET_ITEM(keys.ptr(), i), value) != 0)
      throw py::error_already_set();
}

// A step plan's steady state in one call (python/mxopt/optimizer/_plan.py, StepPlan.fast): the
// checks of StepPlan.matches and of run's reuse of the last prepare, for a static class whose
// counts Optimizer._update_count advances (or a class with _bias_lr, Adam and AdamW: each
// step's lrs are then _bias_lr(rate, t) of the representatives' rates), then the count advance
// and the kernel call. It checks as much as the Python plan or more (the type's version tag must
// be unchanged, the scheduler None, param_dict empty); when a check fails it returns False
// having changed nothing, and the Python plan decides. Built from the plan after a prepare.
//
// The optimizer's attributes are checked in one pass over its __dict__: the plan's names in
// their order, each bound to the object the prepare saw (all but num_update). The attributes
// read here (multipliers, names, counts) are then those objects: the type's version tag vouches
// that no class attribute (a property, say) overrides them.
class PlanStep {
 public:
  PlanStep(const py::object& plan, py::object stale) : stale_(std::move(stale)) {
    auto get = [&](const char* name) { return plan.attr(name); };
    opt_ = get("opt");
    type_ = Py_TYPE(opt_.ptr());
    states_ = get("states_dict");
    synced_ = get("synced_dict");
    raw_index_ = get("raw_index");
    attr_keys_ = get("attr_keys");
    py::tuple aggregate = get("aggregate");
    agg_updates_ = aggregate[0];
    lr_mult_ = get("lr_mult");
    wd_mult_ = get("wd_mult");
    idx2name_ = get("idx2name");
    keys_ = get("keys");
    weights_ = get("weights");
    wbufs_ = get("wbufs");
    grads_ = get("grads");
    gbufs_ = get("gbufs");
    state_objs_ = get("state_objs");
    leaves_ = get("leaves");
    leaf_bufs_ = get("leaf_bufs");
    dev_ = py::int_(get("dev"));
    kernel_ = get("kernel");
    py::list args;
    args.append(get("mt"));
    args.append(get("kgrads"));
    for (const auto& st : py::list(get("kstates"))) args.append(st);
    args.append(get("lrv"));
    args.append(get("wdv"));
    for (const auto& a : py::tuple(get("tail"))) args.append(a);
    lr_slot_ = PyList_GET_SIZE(args.ptr()) - 2 - static_cast<py::ssize_t>(py::len(get("tail")));
    args_ = py::tuple(args);
    if (get("rates").cast<bool>()) {  // Adam, AdamW: lrs = [_bias_lr(rate, t) for each rate]
      base_lrs_ = get("base_lrs");
      if (!PyList_CheckExact(base_lrs_.ptr()))
        throw py::type_error("PlanStep: rates need the representatives' base rates");
      const py::object ids = get("class_ids");  // tensor i takes representative ids[i]'s lr
      if (!ids.is_none())
        for (const auto& id : py::list(ids.attr("tolist")())) {
          class_ids_.push_back(id.cast<py::ssize_t>());
          if (class_ids_.back() < 0 || class_ids_.back() >= PyList_GET_SIZE(base_lrs_.ptr()))
            throw py::type_error("PlanStep: a class id out of range");
        }
    }
    const py::tuple memo = get("memo");
    tag_ = memo[3].cast<unsigned int>();
    if (!(PyList_CheckExact(raw_index_.ptr()) && PyTuple_CheckExact(attr_keys_.ptr()) &&
          PyDict_CheckExact(states_.ptr()) && PyDict_CheckExact(lr_mult_.ptr()) &&
          PyDict_CheckExact(wd_mult_.ptr()) && PyDict_CheckExact(idx2name_.ptr()) &&
          PyList_CheckExact(keys_.ptr()) && PyList_CheckExact(weights_.ptr()) &&
          PyList_CheckExact(wbufs_.ptr()) && PyList_CheckExact(grads_.ptr()) &&
          PyList_CheckExact(gbufs_.ptr()) && PyList_CheckExact(state_objs_.ptr()) &&
          PyList_CheckExact(leaves_.ptr()) && PyList_CheckExact(leaf_bufs_.ptr()) && tag_ != 0 &&
          cacheable_version(type_) && type_->tp_version_tag == tag_))
      throw py::type_error("PlanStep: not a plan of a static class with a reusable prepare");
    // The attribute values the prepare saw, in the plan's attribute order.
    const py::list memo_keys(memo[0]), memo_vals(memo[1]);
    const py::ssize_t n = PyTuple_GET_SIZE(attr_keys_.ptr());
    for (py::ssize_t i = 0; i < n; ++i) {
      PyObject* k = PyTuple_GET_ITEM(attr_keys_.ptr(), i);
      PyObject* v = nullptr;
      for (py::ssize_t j = 0; j < PyList_GET_SIZE(memo_keys.ptr()); ++j)
        if (PyList_GET_ITEM(memo_keys.ptr(), j) == k) v = PyList_GET_ITEM(memo_vals.ptr(), j);
      if (v == nullptr && !(PyUnicode_Check(k) && PyUnicode_Compare(k, name_.num_update) == 0))
        throw py::type_error("PlanStep: the plan's attributes are not the prepare's");
      expected_.push_back(py::reinterpret_borrow<py::object>(v));  // null: num_update
    }
    // The attributes this step reads, as the prepare saw them (no class attribute may shadow
    // them: a data descriptor would win over the instance dict).
    auto saw = [&](PyObject* name) {
      PyObject* over = _PyType_Lookup(type_, name);
      if (over != nullptr && Py_TYPE(over)->tp_descr_set != nullptr)
        throw py::type_error("PlanStep: a class attribute shadows an optimizer attribute");
      for (py::ssize_t i = 0; i < n; ++i)
        if (PyTuple_GET_ITEM(attr_keys_.ptr(), i) == name && expected_[i])
          return expected_[i];
      throw py::type_error("PlanStep: the optimizer lacks an attribute the plan reads");
    };
    // Attribute names in the dict are interned, so they are these very objects.
    if (!saw(name_.lr_scheduler).is_none() || !saw(name_.aggregate_num).is(aggregate[1]))
      throw py::type_error("PlanStep: an lr scheduler, or another aggregate_num");
    cur_lr_mult_ = saw(name_.lr_mult);
    cur_wd_mult_ = saw(name_.wd_mult);
    cur_idx2name_ = saw(name_.idx2name);
    all_counts_ = saw(name_.all_index_update_counts);
    counts_ = saw(name_.index_update_count);
    const py::object params = saw(name_.param_dict);
    if (!params.is(get("params")) || !PyDict_CheckExact(params.ptr()) ||
        PyDict_GET_SIZE(params.ptr()) != 0 || !PyDict_CheckExact(all_counts_.ptr()) ||
        !PyDict_CheckExact(counts_.ptr()) || _PyType_Lookup(type_, name_.num_update) != nullptr)
      throw py::type_error("PlanStep: param_dict is not empty, or the counts are not dicts");
    params_ = params;
  }

  // One step if everything is as the plan recorded it: True; else False, nothing changed.
  bool operator()(const py::object& upd, const py::object& index, const py::object& grad,
                  const py::object& weight) const {
    PyObject* opt = opt_.ptr();
    if (!is(upd, name_.optimizer, opt) || !is(upd, name_.states, states_.ptr()) ||
        !is(upd, name_.states_synced, synced_.ptr()) ||
        !is(upd, name_.aggregate_updates, agg_updates_.ptr()) || !same_index(index))
      return false;
    if (Py_TYPE(opt) != type_ || !cacheable_version(type_) || type_->tp_version_tag != tag_)
      return false;  // an attribute of the class or of a base was set (methods, version...)
    const py::object d = py::reinterpret_steal<py::object>(PyObject_GenericGetDict(opt, nullptr));
    if (!d) throw py::error_already_set();
    PyObject* num_update = same_attributes(d.ptr());
    if (num_update == nullptr) return false;
    // The containers compared by content (multipliers by identity of their values).
    if (!same_mults(cur_lr_mult_.ptr(), lr_mult_.ptr()) ||
        !same_mults(cur_wd_mult_.ptr(), wd_mult_.ptr()) || PyDict_GET_SIZE(params_.ptr()) != 0)
      return false;
    const int eq = PyObject_RichCompareBool(cur_idx2name_.ptr(), idx2name_.ptr(), Py_EQ);
    if (eq < 0) throw py::error_already_set();
    if (eq == 0) return false;
    if (!same_sources(weight, weights_, wbufs_) || !same_sources(grad, grads_, gbufs_) ||
        !same_dict_items(states_, keys_, state_objs_) ||
        !same_sources(leaves_, leaves_, leaf_bufs_))
      return false;
    // _set_current_context(dev) would rebind _index_update_count to the same dict.
    PyObject* counts = PyDict_GetItemWithError(all_counts_.ptr(), dev_.ptr());
    if (counts != counts_.ptr()) {
      if (counts == nullptr && PyErr_Occurred()) throw py::error_already_set();
      return false;
    }
    const py::dict cd = py::reinterpret_borrow<py::dict>(counts);
    PyObject* c = common_count(cd, keys_);
    if (c == nullptr) return false;
    // Everything checked: every count to t = c + 1, num_update = max(t, num_update), then the
    // kernel; if the kernel finds an array changed (it wrote nothing), both are undone.
    const py::object c_obj = py::reinterpret_borrow<py::object>(c);
    const py::object before = py::reinterpret_borrow<py::object>(num_update);
    const py::object t = py::reinterpret_steal<py::object>(PyNumber_Add(c, one().ptr()));
    if (!t) throw py::error_already_set();
    py::tuple args = args_;
    if (base_lrs_ && !bias_rates(t, args)) return false;
    const int gt = PyObject_RichCompareBool(before.ptr(), t.ptr(), Py_GT);
    if (gt < 0) throw py::error_already_set();
    set_items(cd, keys_, t.ptr());
    if (PyObject_SetAttr(opt, name_.num_update, gt ? before.ptr() : t.ptr()) != 0)
      throw py::error_already_set();
    PyObject* r = PyObject_Call(kernel_.ptr(), args.ptr(), nullptr);
    if (r == nullptr) {
      if (!PyErr_ExceptionMatches(stale_.ptr())) throw py::error_already_set();
      PyErr_Clear();
      set_items(cd, keys_, c_obj.ptr());
      if (PyObject_SetAttr(opt, name_.num_update, before.ptr()) != 0)
        throw py::error_already_set();
      return false;
    }
    Py_DECREF(r);
    return true;
  }

 private:
  // The attribute names, interned once (a lookup by a fresh string hashes it every time).
  struct Names {
    PyObject* optimizer = PyUnicode_InternFromString("optimizer");
    PyObject* states = PyUnicode_InternFromString("states");
    PyObject* states_synced = PyUnicode_InternFromString("states_synced");
    PyObject* aggregate_updates = PyUnicode_InternFromString("aggregate_updates");
    PyObject* aggregate_num = PyUnicode_InternFromString("aggregate_num");
    PyObject* lr_scheduler = PyUnicode_InternFromString("lr_scheduler");
    PyObject* lr_mult = PyUnicode_InternFromString("lr_mult");
    PyObject* wd_mult = PyUnicode_InternFromString("wd_mult");
    PyObject* idx2name = PyUnicode_InternFromString("idx2name");
    PyObject* param_dict = PyUnicode_InternFromString("param_dict");
    PyObject* all_index_update_counts = PyUnicode_InternFromString("_all_index_update_counts");
    PyObject* index_update_count = PyUnicode_InternFromString("_index_update_count");
    PyObject* num_update = PyUnicode_InternFromString("num_update");
    PyObject* bias_lr = PyUnicode_InternFromString("_bias_lr");
  };
  static const Names& names() {
    static const Names n{};
    return n;
  }
  const Names& name_ = names();

  static const py::object& one() {
    static const py::object v = py::int_(1);
    return v;
  }
  static bool is(const py::object& o, PyObject* name, PyObject* expected) {
    PyObject* v = PyObject_GetAttr(o.ptr(), name);
    if (v == nullptr) {
      PyErr_Clear();
      return false;
    }
    Py_DECREF(v);
    return v == expected;
  }
  // args = the kernel's arguments with the lrs [opt._bias_lr(rate, t) for each base rate] (as
  // the Python plan's _bias_rates); False if a call raises an Exception or gives no float.
  bool bias_rates(const py::object& t, py::tuple& args) const {
    const py::object bias = py::reinterpret_steal<py::object>(
        PyObject_GetAttr(opt_.ptr(), name_.bias_lr));
    const py::ssize_t n = PyList_GET_SIZE(base_lrs_.ptr());
    py::list lrs(n);
    for (py::ssize_t i = 0; bias && i < n; ++i) {
      PyObject* lr = PyObject_CallFunctionObjArgs(bias.ptr(), PyList_GET_ITEM(base_lrs_.ptr(), i),
                                                  t.ptr(), nullptr);
      if (lr == nullptr) break;
      PyList_SET_ITEM(lrs.ptr(), i, lr);  // steals
      if (!PyFloat_CheckExact(lr)) return false;
    }
    if (PyErr_Occurred()) {  // the Python plan then runs the step (and raises it, per index)
      if (!PyErr_ExceptionMatches(PyExc_Exception)) throw py::error_already_set();
      PyErr_Clear();
      return false;
    }
    if (!class_ids_.empty()) {  // one lr per tensor (a list of floats: as float64 values)
      py::list full(class_ids_.size());
      for (std::size_t i = 0; i < class_ids_.size(); ++i) {
        PyObject* lr = PyList_GET_ITEM(lrs.ptr(), class_ids_[i]);
        Py_INCREF(lr);
        PyList_SET_ITEM(full.ptr(), static_cast<py::ssize_t>(i), lr);
      }
      lrs = full;
    }
    const py::ssize_t size = PyTuple_GET_SIZE(args_.ptr());
    args = py::tuple(size);
    for (py::ssize_t i = 0; i < size; ++i) {
      PyObject* a = i == lr_slot_ ? lrs.ptr() : PyTuple_GET_ITEM(args_.ptr(), i);
      Py_INCREF(a);
      PyTuple_SET_ITEM(args.ptr(), i, a);
    }
    return true;
  }
  // The Python plan's test: a list equal to raw_index, or a tuple whose list is.
  bool same_index(const py::object& index) const {
    py::object as_list = index;
    if (PyTuple_CheckExact(index.ptr()))
      as_list = py::list(index);
    else if (!PyList_CheckExact(index.ptr()))
      return false;
    const int eq = PyObject_RichCompareBool(as_list.ptr(), raw_index_.ptr(), Py_EQ);
    if (eq < 0) throw py::error_already_set();
    return eq == 1;
  }
  // d holds the plan's attribute names in order, each bound to the prepare's object (but
  // num_update): the num_update object, else nullptr.
  PyObject* same_attributes(PyObject* d) const {
    const py::ssize_t n = PyTuple_GET_SIZE(attr_keys_.ptr());
    if (PyDict_GET_SIZE(d) != n) return nullptr;
    Py_ssize_t pos = 0;
    PyObject *k, *v, *num_update = nullptr;
    for (py::ssize_t i = 0; i < n && PyDict_Next(d, &pos, &k, &v); ++i) {
      if (k != PyTuple_GET_ITEM(attr_keys_.ptr(), i)) return nullptr;
      if (!expected_[i])
        num_update = v;
      else if (v != expected_[i].ptr())
        return nullptr;
    }
    return num_update;
  }
  // The multiplier dict holds the snapshot's keys, each mapped to the very same object.
  static bool same_mults(PyObject* cur, PyObject* snap) {
    if (PyDict_GET_SIZE(cur) != PyDict_GET_SIZE(snap)) return false;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(snap, &pos, &k, &v)) {
      PyObject* now = PyDict_GetItemWithError(cur, k);
      if (now == nullptr && PyErr_Occurred()) throw py::error_already_set();
      if (now != v) return false;
    }
    return true;
  }

  py::object stale_, opt_, states_, synced_, raw_index_, attr_keys_, agg_updates_;
  py::object lr_mult_, wd_mult_, idx2name_;  // the plan's snapshots
  py::object cur_lr_mult_, cur_wd_mult_, cur_idx2name_, params_, all_counts_, counts_;
  py::object dev_, kernel_;
  py::list keys_, weights_, wbufs_, grads_, gbufs_, state_objs_, leaves_, leaf_bufs_;
  std::vector<py::object> expected_;
  py::object base_lrs_;  // rates classes: the representatives' _get_lrs rates (else null)
  std::vector<py::ssize_t> class_ids_;  // ... and each tensor's representative (empty: itself)
  py::tuple args_;
  py::ssize_t lr_slot_ = 0;  // where the lrs go in args_
  PyTypeObject* type_ = nullptr;
  unsigned int tag_ = 0;
};

void bind_multi_plan(py::module_& m) {
  const auto stale =
      py::register_exception<StaleMultiTensors>(m, "StaleMultiTensors", PyExc_RuntimeError);
  py::class_<PlanStep>(m, "PlanStep",
                       "A step plan's steady state in one call (see _plan.StepPlan.fast).")
      .def(py::init([stale](const py::object& plan) {
             return PlanStep(plan, py::reinterpret_borrow<py::object>(stale));
           }),
           py::arg("plan"))
      .def("__call__", &PlanStep::operator(),
           "One step if every check of the plan passes (True); else False, nothing changed.",
           py::arg("upd"), py::arg("index"), py::arg("grad"), py::arg("weight"));
  py::class_<MultiTensors>(m, "MultiTensors",
                           "A list of weights that multi-tensor kernels accept in place of the "
                           "weights list, caching their validated arguments between calls.")
      .def(py::init<py::list, bool>(), py::arg("weights"), py::kw_only(),
           py::arg("strict") = false)
      .def("__len__", &MultiTensors::size)
      .def("__getitem__", &MultiTensors::item)
      .def(
          "prime",
          [](MultiTensors& mt, py::object grads, py::args states) {
            std::vector<py::object> lists = {std::move(grads)};
            for (const auto& st : states)
              lists.emplace_back(py::reinterpret_borrow<py::object>(st));
            return mt.prime(std::move(lists));
          },
          "Record the grads/state lists (None: absent) and their arrays after a successful "
          "kernel call with them; False if a list is not a list of numpy arrays.",
          py::arg("grads"))
      .def(
          "unchanged",
          [](const MultiTensors& mt, py::object grads, py::args states) {
            std::vector<py::object> lists = {std::move(grads)};
            for (const auto& st : states)
              lists.emplace_back(py::reinterpret_borrow<py::object>(st));
            return mt.unchanged(lists);
          },
          "Whether these are the recorded lists and arrays, unchanged (nothing rebound, "
          "reshaped, retyped or made read-only).",
          py::arg("grads"));
  m.def(
      "type_version",
      [](py::type t) -> unsigned int {
        auto* tp = reinterpret_cast<PyTypeObject*>(t.ptr());
        return cacheable_version(tp) ? tp->tp_version_tag : 0u;
      },
      "The type's version tag: the same nonzero value means that no attribute of the type or "
      "of a base was set or deleted in between; 0 if it has none.",
      py::arg("cls"));
  m.def("same_sources", &same_sources,
        "True iff objs[i] is cached[i] and its buffer (itself or its _data) is bufs[i], for all i.",
        py::arg("objs"), py::arg("cached"), py::arg("bufs"));
  m.def("same_dict_items", &same_dict_items, "True iff d[keys[i]] is values[i] for all i.",
        py::arg("d"), py::arg("keys"), py::arg("values"));
  m.def(
      "same_step_arrays",
      [](const py::sequence& weight, const py::list& weights, const py::list& wbufs,
         const py::sequence& grad, const py::list& grads, const py::list& gbufs,
         const py::dict& states, const py::list& keys, const py::list& state_objs,
         const py::list& leaves, const py::list& leaf_bufs) {
        return same_sources(weight, weights, wbufs) && same_sources(grad, grads, gbufs) &&
               same_dict_items(states, keys, state_objs) &&
               same_sources(leaves, leaves, leaf_bufs);
      },
      "same_sources(weight, weights, wbufs) and same_sources(grad, grads, gbufs) and "
      "same_dict_items(states, keys, state_objs) and same_sources(leaves, leaves, leaf_bufs): "
      "a step plan's array checks in one call.",
      py::arg("weight"), py::arg("weights"), py::arg("wbufs"), py::arg("grad"), py::arg("grads"),
      py::arg("gbufs"), py::arg("states"), py::arg("keys"), py::arg("state_objs"),
      py::arg("leaves"), py::arg("leaf_bufs"));
  m.def(
      "same_keys",
      [](const py::dict& d, const py::tuple& keys) {
        const py::ssize_t n = PyTuple_GET_SIZE(keys.ptr());
        if (PyDict_GET_SIZE(d.ptr()) != n) return false;
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        for (py::ssize_t i = 0; i < n && PyDict_Next(d.ptr(), &pos, &k, &v); ++i)
          if (k != PyTuple_GET_ITEM(keys.ptr(), i)) return false;
        return true;
      },
      "True iff d's keys are the objects keys, in this order (a key deleted and set again, or "
      "an equal but different object, gives False).",
      py::arg("d"), py::arg("keys"));
  m.def(
      "set_items",
      [](py::dict d, py::list keys, py::object value) { set_items(d, keys, value.ptr()); },
      "d[k] = value for every k in keys.", py::arg("d"), py::arg("keys"), py::arg("value"));
  m.def(
      "common_count",
      [](py::dict d, py::list keys) -> py::object {
        PyObject* c = common_count(d, keys);
        return c == nullptr ? py::none() : py::reinterpret_borrow<py::object>(c);
      },
      "The int d[k] shared by every key k (None if a key is missing or the values differ).",
      py::arg("d"), py::arg("keys"));
}

// The multi-tensor kernels' parameters, in order, with their defaults (exported as
// _core.multi_params: {kernel name: ((name, default) or (name,) if it has none, ...)}).
// pybind11 looks every keyword argument up by name on each call (about 2 us for a kernel's
// 7-13 parameters), so MultiBatch and the Updater's step plan pass them positionally
// (base.positional); for that the kernels take every parameter positionally (no py::kw_only).
struct MultiParam {
  std::string name;
  py::object value;  // the default (null: none)
};
std::vector<std::pair<std::string, std::vector<MultiParam>>>& multi_params() {
  static std::vector<std::pair<std::string, std::vector<MultiParam>>> params;
  return params;
}

template <class T>
void add_param(std::vector<MultiParam>& params, const T& extra) {
  if constexpr (std::is_base_of_v<py::arg_v, T>)
    params.push_back({extra.name, extra.value});
  else if constexpr (std::is_base_of_v<py::arg, T>)
    params.push_back({extra.name, py::object()});
  // else: the docstring
}

template <class Func, class... Extra>
void def_multi(py::module_& m, const char* name, Func&& f, const Extra&... extra) {
  static_assert(!(std::is_same_v<Extra, py::kw_only> || ...),
                "multi-tensor kernels take every parameter positionally (see multi_params)");
  std::vector<MultiParam> params;
  (add_param(params, extra), ...);
  multi_params().emplace_back(name, std::move(params));
  m.def(name, std::forward<Func>(f), extra...);
}

// Per-tensor SGDParams from the lrs/wds lists.
std::vector<k::SGDParams> sgd_list(const std::string& fn, const MultiArgs& a,
                                   const py::sequence& lrs, const py::sequence& wds, float rg,
                                   float clip, float momentum) {
  const std::vector<float> lr = float_list(fn, lrs, "lrs", a.count());
  const std::vector<float> wd = float_list(fn, wds, "wds", a.count());
  std::vector<k::SGDParams> p(a.count());
  for (std::size_t i = 0; i < a.count(); ++i) p[i] = sgd_params(lr[i], wd[i], rg, clip, momentum);
  return p;
}

#define MXOPT_MULTI_SGD_ARGS                                                                  \
  py::arg("lrs"), py::arg("wds"), py::arg("rescale_grad") = 1.0f,                             \
      py::arg("clip_gradient") = k::kNoClip, py::arg("momentum") = 0.0f

void bind_multi_sgd(py::module_& m) {
  def_multi(
      m, "multi_sgd_mom_update",
      [](py::sequence weights, py::sequence grads, py::object moms, py::sequence lrs,
         py::sequence wds, float rg, float clip, float momentum) {
        const std::string fn = "multi_sgd_mom_update";
        const MultiArgs a = multi_args(fn, weights, grads, {{moms, "moms", false, true}});
        const auto p = sgd_list(fn, a, lrs, wds, rg, clip, momentum);
        const bool has = !moms.is_none();
        py::gil_scoped_release nogil;
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g);
          const auto s = has ? a.state<T>(0) : std::vector<T*>();
          k::multi_sgd_mom_update(a.count(), w.data(), g.data(), has ? s.data() : nullptr,
                                  a.n.data(), p.data());
        });
      },
      "sgd_mom_update on a list of same-dtype tensors in one call (per-tensor lrs/wds; "
      "moms=None: no momentum state), parallel across and within tensors, in place.",
      py::arg("weights"), py::arg("grads"), py::arg("moms"), MXOPT_MULTI_SGD_ARGS);

  def_multi(
      m, "multi_sgd_update",
      [](py::sequence weights, py::sequence grads, py::sequence lrs, py::sequence wds, float rg,
         float clip, float momentum) {
        const std::string fn = "multi_sgd_update";
        const MultiArgs a = multi_args(fn, weights, grads, {});
        const auto p = sgd_list(fn, a, lrs, wds, rg, clip, momentum);
        py::gil_scoped_release nogil;
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g);
          k::multi_sgd_update(a.count(), w.data(), g.data(), a.n.data(), p.data());
        });
      },
      "The single-form sgd_update on a list of same-dtype tensors in one call (per-tensor "
      "lrs/wds; NAG without momentum), in place.",
      py::arg("weights"), py::arg("grads"), MXOPT_MULTI_SGD_ARGS);

  def_multi(
      m, "multi_nag_mom_update",
      [](py::sequence weights, py::sequence grads, py::object moms, py::sequence lrs,
         py::sequence wds, float rg, float clip, float momentum) {
        const std::string fn = "multi_nag_mom_update";
        const MultiArgs a = multi_args(fn, weights, grads, {{moms, "moms"}});
        const auto p = sgd_list(fn, a, lrs, wds, rg, clip, momentum);
        py::gil_scoped_release nogil;
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g), s = a.state<T>(0);
          k::multi_nag_mom_update(a.count(), w.data(), g.data(), s.data(), a.n.data(),
                                  p.data());
        });
      },
      "nag_mom_update on a list of same-dtype tensors in one call (per-tensor lrs/wds), in "
      "place.",
      py::arg("weights"), py::arg("grads"), py::arg("moms"), MXOPT_MULTI_SGD_ARGS);

  def_multi(
      m, "multi_mp_sgd_mom_update",
      [](py::sequence weights, py::sequence grads, py::object moms, py::sequence weights32,
         py::sequence lrs, py::sequence wds, float rg, float clip, float momentum) {
        const std::string fn = "multi_mp_sgd_mom_update";
        const MultiArgs a = multi_args(
            fn, weights, grads, {{moms, "moms", true, true}, {weights32, "weights32", true}}, true);
        const auto p = sgd_list(fn, a, lrs, wds, rg, clip, momentum);
        const bool has = !moms.is_none();
        py::gil_scoped_release nogil;
        const auto w = a.ptrs<mxopt::float16>(a.w), g = a.ptrs<mxopt::float16>(a.g);
        const auto s = has ? a.state<float>(0) : std::vector<float*>();
        const auto w32 = a.state<float>(1);
        k::multi_mp_sgd_mom_update(a.count(), w.data(), g.data(), has ? s.data() : nullptr,
                                   w32.data(), a.n.data(), p.data());
      },
      "mp_sgd_mom_update on a list of float16 tensors with float32 master copies in one call "
      "(MXNet multi_mp_sgd_[mom_]update; moms=None: no momentum state), in place.",
      py::arg("weights"), py::arg("grads"), py::arg("moms"), py::arg("weights32"),
      MXOPT_MULTI_SGD_ARGS);

  def_multi(
      m, "multi_mp_sgd_update",
      [](py::sequence weights, py::sequence grads, py::sequence weights32, py::sequence lrs,
         py::sequence wds, float rg, float clip, float momentum) {
        const std::string fn = "multi_mp_sgd_update";
        const MultiArgs a = multi_args(fn, weights, grads, {{weights32, "weights32", true}}, true);
        const auto p = sgd_list(fn, a, lrs, wds, rg, clip, momentum);
        py::gil_scoped_release nogil;
        const auto w = a.ptrs<mxopt::float16>(a.w), g = a.ptrs<mxopt::float16>(a.g);
        const auto w32 = a.state<float>(0);
        k::multi_mp_sgd_update(a.count(), w.data(), g.data(), w32.data(), a.n.data(), p.data());
      },
      "The single-form mp_sgd_update on a list of float16 tensors with float32 master copies "
      "(NAG without momentum), in place.",
      py::arg("weights"), py::arg("grads"), py::arg("weights32"), MXOPT_MULTI_SGD_ARGS);

  def_multi(
      m, "multi_mp_nag_mom_update",
      [](py::sequence weights, py::sequence grads, py::sequence moms, py::sequence weights32,
         py::sequence lrs, py::sequence wds, float rg, float clip, float momentum) {
        const std::string fn = "multi_mp_nag_mom_update";
        const MultiArgs a = multi_args(
            fn, weights, grads, {{moms, "moms", true}, {weights32, "weights32", true}}, true);
        const auto p = sgd_list(fn, a, lrs, wds, rg, clip, momentum);
        py::gil_scoped_release nogil;
        const auto w = a.ptrs<mxopt::float16>(a.w), g = a.ptrs<mxopt::float16>(a.g);
        const auto s = a.state<float>(0), w32 = a.state<float>(1);
        k::multi_mp_nag_mom_update(a.count(), w.data(), g.data(), s.data(), w32.data(),
                                   a.n.data(), p.data());
      },
      "mp_nag_mom_update on a list of float16 tensors with float32 master copies and momenta "
      "in one call, in place.",
      py::arg("weights"), py::arg("grads"), py::arg("moms"), py::arg("weights32"),
      MXOPT_MULTI_SGD_ARGS);
}

#define MXOPT_MULTI_ADAM_ARGS                                                                 \
  py::arg("lrs"), py::arg("wds"), py::arg("beta1") = 0.9f,                                    \
      py::arg("beta2") = 0.999f, py::arg("epsilon") = 1e-8f, py::arg("rescale_grad") = 1.0f,  \
      py::arg("clip_gradient") = k::kNoClip

std::vector<k::AdamParams> adam_list(const std::string& fn, const MultiArgs& a,
                                     const py::sequence& lrs, const py::sequence& wds,
                                     float beta1, float beta2, float epsilon, float rg,
                                     float clip) {
  const std::vector<float> lr = float_list(fn, lrs, "lrs", a.count());
  const std::vector<float> wd = float_list(fn, wds, "wds", a.count());
  std::vector<k::AdamParams> p(a.count());
  for (std::size_t i = 0; i < a.count(); ++i)
    p[i] = k::AdamParams{lr[i], beta1, beta2, epsilon, wd[i], rg, clip};
  return p;
}

std::vector<k::AdamWParams> adamw_list(const std::string& fn, const MultiArgs& a,
                                       const py::sequence& etas, const py::sequence& wds,
                                       float lr, float beta1, float beta2, float epsilon,
                                       float rg, float clip) {
  const std::vector<float> eta = float_list(fn, etas, "lrs", a.count());
  const std::vector<float> wd = float_list(fn, wds, "wds", a.count());
  std::vector<k::AdamWParams> p(a.count());
  for (std::size_t i = 0; i < a.count(); ++i)
    p[i] = k::AdamWParams{lr, eta[i], beta1, beta2, epsilon, wd[i], rg, clip};
  return p;
}

void bind_multi_adam(py::module_& m) {
  def_multi(
      m, "multi_adam_update",
      [](py::sequence weights, py::sequence grads, py::sequence means, py::sequence vars,
         py::sequence lrs, py::sequence wds, float beta1, float beta2, float epsilon, float rg,
         float clip) {
        const std::string fn = "multi_adam_update";
        const MultiArgs a = multi_args(fn, weights, grads, {{means, "states1"}, {vars, "states2"}});
        const auto p = adam_list(fn, a, lrs, wds, beta1, beta2, epsilon, rg, clip);
        py::gil_scoped_release nogil;
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g);
          const auto m1 = a.state<T>(0), v = a.state<T>(1);
          k::multi_adam_update(a.count(), w.data(), g.data(), m1.data(), v.data(), a.n.data(),
                               p.data());
        });
      },
      "adam_update on a list of same-dtype tensors in one call (per-tensor bias-corrected lrs "
      "and wds), parallel across and within tensors, in place.",
      py::arg("weights"), py::arg("grads"), py::arg("means"), py::arg("vars"),
      MXOPT_MULTI_ADAM_ARGS);

  def_multi(
      m, "multi_mp_adam_update",
      [](py::sequence weights, py::sequence grads, py::sequence means, py::sequence vars,
         py::sequence weights32, py::sequence lrs, py::sequence wds, float beta1, float beta2,
         float epsilon, float rg, float clip) {
        const std::string fn = "multi_mp_adam_update";
        const MultiArgs a = multi_args(
            fn, weights, grads,
            {{means, "means", true}, {vars, "vars", true}, {weights32, "weights32", true}}, true);
        const auto p = adam_list(fn, a, lrs, wds, beta1, beta2, epsilon, rg, clip);
        py::gil_scoped_release nogil;
        const auto w = a.ptrs<mxopt::float16>(a.w), g = a.ptrs<mxopt::float16>(a.g);
        const auto m1 = a.state<float>(0), v = a.state<float>(1), w32 = a.state<float>(2);
        k::multi_mp_adam_update(a.count(), w.data(), g.data(), m1.data(), v.data(), w32.data(),
                                a.n.data(), p.data());
      },
      "adam_update on the float32 master copies of a list of float16 tensors in one call, "
      "then weight = float16(master), in place.",
      py::arg("weights"), py::arg("grads"), py::arg("means"), py::arg("vars"),
      py::arg("weights32"), MXOPT_MULTI_ADAM_ARGS);

  def_multi(
      m, "multi_adamw_update",
      [](py::sequence weights, py::sequence grads, py::sequence means, py::sequence vars,
         py::sequence lrs, py::sequence wds, float lr, float beta1, float beta2, float epsilon,
         float rg, float clip, bool aggregated) {
        const std::string fn = "multi_adamw_update";
        const MultiArgs a = multi_args(fn, weights, grads, {{means, "means"}, {vars, "vars"}},
                                       false, !aggregated);
        const auto p = adamw_list(fn, a, lrs, wds, lr, beta1, beta2, epsilon, rg, clip);
        bool done = false;
        py::gil_scoped_release nogil;
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g);
          const auto m1 = a.state<T>(0), v = a.state<T>(1);
          done = k::multi_adamw_update(a.count(), w.data(), g.data(), m1.data(), v.data(),
                                       a.n.data(), p.data(), aggregated);
        });
        return done;
      },
      "adamw_update on a list of same-dtype tensors in one call (lrs: the per-tensor "
      "bias-corrected rates eta); returns False (nothing written) if rescale_grad is 0 or not "
      "finite.",
      py::arg("weights"), py::arg("grads"), py::arg("means"), py::arg("vars"),
      py::arg("lrs"), py::arg("wds"), py::arg("lr") = 1.0f, py::arg("beta1") = 0.9f,
      py::arg("beta2") = 0.999f, py::arg("epsilon") = 1e-6f, py::arg("rescale_grad") = 1.0f,
      py::arg("clip_gradient") = k::kNoClip, py::arg("aggregated") = true);

  def_multi(
      m, "multi_mp_adamw_update",
      [](py::sequence weights, py::sequence grads, py::sequence means, py::sequence vars,
         py::sequence weights32, py::sequence lrs, py::sequence wds, float lr, float beta1,
         float beta2, float epsilon, float rg, float clip, bool aggregated) {
        const std::string fn = "multi_mp_adamw_update";
        const MultiArgs a = multi_args(
            fn, weights, grads,
            {{means, "means", true}, {vars, "vars", true}, {weights32, "weights32", true}}, true);
        const auto p = adamw_list(fn, a, lrs, wds, lr, beta1, beta2, epsilon, rg, clip);
        py::gil_scoped_release nogil;
        const auto w = a.ptrs<mxopt::float16>(a.w), g = a.ptrs<mxopt::float16>(a.g);
        const auto m1 = a.state<float>(0), v = a.state<float>(1), w32 = a.state<float>(2);
        return k::multi_mp_adamw_update(a.count(), w.data(), g.data(), m1.data(), v.data(),
                                        w32.data(), a.n.data(), p.data(), aggregated);
      },
      "adamw_update on the float32 master copies of a list of float16 tensors in one call "
      "(MXNet multi_mp_adamw_update), then weight = float16(master); returns False (nothing "
      "written) if rescale_grad is 0 or not finite.",
      py::arg("weights"), py::arg("grads"), py::arg("means"), py::arg("vars"),
      py::arg("weights32"), py::arg("lrs"), py::arg("wds"), py::arg("lr") = 1.0f,
      py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f, py::arg("epsilon") = 1e-6f,
      py::arg("rescale_grad") = 1.0f, py::arg("clip_gradient") = k::kNoClip,
      py::arg("aggregated") = true);
}

std::vector<k::RMSPropParams> rmsprop_list(const std::string& fn, const MultiArgs& a,
                                           const py::sequence& lrs, const py::sequence& wds,
                                           float gamma1, float gamma2, float epsilon, float rg,
                                           float clip, float clip_weights) {
  const std::vector<float> lr = float_list(fn, lrs, "lrs", a.count());
  const std::vector<float> wd = float_list(fn, wds, "wds", a.count());
  std::vector<k::RMSPropParams> p(a.count());
  for (std::size_t i = 0; i < a.count(); ++i) {
    p[i].lr = lr[i];
    p[i].gamma1 = gamma1;
    p[i].gamma2 = gamma2;
    p[i].epsilon = epsilon;
    p[i].wd = wd[i];
    p[i].rescale_grad = rg;
    p[i].clip_gradient = clip;
    p[i].clip_weights = clip_weights;
  }
  return p;
}

void bind_multi_other(py::module_& m) {
  def_multi(
      m, "multi_rmsprop_update",
      [](py::sequence weights, py::sequence grads, py::sequence ns, py::sequence lrs,
         py::sequence wds, float gamma1, float epsilon, float rg, float clip, float clip_weights) {
        const std::string fn = "multi_rmsprop_update";
        const MultiArgs a = multi_args(fn, weights, grads, {{ns, "states1"}});
        const auto p = rmsprop_list(fn, a, lrs, wds, gamma1, 0.9f, epsilon, rg, clip,
                                    clip_weights);
        py::gil_scoped_release nogil;
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g), s = a.state<T>(0);
          k::multi_rmsprop_update(a.count(), w.data(), g.data(), s.data(), a.n.data(), p.data());
        });
      },
      "rmsprop_update on a list of same-dtype tensors in one call (per-tensor lrs/wds), in "
      "place.",
      py::arg("weights"), py::arg("grads"), py::arg("ns"), py::arg("lrs"),
      py::arg("wds"), py::arg("gamma1") = 0.95f, py::arg("epsilon") = 1e-8f,
      py::arg("rescale_grad") = 1.0f, py::arg("clip_gradient") = k::kNoClip,
      py::arg("clip_weights") = k::kNoClip);

  def_multi(
      m, "multi_rmspropalex_update",
      [](py::sequence weights, py::sequence grads, py::sequence ns, py::sequence gbars,
         py::sequence deltas, py::sequence lrs, py::sequence wds, float gamma1, float gamma2,
         float epsilon, float rg, float clip, float clip_weights) {
        const std::string fn = "multi_rmspropalex_update";
        const MultiArgs a = multi_args(fn, weights, grads,
                                       {{ns, "ns"}, {gbars, "gbars"}, {deltas, "deltas"}});
        const auto p = rmsprop_list(fn, a, lrs, wds, gamma1, gamma2, epsilon, rg, clip,
                                    clip_weights);
        py::gil_scoped_release nogil;
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g);
          const auto s = a.state<T>(0), gb = a.state<T>(1), d = a.state<T>(2);
          k::multi_rmspropalex_update(a.count(), w.data(), g.data(), s.data(), gb.data(),
                                      d.data(), a.n.data(), p.data());
        });
      },
      "rmspropalex_update (centered RMSProp) on a list of same-dtype tensors in one call "
      "(per-tensor lrs/wds), in place.",
      py::arg("weights"), py::arg("grads"), py::arg("ns"), py::arg("gbars"), py::arg("deltas"),
      py::arg("lrs"), py::arg("wds"), py::arg("gamma1") = 0.95f,
      py::arg("gamma2") = 0.9f, py::arg("epsilon") = 1e-8f, py::arg("rescale_grad") = 1.0f,
      py::arg("clip_gradient") = k::kNoClip, py::arg("clip_weights") = k::kNoClip);

  def_multi(
      m, "multi_adagrad_update",
      [](py::sequence weights, py::sequence grads, py::sequence histories, py::sequence lrs,
         py::sequence wds, double rg, double eps, py::object clip) {
        const std::string fn = "multi_adagrad_update";
        const MultiArgs a = multi_args(fn, weights, grads, {{histories, "states1"}});
        const std::vector<double> lr = float_list<double>(fn, lrs, "lrs", a.count());
        const std::vector<double> wd = float_list<double>(fn, wds, "wds", a.count());
        const k::PClip c = pclip(clip);
        std::vector<k::AdaGradParams> p(a.count());
        for (std::size_t i = 0; i < a.count(); ++i) {
          p[i].lr = lr[i];
          p[i].wd = wd[i];
          p[i].rescale_grad = rg;
          p[i].epsilon = eps;
          p[i].clip = c;
        }
        py::gil_scoped_release nogil;
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g), s = a.state<T>(0);
          k::multi_adagrad_update(a.count(), w.data(), g.data(), s.data(), a.n.data(), p.data());
        });
      },
      "Dense AdaGrad on a list of same-dtype tensors in one call (per-tensor lrs/wds), in place.",
      py::arg("weights"), py::arg("grads"), py::arg("histories"), py::arg("lrs"),
      py::arg("wds"), py::arg("rescale_grad"), py::arg("epsilon"),
      py::arg("clip_gradient") = py::none());
}

#define MXOPT_MULTI_LAMB_ARGS                                                                 \
  py::arg("lrs"), py::arg("wds"), py::arg("beta1") = 0.9f,                                    \
      py::arg("beta2") = 0.999f, py::arg("epsilon") = 1e-6f, py::arg("rescale_grad") = 1.0f,  \
      py::arg("clip_gradient") = k::kNoClip, py::arg("lower_bound") = -1.0f,                  \
      py::arg("upper_bound") = -1.0f, py::arg("bias_correction") = true

std::vector<k::LAMBParams> lamb_list(const std::string& fn, const MultiArgs& a,
                                     const py::sequence& steps, const py::sequence& lrs,
                                     const py::sequence& wds, float beta1, float beta2,
                                     float epsilon, float rg, float clip, float lower,
                                     float upper, bool bc) {
  const std::vector<float> lr = float_list(fn, lrs, "lrs", a.count());
  const std::vector<float> wd = float_list(fn, wds, "wds", a.count());
  const std::vector<int> t = float_list<int>(fn, steps, "steps", a.count());
  std::vector<k::LAMBParams> p(a.count());
  for (std::size_t i = 0; i < a.count(); ++i) {
    if (t[i] < 1)
      throw py::value_error(fn + ": steps[" + std::to_string(i) + "] must be >= 1, got " +
                            std::to_string(t[i]));
    p[i].lr = lr[i];
    p[i].beta1 = beta1;
    p[i].beta2 = beta2;
    p[i].epsilon = epsilon;
    p[i].wd = wd[i];
    p[i].rescale_grad = rg;
    p[i].clip_gradient = clip;
    p[i].lower_bound = lower;
    p[i].upper_bound = upper;
    p[i].t = t[i];
    p[i].bias_correction = bc;
  }
  return p;
}

std::vector<char> bool_list(const std::string& fn, const py::sequence& v, const char* name,
                            std::size_t count) {
  const std::vector<int> b = float_list<int>(fn, v, name, count);
  return std::vector<char>(b.begin(), b.end());
}

void bind_multi_layerwise(py::module_& m) {
  def_multi(
      m, "multi_lamb_update",
      [](py::sequence weights, py::sequence grads, py::sequence means, py::sequence vars,
         py::sequence steps, py::sequence lrs, py::sequence wds, float beta1, float beta2,
         float epsilon, float rg, float clip, float lower, float upper, bool bc) {
        const std::string fn = "multi_lamb_update";
        const MultiArgs a = multi_args(fn, weights, grads, {{means, "means"}, {vars, "vars"}});
        const auto p = lamb_list(fn, a, steps, lrs, wds, beta1, beta2, epsilon, rg, clip, lower,
                                 upper, bc);
        py::gil_scoped_release nogil;
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g);
          const auto m1 = a.state<T>(0), v = a.state<T>(1);
          k::multi_lamb_update(a.count(), w.data(), g.data(), m1.data(), v.data(), a.n.data(),
                               p.data());
        });
      },
      "MXNet multi_lamb_update on a list of same-dtype tensors in one call (steps: each "
      "tensor's update count t; per-tensor lrs/wds), in place.",
      py::arg("weights"), py::arg("grads"), py::arg("means"), py::arg("vars"), py::arg("steps"),
      MXOPT_MULTI_LAMB_ARGS);

  def_multi(
      m, "multi_mp_lamb_update",
      [](py::sequence weights, py::sequence grads, py::sequence means, py::sequence vars,
         py::sequence weights32, py::sequence steps, py::sequence lrs, py::sequence wds,
         float beta1, float beta2, float epsilon, float rg, float clip, float lower, float upper,
         bool bc) {
        const std::string fn = "multi_mp_lamb_update";
        const MultiArgs a = multi_args(
            fn, weights, grads,
            {{means, "means", true}, {vars, "vars", true}, {weights32, "weights32", true}}, true);
        const auto p = lamb_list(fn, a, steps, lrs, wds, beta1, beta2, epsilon, rg, clip, lower,
                                 upper, bc);
        py::gil_scoped_release nogil;
        const auto w = a.ptrs<mxopt::float16>(a.w), g = a.ptrs<mxopt::float16>(a.g);
        const auto m1 = a.state<float>(0), v = a.state<float>(1), w32 = a.state<float>(2);
        k::multi_mp_lamb_update(a.count(), w.data(), g.data(), m1.data(), v.data(), w32.data(),
                                a.n.data(), p.data());
      },
      "MXNet multi_mp_lamb_update on a list of float16 tensors with float32 master copies and "
      "moments in one call (steps: each tensor's update count), in place.",
      py::arg("weights"), py::arg("grads"), py::arg("means"), py::arg("vars"),
      py::arg("weights32"), py::arg("steps"), MXOPT_MULTI_LAMB_ARGS);

  def_multi(
      m, "multi_lars_update",
      [](py::sequence weights, py::sequence grads, py::object moms, py::sequence use_lars,
         py::sequence lrs, py::sequence wds, float rg, float clip, float momentum, float eta,
         float eps) {
        const std::string fn = "multi_lars_update";
        const MultiArgs a = multi_args(fn, weights, grads, {{moms, "moms", false, true}});
        const auto p = sgd_list(fn, a, lrs, wds, rg, clip, momentum);
        const std::vector<char> flags = bool_list(fn, use_lars, "use_lars", a.count());
        const bool has = !moms.is_none();
        py::gil_scoped_release nogil;
        static_assert(sizeof(char) == sizeof(bool), "bool layout");
        const bool* lars = reinterpret_cast<const bool*>(flags.data());
        by_dtype(a.dt, [&](auto t) {
          using T = decltype(t);
          const auto w = a.ptrs<T>(a.w), g = a.ptrs<T>(a.g);
          const auto s = has ? a.state<T>(0) : std::vector<T*>();
          k::multi_lars_update(a.count(), w.data(), g.data(), has ? s.data() : nullptr,
                               a.n.data(), p.data(), lars, eta, eps);
        });
      },
      "LARS on a list of same-dtype tensors in one call: per-tensor trust ratios (use_lars[i]) "
      "from multi_sum_sq norms, then preloaded_multi_sgd_[mom_]update (moms=None: no "
      "momentum state), in place.",
      py::arg("weights"), py::arg("grads"), py::arg("moms"), py::arg("use_lars"),
      py::arg("lrs"), py::arg("wds"), py::arg("rescale_grad") = 1.0f,
      py::arg("clip_gradient") = k::kNoClip, py::arg("momentum") = 0.0f, py::arg("eta") = 0.001f,
      py::arg("eps") = 0.0f);  // MXNet LARS defaults

  def_multi(
      m, "multi_mp_lars_update",
      [](py::sequence weights, py::sequence grads, py::object moms, py::sequence weights32,
         py::sequence use_lars, py::sequence lrs, py::sequence wds, float rg, float clip,
         float momentum, float eta, float eps) {
        const std::string fn = "multi_mp_lars_update";
        const MultiArgs a = multi_args(
            fn, weights, grads, {{moms, "moms", true, true}, {weights32, "weights32", true}}, true);
        const auto p = sgd_list(fn, a, lrs, wds, rg, clip, momentum);
        const std::vector<char> flags = bool_list(fn, use_lars, "use_lars", a.count());
        const bool has = !moms.is_none();
        py::gil_scoped_release nogil;
        const bool* lars = reinterpret_cast<const bool*>(flags.data());
        const auto w = a.ptrs<mxopt::float16>(a.w), g = a.ptrs<mxopt::float16>(a.g);
        const auto s = has ? a.state<float>(0) : std::vector<float*>();
        const auto w32 = a.state<float>(1);
        k::multi_mp_lars_update(a.count(), w.data(), g.data(), has ? s.data() : nullptr,
                                w32.data(), a.n.data(), p.data(), lars, eta, eps);
      },
      "Multi-precision LARS on a list of float16 tensors (norms of the float16 weights and "
      "gradients, then mp_sgd_mom_update on the float32 masters) in one call, in place.",
      py::arg("weights"), py::arg("grads"), py::arg("moms"), py::arg("weights32"),
      py::arg("use_lars"), py::arg("lrs"), py::arg("wds"),
      py::arg("rescale_grad") = 1.0f, py::arg("clip_gradient") = k::kNoClip,
      py::arg("momentum") = 0.0f, py::arg("eta") = 0.001f, py::arg("eps") = 0.0f);
}

void bind_multi(py::module_& m) {
  bind_multi_sgd(m);
  bind_multi_adam(m);
  bind_multi_other(m);
  bind_multi_layerwise(m);
  // Moved out: the defaults are Python objects, which must not outlive the interpreter.
  const auto recorded = std::move(multi_params());
  multi_params().clear();
  py::dict all;
  for (const auto& [name, params] : recorded) {
    py::list entries;
    for (const MultiParam& p : params)
      entries.append(p.value ? py::tuple(py::make_tuple(p.name, p.value))
                             : py::tuple(py::make_tuple(p.name)));
    all[py::str(name)] = py::tuple(entries);
  }
  m.attr("multi_params") = all;
}

}  // namespace

void register_optimizers(py::module_& m) {
  m.def(
      "mxnet_float",
      [](py::handle value) { return mxopt::parse_mxnet_float(py::str(value)); },
      "The float32 MXNet's operators receive for a hyper-parameter: dmlc's parse of str(value).",
      py::arg("value"));
  m.def(
      "mxnet_double",
      [](py::handle value) { return mxopt::parse_mxnet_double(py::str(value)); },
      "The double MXNet's NDArray-scalar arithmetic receives: dmlc's parse of str(value).",
      py::arg("value"));
  m.def(
      "check_row_indices",
      [](const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& indices,
         std::int64_t rows, const std::string& name) {
        if (indices.ndim() != 1)
          throw py::value_error(name + ": row_sparse row indices must be 1-D, got " +
                                std::to_string(indices.ndim()) + " dimensions");
        try {
          k::check_row_indices(indices.data(), static_cast<std::size_t>(indices.shape(0)),
                               static_cast<std::size_t>(std::max<std::int64_t>(rows, 0)));
        } catch (const std::invalid_argument& e) {
          throw py::value_error(name + ": " + e.what());
        }
      },
      "Raises ValueError unless the row indices are strictly increasing and in [0, rows).",
      py::arg("indices"), py::arg("rows"), py::arg("name") = "grad");
  m.def("python_repr", &mxopt::python_repr, "Python's repr() of a float, computed in C++.",
        py::arg("x"));
  m.def(
      "optimizer_isa", [] { return std::string(k::isa_name(k::isa_level())); },
      "The instruction set the optimizer kernels use: 'baseline', 'avx2' or 'avx512'.");
  m.def(
      "set_optimizer_isa",
      [](const std::string& name) {
        k::IsaLevel want;
        if (name == "baseline")
          want = k::IsaLevel::kBaseline;
        else if (name == "avx2")
          want = k::IsaLevel::kAVX2;
        else if (name == "avx512")
          want = k::IsaLevel::kAVX512;
        else
          throw py::value_error("set_optimizer_isa: name must be 'baseline', 'avx2' or "
                                "'avx512', got '" + name + "'");
        return std::string(k::isa_name(k::set_isa_level(want)));
      },
      "Use the kernels of ISA `name` (clamped to what the CPU supports); returns the one set.",
      py::arg("name"));
  bind_sgd(m);
  bind_adam(m);
  bind_multi(m);
  bind_multi_plan(m);
  bind_adagrad_rmsprop_ftrl(m);
  bind_misc(m);
}

}  // namespace mxopt::bindings
