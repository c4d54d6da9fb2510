// Binds mxopt/random.h: the process-wide generator behind mx.random (python/mxopt/random.py).
// Output arrays are filled in place: float16/float32/float64, C-contiguous, writeable.
#include <string>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "mxopt/random.h"

namespace py = pybind11;

namespace mxopt::bindings {

random::Buffer writable_float_buffer(py::array& out, const char* name) {
  const py::dtype dt = out.dtype();
  DType t;
  if (dt.kind() == 'f' && dt.itemsize() == 4) {
    t = DType::kFloat32;
  } else if (dt.kind() == 'f' && dt.itemsize() == 8) {
    t = DType::kFloat64;
  } else if (dt.kind() == 'f' && dt.itemsize() == 2) {
    t = DType::kFloat16;
  } else {
    throw py::type_error(std::string(name) + " must be a float16/float32/float64 array, got dtype " +
                         py::str(dt).cast<std::string>());
  }
  if (!(out.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + " must be C-contiguous");
  if (!out.writeable()) throw py::value_error(std::string(name) + " must be writeable");
  return random::Buffer(out.mutable_data(), t, static_cast<std::size_t>(out.size()));
}

namespace {

// MXNet's generator takes its parameters as MXNet does: str(value) parsed to float32 (a value
// beyond float32's range is refused, as MXNet refuses it).
float mxnet_float(const py::handle& v, const char* name) {
  const std::string text = py::str(v).cast<std::string>();
  try {
    return random::parse_mxnet_float(text);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(std::string(e.what()) + " (parameter " + name + ")");
  }
}

void sample(bool uniform, const py::object& a, const py::object& b, py::array out) {
  random::Buffer buf = writable_float_buffer(out, "out");
  random::Generator& g = random::global();
  if (auto* m = dynamic_cast<random::MXNetGenerator*>(&g)) {
    const float fa = mxnet_float(a, uniform ? "low" : "loc");
    const float fb = mxnet_float(b, uniform ? "high" : "scale");
    py::gil_scoped_release release;
    if (uniform) {
      m->uniform_f32(fa, fb, buf);
    } else {
      m->normal_f32(fa, fb, buf);
    }
  } else {
    const double da = a.cast<double>(), db = b.cast<double>();
    py::gil_scoped_release release;
    if (uniform) {
      g.uniform(da, db, buf);
    } else {
      g.normal(da, db, buf);
    }
  }
}

}  // namespace

void register_random(py::module_& m) {
  m.def("random_seed", &random::seed_global, py::arg("seed"), py::arg("generator") = "mxnet",
        "Seed the global generator and make it current ('mxnet' or 'philox').");
  m.def("random_generator", [] { return random::global().name(); },
        "Name of the current global generator.");
  m.def("random_current_seed", [] { return random::global().current_seed(); });
  m.def("random_uniform",
        [](const py::object& low, const py::object& high, py::array out) {
          sample(true, low, high, std::move(out));
        },
        py::arg("low"), py::arg("high"), py::arg("out").noconvert(),
        "Fill `out` in place with U[low, high) from the global generator.");
  m.def("random_normal",
        [](const py::object& loc, const py::object& scale, py::array out) {
          sample(false, loc, scale, std::move(out));
        },
        py::arg("loc"), py::arg("scale"), py::arg("out").noconvert(),
        "Fill `out` in place with N(loc, scale^2) from the global generator.");
  m.def("parse_mxnet_float", &random::parse_mxnet_float, py::arg("text"),
        "MXNet's (dmlc-core's) parsing of a float parameter string.");
  m.def("parse_mxnet_double", &random::parse_mxnet_double, py::arg("text"));
  m.def("philox_simd", &random::PhiloxGenerator::simd);
}

}  // namespace mxopt::bindings
