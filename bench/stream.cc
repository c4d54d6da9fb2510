// A STREAM-like bandwidth probe: the memory roofline the benchmarks compare against.
// Prints one JSON object: GB/s (1e9 bytes/s, best of the repetitions) for
//   fill  a[i] = s                 (write only: 4 B/elem)
//   copy  a[i] = b[i]              (8 B/elem)
//   triad a[i] = b[i] + s * c[i]   (12 B/elem)
// Usage: stream [n_floats] [repetitions]; threads from OMP_NUM_THREADS.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

template <class F>
double best_seconds(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 32L << 20;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 10;
  std::vector<float> a(n), b(n), c(n);
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) a[i] = 1.0f, b[i] = 2.0f, c[i] = 0.5f;  // first touch per thread
  float* pa = a.data();
  const float* pb = b.data();
  const float* pc = c.data();
  const float s = 3.0f;
  double fill = best_seconds(reps, [&] {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) pa[i] = s;
  });
  double copy = best_seconds(reps, [&] {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) pa[i] = pb[i];
  });
  double triad = best_seconds(reps, [&] {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
  });
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  volatile float sink = a[n / 2];
  (void)sink;
  std::printf("{\"n\": %ld, \"threads\": %d, \"fill_GBs\": %.3f, \"copy_GBs\": %.3f, \"triad_GBs\": %.3f}\n",
              n, threads, 4.0 * n / fill / 1e9, 8.0 * n / copy / 1e9, 12.0 * n / triad / 1e9);
  return 0;
}
