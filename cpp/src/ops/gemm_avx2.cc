// GEMM kernels compiled for AVX2 (cpp/CMakeLists.txt gives this file the ISA flags on x86-64;
// elsewhere it compiles to nothing and the dispatcher in gemm_base.cc never picks it).
#include "gemm.h"

#if defined(__AVX2__) && defined(__FMA__)
#define MXOPT_GEMM_NAMESPACE EigenGemmAvx2
#include "gemm_impl.inc"

namespace mxopt::ops::gemm {
const Kernels* kernels_avx2() {
  static const Kernels k{"avx2", &gemm<float>, &gemm<double>};
  return &k;
}
}  // namespace mxopt::ops::gemm
#else
namespace mxopt::ops::gemm {
const Kernels* kernels_avx2() { return nullptr; }
}  // namespace mxopt::ops::gemm
#endif
