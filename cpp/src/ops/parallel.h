// Private helpers of the operator kernels: OpenMP only above a size threshold.
#pragma once

#include <cstdint>

#ifdef MXOPT_HAVE_OPENMP
#include <omp.h>
#endif

namespace mxopt::ops::detail {

// Element-wise loops below this size run on one thread: 128K floats stream through one core in
// ~20 us, a fork/join costs a few us when idle and a whole time slice when another process
// holds the second core.
inline constexpr std::int64_t kParallelElements = 131072;
// GEMM tiles are distributed over threads when m*n*k reaches this many multiply-adds.
inline constexpr std::int64_t kParallelFlops = 1 << 18;

// Runs fn(begin, end) over [0, n) in fixed chunks of `grain` (the partition never depends on
// the number of threads, so neither do the results).
template <class Fn>
void parallel_chunks(std::int64_t n, std::int64_t grain, bool parallel, Fn&& fn) {
  const std::int64_t chunks = (n + grain - 1) / grain;
  if (!parallel || chunks <= 1) {  // no OpenMP region at all: small work stays cheap
    for (std::int64_t c = 0; c < chunks; ++c) {
      const std::int64_t b = c * grain;
      fn(b, b + grain < n ? b + grain : n);
    }
    return;
  }
#ifdef MXOPT_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t b = c * grain;
    fn(b, b + grain < n ? b + grain : n);
  }
}

// Element-wise loop body over [0, size), parallel above kParallelElements.
template <class Fn>
void for_each_index(std::int64_t size, Fn&& fn) {
  if (size < kParallelElements) {
    for (std::int64_t i = 0; i < size; ++i) fn(i);
    return;
  }
#ifdef MXOPT_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (std::int64_t i = 0; i < size; ++i) fn(i);
}

// fn(begin, end) over [0, size): one range below kParallelElements, else OpenMP's static
// split (each thread's loop is a plain range loop the compiler vectorizes).
template <class Fn>
void for_each_range(std::int64_t size, Fn&& fn) {
  if (size < kParallelElements) {
    fn(std::int64_t{0}, size);
    return;
  }
#ifdef MXOPT_HAVE_OPENMP
#pragma omp parallel
  {
    const std::int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const std::int64_t block = (size + nt - 1) / nt;
    const std::int64_t b = t * block < size ? t * block : size;
    fn(b, b + block < size ? b + block : size);
  }
#else
  fn(std::int64_t{0}, size);
#endif
}

}  // namespace mxopt::ops::detail
