// Kernel of the Test optimizer (see mxopt/optimizers/test.h).
#include "mxopt/optimizers/test.h"

#include "kernel_util.h"

namespace mxopt::kernels {
using namespace detail;

template <class T>
void test_update(T* weight, const T* grad, float* state, std::size_t n, double rescale_grad) {
  using C = compute_t<T>;
  const C rg = scalar<C>(rescale_grad);
  C* w = cp(weight);
  const C* g = cp(grad);
  parallel_for(n, [&](std::size_t i) {
    w[i] = w[i] + g[i] * rg;
    state[i] = static_cast<float>(w[i]);
  });
}

#define MXOPT_INST(T) template void test_update<T>(T*, const T*, float*, std::size_t, double);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
