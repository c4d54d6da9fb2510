// Embedding mxopt in a C++ application: MXNet-identical weight initialisation, a warmup +
// cosine learning-rate schedule, and a small training loop (linear regression) with
// mxopt::Adam, per-parameter multipliers and a scheduler.
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include <mxopt/initializer.h>
#include <mxopt/lr_scheduler.h>
#include <mxopt/optimizer.h>
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
  if (sched(100) != 0.001 || !in_range || bias[0] != 0.0f) return 1;

  // y = 2*x0 - 3*x1 + 0.5, learned by Adam with a factor schedule.
  const int n = 64;
  std::vector<float> x(2 * n), y(n);
  for (int i = 0; i < n; ++i) {
    x[2 * i] = std::sin(0.3f * i);
    x[2 * i + 1] = std::cos(0.17f * i);
    y[i] = 2.0f * x[2 * i] - 3.0f * x[2 * i + 1] + 0.5f;
  }
  mxopt::OptimizerOptions o;  // with a scheduler, the scheduler's base_lr is the rate
  o.lr_scheduler = std::make_shared<mxopt::FactorScheduler>(/*step=*/100, /*factor=*/0.5,
                                                            /*stop_factor_lr=*/1e-8,
                                                            /*base_lr=*/0.1);
  mxopt::Adam opt(o);
  opt.set_param_name(0, "fc_weight");
  opt.set_param_name(1, "fc_bias");
  std::vector<float> w = {0.0f, 0.0f}, b = {0.0f}, gw(2), gb(1);
  auto loss = [&] {
    double s = 0;
    for (int i = 0; i < n; ++i) {
      const double e = w[0] * x[2 * i] + w[1] * x[2 * i + 1] + b[0] - y[i];
      s += e * e;
    }
    return s / n;
  };
  const double start = loss();
  for (int step = 0; step < 400; ++step) {
    gw[0] = gw[1] = gb[0] = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float e = w[0] * x[2 * i] + w[1] * x[2 * i + 1] + b[0] - y[i];
      gw[0] += 2 * e * x[2 * i] / n;
      gw[1] += 2 * e * x[2 * i + 1] / n;
      gb[0] += 2 * e / n;
    }
    opt.update(0, w.data(), gw.data(), 2);
    opt.update(1, b.data(), gb.data(), 1);
  }
  std::printf("adam: loss %.6f -> %.6f, w = (%.4f, %.4f), b = %.4f, num_update %lld\n", start,
              loss(), w[0], w[1], b[0], static_cast<long long>(opt.num_update()));
  return loss() < 1e-3 ? 0 : 2;
}
