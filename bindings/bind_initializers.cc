// Binds mxopt/initializer.h. The Python classes in mxopt/initializer.py hold MXNet's API
// (InitDesc dispatch, registry, dumps) and call `fill(array)` for the weight rules; each fill
// validates, then runs without the GIL on the caller's buffer, drawing from the global generator.
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>  // scale_for(shape): a list of ints

#include "bindings.h"
#include "mxopt/initializer.h"

namespace py = pybind11;

namespace mxopt::bindings {

namespace {

void fill(const init::Initializer& self, py::array out) {
  random::Buffer buf = writable_float_buffer(out, "arr");
  init::Shape shape(out.shape(), out.shape() + out.ndim());
  py::gil_scoped_release release;
  self.fill(buf, shape, random::global());
}

}  // namespace

void register_initializers(py::module_& m) {
  py::class_<init::Initializer>(m, "InitRule")
      .def("fill", &fill, py::arg("arr").noconvert(),
           "Apply this rule to `arr` (float16/32/64, C-contiguous) in place.");
  py::class_<init::Constant, init::Initializer>(m, "ConstantRule")
      .def(py::init<double>(), py::arg("value"))
      .def_readwrite("value", &init::Constant::value);
  py::class_<init::Uniform, init::Initializer>(m, "UniformRule")
      .def(py::init<double>(), py::arg("scale") = 0.07)
      .def_readwrite("scale", &init::Uniform::scale);
  py::class_<init::Normal, init::Initializer>(m, "NormalRule")
      .def(py::init<double>(), py::arg("sigma") = 0.01)
      .def_readwrite("sigma", &init::Normal::sigma);
  py::class_<init::Xavier, init::Initializer>(m, "XavierRule")
      .def(py::init<std::string, std::string, double>(), py::arg("rnd_type") = "uniform",
           py::arg("factor_type") = "avg", py::arg("magnitude") = 3.0)
      .def("scale_for", &init::Xavier::scale_for, py::arg("shape"))
      .def_readwrite("rnd_type", &init::Xavier::rnd_type)
      .def_readwrite("factor_type", &init::Xavier::factor_type)
      .def_readwrite("magnitude", &init::Xavier::magnitude);
  py::class_<init::Orthogonal, init::Initializer>(m, "OrthogonalRule")
      .def(py::init<double, std::string>(), py::arg("scale") = 1.414,
           py::arg("rand_type") = "uniform")
      .def_readwrite("scale", &init::Orthogonal::scale)
      .def_readwrite("rand_type", &init::Orthogonal::rand_type);
  py::class_<init::Bilinear, init::Initializer>(m, "BilinearRule").def(py::init<>());
  py::class_<init::LSTMBias, init::Initializer>(m, "LSTMBiasRule")
      .def(py::init<double>(), py::arg("forget_bias") = 1.0)
      .def_readwrite("forget_bias", &init::LSTMBias::forget_bias);
}

}  // namespace mxopt::bindings
