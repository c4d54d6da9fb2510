// Shared declarations of the binding translation units (one per area).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "mxopt/random.h"

namespace mxopt::bindings {
void register_lr_scheduler(pybind11::module_& m);
void register_optimizers(pybind11::module_& m);
void register_io(pybind11::module_& m);
void register_data(pybind11::module_& m);
void register_random(pybind11::module_& m);
void register_initializers(pybind11::module_& m);
void register_ops(pybind11::module_& m);
void register_nn(pybind11::module_& m);

// The buffer of a float16/float32/float64, C-contiguous, writeable numpy array (TypeError /
// ValueError naming `name` otherwise). Defined in bind_random.cc.
random::Buffer writable_float_buffer(pybind11::array& out, const char* name);
}  // namespace mxopt::bindings
