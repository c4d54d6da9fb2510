// Binds mxopt/executor.h. python/mxopt/executor.py builds the plan from a Symbol, allocates
// every buffer as a numpy array and hands them in; the C++ side keeps references to them,
// checks dtype / contiguity / writability once, and runs forward/backward without the GIL.
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "mxopt/executor.h"

namespace py = pybind11;

namespace mxopt::bindings {
namespace {

using graph::DType;

class PyExecutor {
 public:
  PyExecutor(const std::string& dtype, const py::list& entries, const py::list& nodes,
             const std::vector<int>& heads, std::uint64_t seed) {
    if (dtype == "float32") dtype_ = DType::kFloat32;
    else if (dtype == "float64") dtype_ = DType::kFloat64;
    else throw py::type_error("executor dtype must be float32 or float64, got " + dtype);
    std::vector<graph::Entry> es;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      auto t = entries[i].cast<py::tuple>();
      if (t.size() != 4) throw py::value_error("entry must be (data, is_argument, grad, grad_req)");
      graph::Entry e;
      e.is_argument = t[1].cast<bool>();
      const std::string what = "entry " + std::to_string(i);
      e.data = buffer(t[0], what, !e.is_argument, &e.shape);
      const int req = t[3].cast<int>();
      if (req != 0 && req != 1 && req != 3) throw py::value_error(what + ": grad_req must be 0, 1 or 3");
      e.grad_req = static_cast<ops::Req>(req);
      if (!t[2].is_none()) {
        std::vector<std::int64_t> gshape;
        e.grad = buffer(t[2], what + " gradient", true, &gshape);
        if (gshape != e.shape) throw py::value_error(what + ": gradient shape differs from the data shape");
      }
      es.push_back(std::move(e));
    }
    std::vector<graph::Node> ns;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      auto t = nodes[i].cast<py::tuple>();
      if (t.size() != 4) throw py::value_error("node must be (kind, params, inputs, output)");
      graph::Node n;
      n.kind = static_cast<graph::OpKind>(t[0].cast<int>());
      n.params = params(t[1].cast<py::dict>());
      n.inputs = t[2].cast<std::vector<int>>();
      n.output = t[3].cast<int>();
      ns.push_back(std::move(n));
    }
    exec_ = std::make_unique<graph::Executor>(dtype_, std::move(es), std::move(ns), heads, seed);
  }

  void forward(bool is_train) {
    py::gil_scoped_release nogil;
    exec_->forward(is_train);
  }

  void backward(const py::list& head_grads, const std::vector<std::vector<std::int64_t>>& shapes) {
    if (head_grads.size() != shapes.size()) throw py::value_error("one head gradient (or None) per output");
    std::vector<const void*> ptrs;
    py::list keep;
    for (std::size_t i = 0; i < head_grads.size(); ++i) {
      if (head_grads[i].is_none()) {
        ptrs.push_back(nullptr);
        continue;
      }
      std::vector<std::int64_t> shape;
      ptrs.push_back(buffer(head_grads[i], "head gradient " + std::to_string(i), false, &shape, &keep));
      if (shape != shapes[i]) throw py::value_error("head gradient " + std::to_string(i) + " has the wrong shape");
    }
    py::gil_scoped_release nogil;
    exec_->backward(ptrs);
  }

  bool head_needs_grad(std::size_t i) const { return exec_->head_needs_grad(i); }
  void seed(std::uint64_t s) { exec_->seed(s); }

 private:
  void* buffer(const py::handle& obj, const std::string& what, bool writeable,
               std::vector<std::int64_t>* shape, py::list* keep = nullptr) {
    if (!py::isinstance<py::array>(obj)) throw py::type_error(what + " must be a numpy.ndarray");
    auto a = py::reinterpret_borrow<py::array>(obj);
    const bool f32 = a.dtype().is(py::dtype::of<float>()), f64 = a.dtype().is(py::dtype::of<double>());
    if ((dtype_ == DType::kFloat32 && !f32) || (dtype_ == DType::kFloat64 && !f64))
      throw py::type_error(what + " has dtype " + std::string(py::str(a.dtype())) + ", expected " +
                           (dtype_ == DType::kFloat32 ? "float32" : "float64"));
    if (!(a.flags() & py::array::c_style)) throw py::value_error(what + " must be C-contiguous");
    if (writeable && !a.writeable()) throw py::value_error(what + " must be writeable");
    shape->assign(a.shape(), a.shape() + a.ndim());
    (keep ? *keep : keep_).append(a);
    return const_cast<void*>(a.data());
  }

  static graph::OpParams params(const py::dict& d) {
    graph::OpParams p;
    for (auto item : d) {
      const std::string k = item.first.cast<std::string>();
      py::handle v = item.second;
      if (k == "num_hidden") p.num_hidden = v.cast<std::int64_t>();
      else if (k == "no_bias") p.no_bias = v.cast<bool>();
      else if (k == "flatten") p.flatten = v.cast<bool>();
      else if (k == "act_type") p.act_type = static_cast<ops::ActType>(v.cast<int>());
      else if (k == "p") p.p = v.cast<float>();
      else if (k == "always") p.dropout_always = v.cast<bool>();
      else if (k == "grad_scale") p.grad_scale = p.softmax.grad_scale = v.cast<float>();
      else if (k == "ignore_label") p.softmax.ignore_label = v.cast<float>();
      else if (k == "multi_output") p.softmax.multi_output = v.cast<bool>();
      else if (k == "use_ignore") p.softmax.use_ignore = v.cast<bool>();
      else if (k == "preserve_shape") p.softmax.preserve_shape = v.cast<bool>();
      else if (k == "normalization") p.softmax.normalization = static_cast<ops::Normalization>(v.cast<int>());
      else if (k == "smooth_alpha") p.softmax.smooth_alpha = v.cast<float>();
      else throw py::value_error("unknown operator parameter " + k);
    }
    return p;
  }

  DType dtype_;
  std::unique_ptr<graph::Executor> exec_;
  py::list keep_;  // the bound numpy buffers stay alive as long as the executor
};

}  // namespace

void register_executor(py::module_& m) {
  m.def("gemm_isa", &ops::gemm_isa, "Instruction set of the FullyConnected GEMM kernels in use.");
  py::class_<PyExecutor>(m, "GraphExecutor")
      .def(py::init<const std::string&, const py::list&, const py::list&, const std::vector<int>&,
                    std::uint64_t>(),
           py::arg("dtype"), py::arg("entries"), py::arg("nodes"), py::arg("heads"), py::arg("seed"),
           "Bind a plan: entries (data, is_argument, grad or None, grad_req 0/1/3), nodes "
           "(kind, params, input entry ids, output entry id), head entry ids.")
      .def("forward", &PyExecutor::forward, py::arg("is_train"))
      .def("backward", &PyExecutor::backward, py::arg("head_grads"), py::arg("head_shapes"))
      .def("head_needs_grad", &PyExecutor::head_needs_grad, py::arg("index"))
      .def("seed", &PyExecutor::seed, py::arg("seed"));
}

}  // namespace mxopt::bindings
