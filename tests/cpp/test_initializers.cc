// mxopt/initializer.h: every rule on raw buffers, its checks, and reproducibility.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "mxopt/initializer.h"

namespace mi = mxopt::init;
namespace mr = mxopt::random;

namespace {
double stddev(const std::vector<float>& v) {
  const double m = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  double s = 0;
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / v.size());
}
}  // namespace

TEST(Initializers, ConstantsInEveryDtype) {
  mr::MXNetGenerator rng(0);
  std::vector<float> f(6);
  mi::Constant(2.5).fill(f.data(), {2, 3}, rng);
  for (float v : f) EXPECT_EQ(v, 2.5f);
  std::vector<double> d(4);
  mi::One().fill(d.data(), {4}, rng);
  for (double v : d) EXPECT_EQ(v, 1.0);
  std::vector<mxopt::Half> h(5, mxopt::Half{0x1234});
  mi::Zero().fill(h.data(), {5}, rng);
  for (auto v : h) EXPECT_EQ(v.bits, 0);
  mi::Constant(0.1).fill(h.data(), {5}, rng);
  for (auto v : h) EXPECT_EQ(v.bits, mxopt::to_half(0.1f).bits);
}

TEST(Initializers, UniformAndNormalAreOneGeneratorCall) {
  std::vector<float> a(1000), b(1000);
  mr::MXNetGenerator g1(42), g2(42);
  mi::Uniform(0.3).fill(a.data(), {10, 100}, g1);
  g2.uniform(-0.3, 0.3, mr::Buffer(b.data(), 1000));
  EXPECT_EQ(a, b);
  mi::Normal(0.02).fill(a.data(), {1000}, g1);
  g2.normal(0.0, 0.02, mr::Buffer(b.data(), 1000));
  EXPECT_EQ(a, b);
}

TEST(Initializers, XavierFanComputations) {
  EXPECT_DOUBLE_EQ(mi::Xavier("uniform", "avg", 3).scale_for({64, 32}), std::sqrt(3.0 / 48));
  EXPECT_DOUBLE_EQ(mi::Xavier("uniform", "in", 3).scale_for({64, 32}), std::sqrt(3.0 / 32));
  EXPECT_DOUBLE_EQ(mi::Xavier("uniform", "out", 3).scale_for({64, 32}), std::sqrt(3.0 / 64));
  // conv (O, I, kh, kw): fan_in = I kh kw, fan_out = O kh kw
  EXPECT_DOUBLE_EQ(mi::Xavier("gaussian", "in", 2).scale_for({16, 8, 3, 3}), std::sqrt(2.0 / 72));
  EXPECT_DOUBLE_EQ(mi::Xavier("gaussian", "out", 2).scale_for({16, 8, 3, 3}),
                   std::sqrt(2.0 / 144));
  EXPECT_DOUBLE_EQ(mi::MSRAPrelu("in", 0.25).scale_for({10, 40}),
                   std::sqrt(2.0 / (1 + 0.0625) / 40));
}

TEST(Initializers, XavierDrawsWithinTheScale) {
  mr::PhiloxGenerator rng(1);
  std::vector<float> w(64 * 32 * 9);
  mi::Xavier xu("uniform", "avg", 3);
  xu.fill(w.data(), {64, 32, 3, 3}, rng);
  const double c = xu.scale_for({64, 32, 3, 3});
  const auto [mn, mx] = std::minmax_element(w.begin(), w.end());
  EXPECT_GE(*mn, -c);
  EXPECT_LE(*mx, c);
  EXPECT_GT(*mx, 0.95 * c);
  EXPECT_NEAR(stddev(w), c / std::sqrt(3.0), 0.02 * c);
  mi::Xavier xg("gaussian", "in", 2);
  xg.fill(w.data(), {64, 32, 3, 3}, rng);
  EXPECT_NEAR(stddev(w), xg.scale_for({64, 32, 3, 3}), 0.02 * xg.scale_for({64, 32, 3, 3}));
}

