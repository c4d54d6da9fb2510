// Shared declarations of the binding translation units (one per area).
#pragma once
#include <pybind11/pybind11.h>

namespace mxopt::bindings {
void register_lr_scheduler(pybind11::module_& m);
void register_optimizers(pybind11::module_& m);
void register_io(pybind11::module_& m);
void register_executor(pybind11::module_& m);
}  // namespace mxopt::bindings
