// Private: the GEMM kernels behind FullyConnected, compiled once per x86 ISA level
// (gemm_base.cc, gemm_avx2.cc, gemm_avx512.cc) and chosen at run time for the CPU.
//
// C(m,n) = op(A) * op(B), or C += ..., all row-major with leading dimensions; op(X) is X or
// X^T. One call is single-threaded (callers tile the output and spread tiles over threads).
#pragma once

#include <cstdint>

namespace mxopt::ops::gemm {

template <class T>
using GemmFn = void (*)(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
                        std::int64_t k, const T* a, std::int64_t lda, const T* b,
                        std::int64_t ldb, T* c, std::int64_t ldc, bool accumulate);

struct Kernels {
  const char* isa;
  GemmFn<float> f32;
  GemmFn<double> f64;
};

// Each returns nullptr when its TU was not compiled for that ISA.
const Kernels* kernels_base();
const Kernels* kernels_avx2();
const Kernels* kernels_avx512();

// The best kernels this CPU runs (decided once).
const Kernels& best();

}  // namespace mxopt::ops::gemm
