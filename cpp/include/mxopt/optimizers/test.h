// The kernel of MXNet's `Test` optimizer (a debugging optimizer kept for registry parity).
#pragma once

#include <cstddef>

#include "mxopt/optimizers/common.h"

namespace mxopt::kernels {

// w = w + g*rg (rg a Python double rounded to the dtype); state = float32(w).
template <class T>
void test_update(T* weight, const T* grad, float* state, std::size_t n, double rescale_grad);

}  // namespace mxopt::kernels
