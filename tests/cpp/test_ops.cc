// Operator kernels: reference math, thread-count independence. (Graph-level gradients are
// checked in tests/python/test_executor.py.)
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "mxopt/ops.h"

using namespace mxopt;
using ops::Req;

namespace {

template <class T>
std::vector<T> random_vec(std::size_t n, unsigned seed, double lo = -1, double hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

}  // namespace

TEST(FullyConnected, MatchesNaiveReferenceAcrossTiles) {
  const int m = 130, k = 70, n = 300;  // several 64x256 tiles, ragged edges
  auto x = random_vec<double>(m * k, 1), w = random_vec<double>(n * k, 2), b = random_vec<double>(n, 3);
  std::vector<double> y(m * n);
  ops::fully_connected_forward<double>(x.data(), w.data(), b.data(), y.data(), m, k, n);
  for (int i = 0; i < m; i += 7)
    for (int j = 0; j < n; j += 11) {
      double ref = b[j];
      for (int t = 0; t < k; ++t) ref += x[i * k + t] * w[j * k + t];
      EXPECT_NEAR(y[i * n + j], ref, 1e-12);
    }
  auto g = random_vec<double>(m * n, 4);
  std::vector<double> gx(m * k), gw(n * k), gb(n);
  ops::fully_connected_backward<double>(g.data(), x.data(), w.data(), m, k, n, gx.data(), Req::kWrite,
                                        gw.data(), Req::kWrite, gb.data(), Req::kWrite);
  for (int j = 0; j < n; j += 13) {
    double sb = 0;
    for (int i = 0; i < m; ++i) sb += g[i * n + j];
    EXPECT_NEAR(gb[j], sb, 1e-12);
    for (int t = 0; t < k; t += 9) {
      double s = 0;
      for (int i = 0; i < m; ++i) s += g[i * n + j] * x[i * k + t];
      EXPECT_NEAR(gw[j * k + t], s, 1e-12);
    }
  }
  for (int i = 0; i < m; i += 17)
    for (int t = 0; t < k; t += 5) {
      double s = 0;
      for (int j = 0; j < n; ++j) s += g[i * n + j] * w[j * k + t];
      EXPECT_NEAR(gx[i * k + t], s, 1e-12);
    }
  // kAdd accumulates on top; kNull leaves the buffer alone.
  std::vector<double> gw2 = gw, gx_untouched(m * k, 7.0);
  ops::fully_connected_backward<double>(g.data(), x.data(), w.data(), m, k, n, gx_untouched.data(),
                                        Req::kNull, gw2.data(), Req::kAdd, nullptr, Req::kNull);
  for (int i = 0; i < n * k; i += 101) EXPECT_NEAR(gw2[i], 2 * gw[i], 1e-12);
  EXPECT_EQ(gx_untouched[0], 7.0);
}

// Without OpenMP both runs are single-threaded and must still agree bit for bit.
void set_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

TEST(FullyConnected, ResultDoesNotDependOnThreadCount) {
  const int m = 256, k = 784, n = 256;
  auto x = random_vec<float>(m * k, 5), w = random_vec<float>(n * k, 6), b = random_vec<float>(n, 7);
  auto g = random_vec<float>(m * n, 8);
  auto run = [&](int threads, std::vector<float>& y, std::vector<float>& gw, std::vector<float>& gx) {
    set_threads(threads);
    ops::fully_connected_forward<float>(x.data(), w.data(), b.data(), y.data(), m, k, n);
    std::vector<float> gb(n);
    ops::fully_connected_backward<float>(g.data(), x.data(), w.data(), m, k, n, gx.data(), Req::kWrite,
                                         gw.data(), Req::kWrite, gb.data(), Req::kWrite);
    set_threads(2);
  };
  std::vector<float> y1(m * n), y2(m * n), w1(n * k), w2(n * k), x1(m * k), x2(m * k);
  run(1, y1, w1, x1);
  run(3, y2, w2, x2);
  EXPECT_EQ(y1, y2);
  EXPECT_EQ(w1, w2);
  EXPECT_EQ(x1, x2);
}

TEST(Activation, ForwardAndGradients) {
  const std::vector<double> x = {-3, -0.5, 0, 0.5, 3, 25};
  std::vector<double> y(6), gx(6);
  const std::vector<double> g(6, 1.0);
  for (auto act : {ops::ActType::kRelu, ops::ActType::kSigmoid, ops::ActType::kTanh,
                   ops::ActType::kSoftRelu, ops::ActType::kSoftSign}) {
    ops::activation_forward<double>(act, x.data(), y.data(), 6);
    ops::activation_backward<double>(act, g.data(), x.data(), y.data(), gx.data(), Req::kWrite, 6);
    for (int i = 0; i < 6; ++i) {
      if (act == ops::ActType::kRelu && x[i] == 0) continue;  // kink
      const double h = 1e-6;
      std::vector<double> xp = {x[i] + h}, xm = {x[i] - h}, yp(1), ym(1);
      ops::activation_forward<double>(act, xp.data(), yp.data(), 1);
      ops::activation_forward<double>(act, xm.data(), ym.data(), 1);
      EXPECT_NEAR(gx[i], (yp[0] - ym[0]) / (2 * h), 1e-6) << static_cast<int>(act) << " x=" << x[i];
    }
  }
}

TEST(SoftmaxOutput, RowsSumToOneAndGradientIsPMinusOneHot) {
  const std::vector<std::int64_t> shape = {3, 4};
  auto x = random_vec<double>(12, 9, -5, 5);
  std::vector<double> y(12), g(12);
  ops::SoftmaxOutputParam p;
  ops::softmax_output_forward<double>(p, x.data(), y.data(), shape);
  for (int r = 0; r < 3; ++r) {
    double s = 0;
    for (int c = 0; c < 4; ++c) s += y[r * 4 + c];
    EXPECT_NEAR(s, 1.0, 1e-15);
  }
  const std::vector<double> label = {1, 3, 7};  // 7 matches no class
  p.normalization = ops::Normalization::kBatch;
  p.grad_scale = 2.0f;
  ops::softmax_output_backward<double>(p, y.data(), label.data(), shape, {3}, g.data(), Req::kWrite);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) {
      const double t = (c == static_cast<int>(label[r])) ? 1.0 : 0.0;
      EXPECT_NEAR(g[r * 4 + c], (y[r * 4 + c] - t) * (2.0f / 3.0f), 1e-7);
    }
  p.use_ignore = true;
  p.ignore_label = 3;
  p.normalization = ops::Normalization::kValid;
  ops::softmax_output_backward<double>(p, y.data(), label.data(), shape, {3}, g.data(), Req::kWrite);
  for (int c = 0; c < 4; ++c) EXPECT_EQ(g[4 + c], 0.0);
  EXPECT_NEAR(g[0], y[0] * (2.0f / 2.0f), 1e-7);
  // NaN / huge labels never index anything.
  const std::vector<double> weird = {NAN, 1e30, -1e30};
  EXPECT_NO_THROW(ops::softmax_output_backward<double>(p, y.data(), weird.data(), shape, {3},
                                                       g.data(), Req::kWrite));
}

TEST(Regression, GradientIsScaledDifference) {
  const std::vector<float> y = {1, 2, 3, 4, 5, 6}, label = {0, 2, 1, 4, 9, 6};
  std::vector<float> g(6);
  ops::regression_backward<float>(ops::RegressionType::kLinear, 1.0f, y.data(), label.data(), 6, 2,
                                  g.data(), Req::kWrite);
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(g[i], (y[i] - label[i]) / 3.0f);
  ops::regression_backward<float>(ops::RegressionType::kMAE, 1.0f, y.data(), label.data(), 6, 2,
                                  g.data(), Req::kWrite);
  EXPECT_FLOAT_EQ(g[0], 1.0f / 3);
  EXPECT_FLOAT_EQ(g[1], -1.0f / 3);  // tie: MXNet's minus_sign gives -1
}
