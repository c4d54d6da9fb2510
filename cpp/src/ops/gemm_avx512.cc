// GEMM kernels compiled for AVX512 (cpp/CMakeLists.txt gives this file the ISA flags on x86-64;
// elsewhere it compiles to nothing and the dispatcher in gemm_base.cc never picks it).
#include "gemm.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__) && defined(__AVX512BW__)
#define MXOPT_GEMM_NAMESPACE EigenGemmAvx512
#include "gemm_impl.inc"

namespace mxopt::ops::gemm {
const Kernels* kernels_avx512() {
  static const Kernels k{"avx512", &gemm<float>, &gemm<double>};
  return &k;
}
}  // namespace mxopt::ops::gemm
#else
namespace mxopt::ops::gemm {
const Kernels* kernels_avx512() { return nullptr; }
}  // namespace mxopt::ops::gemm
#endif
