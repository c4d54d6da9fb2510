// GEMM kernels for the build's baseline instruction set (see gemm.h), and the dispatcher.
#define MXOPT_GEMM_NAMESPACE EigenGemmBase
#include "gemm_impl.inc"

namespace mxopt::ops::gemm {

const Kernels* kernels_base() {
  static const Kernels k{"baseline", &gemm<float>, &gemm<double>};
  return &k;
}

const Kernels& best() {
  static const Kernels* chosen = [] {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
      if (const Kernels* k = kernels_avx512()) return k;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      if (const Kernels* k = kernels_avx2()) return k;
#endif
    return kernels_base();
  }();
  return *chosen;
}

}  // namespace mxopt::ops::gemm
