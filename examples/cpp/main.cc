// Embedding mxopt in a C++ application: a warmup + cosine learning-rate schedule.
#include <cstdio>

#include <mxopt/lr_scheduler.h>

int main() {
  mxopt::CosineScheduler sched(/*max_update=*/100, /*base_lr=*/0.1, /*final_lr=*/0.001,
                               /*warmup_steps=*/10, /*warmup_begin_lr=*/0.0);
  for (int n = 0; n <= 100; n += 10) std::printf("update %3d  lr %.6f\n", n, sched(n));
  // The schedule must end exactly at final_lr.
  return sched(100) == 0.001 ? 0 : 1;
}
