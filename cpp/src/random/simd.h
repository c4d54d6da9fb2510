// Private: per-ISA clones of hot loops. The compiler emits an AVX-512, an AVX2 and a baseline
// version and the loader picks one for the running CPU. All are bit-identical: only IEEE
// basic operations are used and FMA contraction is off (-ffp-contract=off).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    defined(__linux__) && !defined(MXOPT_NO_CLONES) && !defined(__AVX2__)
#define MXOPT_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MXOPT_SIMD_CLONES
#endif

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace mxopt::detail {
// Below this many elements a call runs on the calling thread (no OpenMP start-up cost).
constexpr long kParallelMinElements = 32768;
}  // namespace mxopt::detail