TEST(Initializers, XavierErrorsLeaveTheBufferAlone) {
  mr::MXNetGenerator rng(0);
  std::vector<float> w(8, 5.0f);
  EXPECT_THROW(mi::Xavier().fill(w.data(), {8}, rng), std::invalid_argument);
  EXPECT_THROW(mi::Xavier("uniform", "fan").fill(w.data(), {2, 4}, rng), std::invalid_argument);
  EXPECT_THROW(mi::Xavier("cauchy", "avg").fill(w.data(), {2, 4}, rng), std::invalid_argument);
  EXPECT_THROW(mi::Uniform().fill(mr::Buffer(w.data(), 8), {3, 3}, rng), std::invalid_argument);
  EXPECT_THROW(mi::Bilinear().fill(w.data(), {2, 4}, rng), std::invalid_argument);
  EXPECT_THROW(mi::Orthogonal(1.0, "cauchy").fill(w.data(), {2, 4}, rng), std::invalid_argument);
  for (float v : w) EXPECT_EQ(v, 5.0f);
  // Factor type is checked before the random type, as in MXNet.
  try {
    mi::Xavier("cauchy", "fan").fill(w.data(), {2, 4}, rng);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "Incorrect factor type");
  }
}

TEST(Initializers, OrthogonalRowsOrColumns) {
  for (const mi::Shape& s : std::vector<mi::Shape>{{8, 20}, {20, 8}, {16, 16}, {6, 2, 3, 3}}) {
    for (const char* rt : {"uniform", "normal"}) {
      mr::MXNetGenerator rng(3);
      const std::size_t n = mi::numel(s);
      std::vector<double> w(n);
      mi::Orthogonal(1.5, rt).fill(w.data(), s, rng);
      const std::size_t r = s[0], c = n / r;
      // Gram matrix of rows (r <= c) or columns (r > c) must be 1.5^2 I.
      const bool rows = r <= c;
      const std::size_t k = rows ? r : c;
      for (std::size_t a = 0; a < k; ++a) {
        for (std::size_t b = 0; b < k; ++b) {
          double dot = 0;
          for (std::size_t i = 0; i < (rows ? c : r); ++i)
            dot += rows ? w[a * c + i] * w[b * c + i] : w[i * c + a] * w[i * c + b];
          EXPECT_NEAR(dot, a == b ? 2.25 : 0.0, 1e-5) << rt;
        }
      }
    }
  }
}

TEST(Initializers, BilinearKernel) {
  mr::MXNetGenerator rng(0);
  std::vector<float> w(16);
  mi::Bilinear().fill(w.data(), {1, 1, 4, 4}, rng);
  const float row[4] = {0.25f, 0.75f, 0.75f, 0.25f};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_FLOAT_EQ(w[y * 4 + x], row[x] * row[y]);
  // f and c come from the width: taller-than-wide kernels go negative (MXNet quirk).
  std::vector<float> t(15);
  mi::Bilinear().fill(t.data(), {1, 1, 5, 3}, rng);
  EXPECT_FLOAT_EQ(t[12], -0.0625f);
  EXPECT_FLOAT_EQ(t[13], -0.1875f);
  EXPECT_FLOAT_EQ(t[14], -0.1875f);
  std::vector<float> two(2 * 3 * 9);
  mi::Bilinear().fill(two.data(), {2, 3, 3, 3}, rng);
  for (std::size_t i = 9; i < two.size(); ++i) EXPECT_EQ(two[i], two[i % 9]);
}

TEST(Initializers, LSTMBiasSetsTheForgetGate) {
  mr::MXNetGenerator rng(0);
  std::vector<float> b(16, 9.0f);
  mi::LSTMBias(1.5).fill(b.data(), {16}, rng);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(b[i], (i >= 4 && i < 8) ? 1.5f : 0.0f);
  std::vector<double> m(8 * 3);
  mi::LSTMBias(2.0).fill(m.data(), {8, 3}, rng);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(m[i], (i >= 6 && i < 12) ? 2.0 : 0.0);
}

TEST(Initializers, ThreadCountIndependent) {
  const mi::Shape s{512, 300};
  std::vector<float> a(512 * 300), b(a.size()), oa(64 * 64), ob(64 * 64);
  for (int threads : {1, 2}) {
#if defined(_OPENMP)
    omp_set_num_threads(threads);
#endif
    mr::MXNetGenerator rng(9);
    mi::Xavier("gaussian").fill((threads == 1 ? a : b).data(), s, rng);
    mi::Orthogonal().fill((threads == 1 ? oa : ob).data(), {64, 64}, rng);
  }
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4));
  EXPECT_EQ(0, std::memcmp(oa.data(), ob.data(), oa.size() * 4));
}
