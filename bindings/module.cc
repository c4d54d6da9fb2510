// mxopt._core: wiring only. Each area registers its classes in bind_<area>.cc.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "mxopt/lr_scheduler.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "mxopt's compiled core (private; use the mxopt package)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const mxopt::ZeroDivisionError& e) {
      PyErr_SetString(PyExc_ZeroDivisionError, e.what());
    } catch (const mxopt::AssertionError& e) {
      PyErr_SetString(PyExc_AssertionError, e.what());
    }
  });

  mxopt::bindings::register_lr_scheduler(m);
  mxopt::bindings::register_optimizers(m);
  mxopt::bindings::register_io(m);
  mxopt::bindings::register_data(m);
  mxopt::bindings::register_random(m);
  mxopt::bindings::register_initializers(m);
  mxopt::bindings::register_ops(m);
  mxopt::bindings::register_nn(m);
}
