// Embedding mxopt in a C++ application: MXNet-identical weight initialisation and a warmup +
// cosine learning-rate schedule.
#include <cmath>
#include <cstdio>
#include <vector>

#include <mxopt/initializer.h>
#include <mxopt/lr_scheduler.h>
#include <mxopt/random.h>

int main() {
  // Same stream as `mx.random.seed(42)` in MXNet 1.9.1.
  mxopt::random::MXNetGenerator rng(42);
  std::vector<float> weight(128 * 64), bias(128);
  mxopt::init::Xavier xavier("uniform", "avg", 3.0);
  xavier.fill(weight.data(), {128, 64}, rng);
  mxopt::init::Zero().fill(bias.data(), {128}, rng);
  const double c = xavier.scale_for({128, 64});
  double sum2 = 0;
  bool in_range = true;
  for (float w : weight) {
    sum2 += double(w) * w;
    in_range = in_range && std::fabs(w) <= c;
  }
  std::printf("xavier weight (128, 64): bound %.5f, rms %.5f (expected %.5f)\n", c,
              std::sqrt(sum2 / weight.size()), c / std::sqrt(3.0));

  mxopt::CosineScheduler sched(/*max_update=*/100, /*base_lr=*/0.1, /*final_lr=*/0.001,
                               /*warmup_steps=*/10, /*warmup_begin_lr=*/0.0);
  for (int n = 0; n <= 100; n += 10) std::printf("update %3d  lr %.6f\n", n, sched(n));
  // The schedule must end exactly at final_lr; the weights must lie in [-c, c].
  return (sched(100) == 0.001 && in_range && bias[0] == 0.0f) ? 0 : 1;
}
