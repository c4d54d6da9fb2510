// GoogleTest coverage of the optimizer kernels and classes against hand-computed values.
// Expected values are written out from the formulas (mxopt/optimizers/*.h) in the stated
// evaluation order with the same element type, so EXPECT_EQ checks bit-exact agreement.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "mxopt/dtype.h"
#include "mxopt/optimizer.h"
#include "mxopt/optimizers.h"

namespace k = mxopt::kernels;
using mxopt::float16;

namespace {

// Round through float16 (the kernels' per-operation rounding for half weights).
float h(float x) {
  float16 r;
  k::cast(&x, &r, 1);
  float back;
  k::cast(&r, &back, 1);
  return back;
}
std::vector<float16> to_half(const std::vector<float>& v) {
  std::vector<float16> out(v.size());
  k::cast(v.data(), out.data(), v.size());
  return out;
}
std::vector<float> to_float(const std::vector<float16>& v) {
  std::vector<float> out(v.size());
  k::cast(v.data(), out.data(), v.size());
  return out;
}
float kclip(float x, float c) { return x > c ? c : (x < -c ? -c : x); }

k::SGDParams sgd(float lr, float wd, float rg, float clip, float mom = 0.0f) {
  k::SGDParams p;
  p.lr = lr;
  p.wd = wd;
  p.rescale_grad = rg;
  p.clip_gradient = clip;
  p.momentum = mom;
  return p;
}

}  // namespace

// ---- SGD family ----------------------------------------------------------------------------------
TEST(SGDKernel, SingleFormWithAndWithoutClip) {
  std::vector<float> w = {1.0f, -2.0f, 0.25f}, g = {0.5f, 4.0f, -3.0f};
  k::sgd_update(w.data(), g.data(), 3, sgd(0.1f, 0.01f, 2.0f, 1.0f));
  const float decay = 1.0f - 0.1f * 0.01f;
  EXPECT_EQ(w[0], decay * 1.0f - 0.1f * 1.0f);    // 2*0.5 = 1 is not clipped
  EXPECT_EQ(w[1], decay * -2.0f - 0.1f * 1.0f);   // 8 clipped to 1
  EXPECT_EQ(w[2], decay * 0.25f - 0.1f * -1.0f);  // -6 clipped to -1

  std::vector<float> u = {1.0f, -2.0f}, gu = {0.5f, 4.0f};
  k::sgd_update(u.data(), gu.data(), 2, sgd(0.1f, 0.01f, 2.0f, k::kNoClip));
  EXPECT_EQ(u[1], decay * -2.0f - (0.1f * 2.0f) * 4.0f);  // (lr*rg)*g without clipping
}

TEST(SGDKernel, MomentumIsNegativeLrScaledVelocity) {
  // MXNet's convention: one step from zero momentum stores -lr*g.
  std::vector<float> w = {3.0f}, g = {1.0f}, mom = {0.0f};
  k::sgd_mom_update(w.data(), g.data(), mom.data(), 1, sgd(0.1f, 0.0f, 1.0f, k::kNoClip, 0.9f));
  EXPECT_EQ(mom[0], -0.1f);
  EXPECT_EQ(w[0], 3.0f + -0.1f);
  // Second step: mom = ((0.9*mom) - (lr*wd)*w) - (lr*rg)*g.
  const float w1 = w[0];
  k::sgd_mom_update(w.data(), g.data(), mom.data(), 1, sgd(0.1f, 0.5f, 1.0f, k::kNoClip, 0.9f));
  const float m2 = 0.9f * -0.1f - (0.1f * 0.5f) * w1 - (0.1f * 1.0f) * 1.0f;
  EXPECT_EQ(mom[0], m2);
  EXPECT_EQ(w[0], w1 + m2);
}

TEST(SGDKernel, MultiTensorFormWithoutStateDiffersFromSingleForm) {
  // multi_sgd_update (mom == nullptr): w + ((mu*0 - (lr*wd)*w) - lr*K(rg*g)).
  std::vector<float> a = {0.7f}, b = {0.7f}, g = {0.3f};
  k::sgd_mom_update(a.data(), g.data(), static_cast<float*>(nullptr), 1, sgd(0.05f, 0.2f, 1.0f, k::kNoClip));
  k::sgd_update(b.data(), g.data(), 1, sgd(0.05f, 0.2f, 1.0f, k::kNoClip));
  EXPECT_EQ(a[0], 0.7f + ((0.0f * 0.0f - (0.05f * 0.2f) * 0.7f) - (0.05f * 1.0f) * 0.3f));
  EXPECT_EQ(b[0], (1.0f - 0.05f * 0.2f) * 0.7f - (0.05f * 1.0f) * 0.3f);
}

TEST(SGDKernel, ClipZeroZeroesTheGradientInsideTheKernel) {
  // At kernel level clip >= 0 clips (0 included); the Python layer never forwards 0.
  std::vector<float> w = {2.0f}, g = {5.0f};
  k::sgd_update(w.data(), g.data(), 1, sgd(0.1f, 0.1f, 1.0f, 0.0f));
  EXPECT_EQ(w[0], (1.0f - 0.1f * 0.1f) * 2.0f);
}

TEST(SGDKernel, DoubleWeightsSeeFloat32HyperParameters) {
  std::vector<double> w = {1.0}, g = {1.0};
  k::sgd_update(w.data(), g.data(), 1, sgd(0.1f, 0.0f, 1.0f, k::kNoClip));
  EXPECT_EQ(w[0], (1.0 - double(0.1f) * 0.0) * 1.0 - (double(0.1f) * 1.0) * 1.0);
  EXPECT_NE(w[0], 0.9);  // not the double 0.1
}

TEST(SGDKernel, HalfWeightsRoundEveryOperation) {
  const std::vector<float> w0 = {0.3f, -1.7f, 2.9f}, g0 = {0.7f, 0.11f, -3.3f};
  auto w = to_half(w0);
  const auto g = to_half(g0);
  k::sgd_update(w.data(), g.data(), 3, sgd(0.1f, 0.05f, 0.5f, k::kNoClip));
  const auto got = to_float(w);
  const float lr = h(0.1f), wd = h(0.05f), rg = h(0.5f);
  const float decay = h(1.0f - h(lr * wd)), lr_rg = h(lr * rg);
  for (int i = 0; i < 3; ++i) {
    const float wi = h(w0[i]), gi = h(g0[i]);
    EXPECT_EQ(got[i], h(h(decay * wi) - h(lr_rg * gi))) << i;
  }
}

// The float16 element loops are vectorised at every ISA level (their conversions have no control
// flow): every float16 value as weight, gradient and momentum must give the element-by-element
// recurrence, each operation rounded to float16, NaN and inf included.
TEST(SGDKernel, HalfMomentumStepOfEveryValueAtEveryIsaLevel) {
  const std::size_t n = 0x10000;
  std::vector<float16> w0(n), g(n), mom0(n);
  for (std::size_t i = 0; i < n; ++i) {
    w0[i].bits = static_cast<std::uint16_t>(i);
    g[i].bits = static_cast<std::uint16_t>(i * 40503u);  // a permutation of the values
    mom0[i].bits = static_cast<std::uint16_t>(i * 52077u + 11u);
  }
  auto f = [](float16 x) { return mxopt::half_bits_to_float(x.bits); };
  auto r = [](float x) { return mxopt::half_bits_to_float(mxopt::float_to_half_bits(x)); };
  const float lr = 0.1f, wd = 0.01f, rg = 0.5f, mu = 0.9f;
  const float hmu = r(mu), lr_wd = r(r(lr) * r(wd)), lr_rg = r(r(lr) * r(rg));
  std::vector<float> want_w(n), want_m(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float m = r(r(r(hmu * f(mom0[i])) - r(lr_wd * f(w0[i]))) - r(lr_rg * f(g[i])));
    want_m[i] = m;
    want_w[i] = r(f(w0[i]) + m);
  }
  auto same = [](float a, float b) {
    return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
  };
  const k::IsaLevel before = k::isa_level();
  for (k::IsaLevel level : {k::IsaLevel::kBaseline, k::IsaLevel::kAVX2, k::IsaLevel::kAVX512}) {
    k::set_isa_level(level);
    auto w = w0, mom = mom0;
    k::sgd_mom_update(w.data(), g.data(), mom.data(), n, sgd(lr, wd, rg, k::kNoClip, mu));
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (!same(f(w[i]), want_w[i]) || !same(f(mom[i]), want_m[i])) {
        if (++bad <= 5)
          ADD_FAILURE() << k::isa_name(level) << " element " << i << ": w " << f(w[i])
                        << " vs " << want_w[i] << ", mom " << f(mom[i]) << " vs "
                        << want_m[i];
      }
    EXPECT_EQ(bad, 0u) << k::isa_name(level);
  }
  k::set_isa_level(before);
}

TEST(SGDKernel, MultiPrecisionUpdatesMasterThenRounds) {
  const std::vector<float> w0 = {0.1f, 1.2345678f};
  auto w = to_half(w0);
  const auto g = to_half({0.25f, -0.5f});
  std::vector<float> w32 = {0.1f, 1.2345678f}, mom = {0.0f, 0.0f};
  k::mp_sgd_mom_update(w.data(), g.data(), mom.data(), w32.data(), 2,
                       sgd(0.01f, 0.0f, 1.0f, k::kNoClip, 0.9f));
  EXPECT_EQ(mom[0], -(0.01f * 1.0f) * 0.25f + (0.9f * 0.0f - (0.01f * 0.0f) * 0.1f));
  EXPECT_EQ(w32[1], 1.2345678f + mom[1]);
  EXPECT_EQ(to_float(w)[1], h(w32[1]));
}

TEST(SGDKernel, RowSparseLazyTouchesOnlyGradientRows) {
  std::vector<float> w = {1, 1, 2, 2, 3, 3}, mom = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  const std::vector<float> data = {1, 2, 3, 4};
  const std::vector<std::int64_t> idx = {0, 2};
  k::sgd_mom_update_rsp(w.data(), 3, k::RowSparse<float>{data.data(), idx.data(), 2, 2},
                        mom.data(), sgd(0.1f, 0.1f, 1.0f, k::kNoClip, 0.9f), /*lazy=*/true);
  EXPECT_EQ(w[2], 2.0f);  // row 1 untouched: no decay, no momentum
  EXPECT_EQ(mom[3], 0.5f);
  const float m = 0.9f * 0.5f - (0.1f * 0.1f) * 3.0f - (0.1f * 1.0f) * 3.0f;
  EXPECT_EQ(mom[4], m);
  EXPECT_EQ(w[4], 3.0f + m);
}

TEST(SGDKernel, RowSparseStandardDecaysEveryRow) {
  std::vector<float> w = {1, 1, 2, 2, 3, 3};
  const std::vector<float> data = {1, 2};
  const std::vector<std::int64_t> idx = {2};
  k::sgd_update_rsp(w.data(), 3, k::RowSparse<float>{data.data(), idx.data(), 1, 2},
                    sgd(0.1f, 0.5f, 1.0f, k::kNoClip), /*lazy=*/false);
  const float decay = 1.0f - 0.1f * 0.5f;
  EXPECT_EQ(w[0], 1.0f * decay);
  EXPECT_EQ(w[2], 2.0f * decay);
  EXPECT_EQ(w[4], 3.0f * decay - (0.1f * 1.0f) * 1.0f);
  // Lazy: rows without gradient keep their value.
  std::vector<float> u = {1, 1, 2, 2, 3, 3};
  k::sgd_update_rsp(u.data(), 3, k::RowSparse<float>{data.data(), idx.data(), 1, 2},
                    sgd(0.1f, 0.5f, 1.0f, k::kNoClip), /*lazy=*/true);
  EXPECT_EQ(u[0], 1.0f);
  EXPECT_EQ(u[4], decay * 3.0f - (0.1f * 1.0f) * 1.0f);
}

TEST(SGDKernel, BadRowIndicesThrowBeforeWriting) {
  std::vector<float> w = {1, 2, 3};
  const std::vector<float> data = {1, 1};
  for (const std::vector<std::int64_t>& idx : {std::vector<std::int64_t>{2, 1},
                                              std::vector<std::int64_t>{1, 1},
                                              std::vector<std::int64_t>{0, 3},
                                              std::vector<std::int64_t>{-1, 0}}) {
    EXPECT_THROW(k::sgd_update_rsp(w.data(), 3, k::RowSparse<float>{data.data(), idx.data(), 2, 1},
                                   sgd(0.1f, 0.0f, 1.0f, k::kNoClip), true),
                 std::invalid_argument);
  }
  EXPECT_EQ(w, (std::vector<float>{1, 2, 3}));
}

TEST(NAGKernel, MomentumTermUsesTheUpdatedWeight) {
  std::vector<float> w = {1.0f}, g = {0.5f}, mom = {0.2f};
  k::nag_mom_update(w.data(), g.data(), mom.data(), 1, sgd(0.1f, 0.3f, 1.0f, k::kNoClip, 0.9f));
  const float m = 0.9f * 0.2f;
  const float gg = 1.0f * 0.5f;
  const float wn = (1.0f - m) + (0.9f + 1.0f) * (m - 0.1f * (gg + 0.3f * 1.0f));
  EXPECT_EQ(w[0], wn);
  EXPECT_EQ(mom[0], m - 0.1f * (gg + 0.3f * wn));
  EXPECT_NE(mom[0], m - 0.1f * (gg + 0.3f * 1.0f));  // the old weight would give this
}

TEST(LARS, TrustRatio) {
  // |w| = sqrt(16) = 4, |g| = sqrt(9) = 3: lr*eta*4/(3*rg + wd*4 + eps)
  EXPECT_EQ(k::lars_lr(0.1f, 16.0f, 9.0f, 0.01f, 0.001f, 0.0f, 0.5f),
            0.1f * 0.001f * 4.0f / (3.0f * 0.5f + 0.01f * 4.0f + 0.0f));
  EXPECT_EQ(k::lars_lr(0.1f, 0.0f, 9.0f, 0.01f, 0.001f, 0.0f, 1.0f), 0.1f);  // |w| = 0
  EXPECT_EQ(k::lars_lr(0.1f, 4.0f, 0.0f, 0.01f, 0.001f, 0.0f, 1.0f), 0.1f);  // |g| = 0
}

TEST(SignumKernel, SignumAndSignSGD) {
  std::vector<float> w = {1.0f, 1.0f}, g = {0.3f, -0.3f}, mom = {0.0f, 0.0f};
  k::SignumParams p;
  p.lr = 0.1f;
  p.wd = 0.1f;
  p.momentum = 0.9f;
  p.wd_lh = 0.01f;
  k::signum_update(w.data(), g.data(), mom.data(), 2, p);
  const float m0 = 0.9f * 0.0f - ((1.0f - 0.9f) * 0.1f) * 1.0f - ((1.0f - 0.9f) * 1.0f) * 0.3f;
  EXPECT_EQ(mom[0], m0);
  EXPECT_EQ(w[0], (1.0f - 0.1f * 0.01f) * 1.0f + 0.1f * -1.0f);
  std::vector<float> u = {1.0f, 1.0f, 1.0f}, gs = {2.0f, -2.0f, 0.0f};
  p.rescale_grad = -5.0f;  // ignored by signSGD
  k::signsgd_update(u.data(), gs.data(), 3, p);
  EXPECT_EQ(u[0], (1.0f - 0.1f * 0.1f) * 1.0f - 0.1f);
  EXPECT_EQ(u[1], (1.0f - 0.1f * 0.1f) * 1.0f + 0.1f);
  EXPECT_EQ(u[2], (1.0f - 0.1f * 0.1f) * 1.0f);  // sign(0) = 0
}

// ---- Adam family ------------------------------------------------------------------------------------
TEST(AdamKernel, WeightDecayBeforeClipAndEpsilonOutsideTheRoot) {
  std::vector<float> w = {2.0f}, g = {0.1f}, m = {0.0f}, v = {0.0f};
  k::AdamParams p{0.01f, 0.9f, 0.999f, 1e-8f, 0.5f, 1.0f, 0.5f};
  k::adam_update(w.data(), g.data(), m.data(), v.data(), 1, p);
  const float G = kclip(0.1f * 1.0f + 2.0f * 0.5f, 0.5f);  // 1.1 clipped to 0.5
  EXPECT_EQ(m[0], 0.9f * 0.0f + (1.0f - 0.9f) * G);
  EXPECT_EQ(v[0], 0.999f * 0.0f + (1.0f - 0.999f) * G * G);
  EXPECT_EQ(w[0], 2.0f - 0.01f * m[0] / (std::sqrt(v[0]) + 1e-8f));
}

TEST(AdamKernel, RowSparseStandardUsesWeightDecayOnMissingRows) {
  std::vector<float> w = {1, 2}, m = {0, 0}, v = {0, 0};
  const std::vector<float> data = {0.5f};
  const std::vector<std::int64_t> idx = {1};
  k::AdamParams p{0.1f, 0.9f, 0.999f, 1e-8f, 0.2f, 1.0f, k::kNoClip};
  k::adam_update_rsp(w.data(), 2, k::RowSparse<float>{data.data(), idx.data(), 1, 1}, m.data(),
                     v.data(), p, /*lazy=*/false);
  const float G0 = 1.0f * 0.2f;  // missing row: G = lambda*w
  EXPECT_EQ(m[0], 0.9f * 0.0f + (1.0f - 0.9f) * G0);
  EXPECT_EQ(v[0], 0.999f * 0.0f + (1.0f - 0.999f) * (G0 * G0));
  std::vector<float> u = {1, 2}, mu = {0, 0}, vu = {0, 0};
  k::adam_update_rsp(u.data(), 2, k::RowSparse<float>{data.data(), idx.data(), 1, 1}, mu.data(),
                     vu.data(), p, /*lazy=*/true);
  EXPECT_EQ(u[0], 1.0f);
  EXPECT_EQ(mu[0], 0.0f);
}

TEST(AdamWKernel, DecoupledDecaySkipAndGradientRewrite) {
  std::vector<float> w = {1.0f}, g = {4.0f}, m = {0.0f}, v = {0.0f};
  k::AdamWParams p;
  p.eta = 0.1f;
  p.wd = 0.5f;
  p.rescale_grad = 0.5f;
  p.clip_gradient = 1.0f;
  ASSERT_TRUE(k::adamw_update(w.data(), g.data(), m.data(), v.data(), 1, p, false));
  const float G = kclip(0.5f * 4.0f, 1.0f);
  EXPECT_EQ(g[0], G);  // single-tensor kernel rescales/clips the gradient in place
  EXPECT_EQ(m[0], 0.9f * 0.0f + (1.0f - 0.9f) * G);
  EXPECT_EQ(v[0], 0.999f * 0.0f + (1.0f - 0.999f) * (G * G));
  EXPECT_EQ(w[0], 1.0f - 0.1f * (1.0f * m[0] / (std::sqrt(v[0]) + 1e-6f) + 0.5f * 1.0f));
  // Aggregated form: m = b1*(m - G) + G, gradient untouched.
  std::vector<float> w2 = {1.0f}, g2 = {4.0f}, m2 = {0.0f}, v2 = {0.0f};
  ASSERT_TRUE(k::adamw_update(w2.data(), g2.data(), m2.data(), v2.data(), 1, p, true));
  EXPECT_EQ(g2[0], 4.0f);
  EXPECT_EQ(m2[0], 0.9f * (0.0f - G) + G);
  // rescale_grad 0 or non-finite: nothing happens.
  p.rescale_grad = 0.0f;
  EXPECT_FALSE(k::adamw_update(w2.data(), g2.data(), m2.data(), v2.data(), 1, p, true));
  p.rescale_grad = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(k::adamw_update(w2.data(), g2.data(), m2.data(), v2.data(), 1, p, true));
}

// rescale_grad 1 without clipping: the single form skips the (value-preserving) gradient
// rewrite; weights and moments are those of the formula for every kind of value, the gradient
// keeps its bits, and a rescale_grad != 1 still rewrites it.
TEST(AdamWKernel, UnitRescaleKeepsGradientAndMatchesFormula) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> g0 = {4.0f, -0.0f, 1e-40f, -3.5f, inf, 0.25f, 7.0f, -1e30f, 2.0f};
  const std::size_t n = g0.size();
  std::vector<float> w(n, 0.75f), g = g0, m(n, 0.125f), v(n, 0.5f);
  k::AdamWParams p;
  p.eta = 0.1f;
  p.wd = 0.5f;
  ASSERT_TRUE(k::adamw_update(w.data(), g.data(), m.data(), v.data(), n, p, false));
  for (std::size_t i = 0; i < n; ++i) {
    const float G = 1.0f * g0[i];
    const float mm = 0.9f * 0.125f + (1.0f - 0.9f) * G;
    const float vv = 0.999f * 0.5f + (1.0f - 0.999f) * (G * G);
    const float ww = 0.75f - 0.1f * (1.0f * mm / (std::sqrt(vv) + 1e-6f) + 0.5f * 0.75f);
    EXPECT_EQ(std::memcmp(&g[i], &g0[i], 4), 0) << i;
    EXPECT_EQ(std::memcmp(&m[i], &mm, 4), 0) << i;
    EXPECT_EQ(std::memcmp(&v[i], &vv, 4), 0) << i;
    EXPECT_EQ(std::memcmp(&w[i], &ww, 4), 0) << i;
  }
  p.rescale_grad = 2.0f;
  g = g0;
  ASSERT_TRUE(k::adamw_update(w.data(), g.data(), m.data(), v.data(), n, p, false));
  EXPECT_EQ(g[0], 8.0f);
}

// The dense kernels run the op on register copies and store at the end; the result is the
// same for any placement of the buffers (offsets that make the 64-byte vectors straddle cache
// lines) and for const inputs (SGLD's noise is only read).
TEST(DenseKernels, ResultsDoNotDependOnBufferOffsets) {
  const std::size_t n = 1000;
  auto fill = [](std::vector<float>& v, std::size_t off, float a, float b) {
    for (std::size_t i = 0; i < 1000; ++i) v[off + i] = a + b * std::sin(0.1f * float(i));
  };
  std::vector<float> ref_w, ref_m, ref_v, ref_g, ref_s;
  for (std::size_t off : {0, 1, 3, 4, 12, 15}) {
    std::vector<float> w(n + 16), g(n + 16), m(n + 16), v(n + 16), sw(n + 16), noise(n + 16);
    fill(w, off, 0.5f, 0.25f);
    fill(g, off, 0.0f, 0.5f);
    fill(m, off, 0.0f, 0.01f);
    fill(v, off, 0.1f, 0.01f);
    fill(sw, off, 1.0f, 0.5f);
    fill(noise, off, 0.0f, 1.0f);
    k::AdamParams p{0.01f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, -1.0f};
    for (int step = 0; step < 3; ++step)
      k::adam_update(w.data() + off, g.data() + off, m.data() + off, v.data() + off, n, p);
    k::AdamWParams q;
    q.eta = 0.1f;
    q.wd = 0.5f;
    q.rescale_grad = 0.5f;
    ASSERT_TRUE(k::adamw_update(w.data() + off, g.data() + off, m.data() + off, v.data() + off,
                                n, q, false));
    k::SGLDParams sp;
    k::sgld_update(sw.data() + off, g.data() + off, noise.data() + off, n, sp);
    auto part = [&](const std::vector<float>& a) {
      return std::vector<float>(a.begin() + off, a.begin() + off + n);
    };
    const std::vector<float> ow = part(w), om = part(m), ov = part(v), og = part(g),
                             os = part(sw);
    if (off == 0) {
      ref_w = ow, ref_m = om, ref_v = ov, ref_g = og, ref_s = os;
      continue;
    }
    EXPECT_EQ(ow, ref_w) << off;
    EXPECT_EQ(om, ref_m) << off;
    EXPECT_EQ(ov, ref_v) << off;
    EXPECT_EQ(og, ref_g) << off;  // AdamW's single form rewrote the gradient (rescale 0.5)
    EXPECT_EQ(os, ref_s) << off;
  }
}

TEST(AdamaxKernel, PClipZeroGivesNaNLikeMXNet) {
  // nd.clip(x, -0, 0) zeroes the gradient; with u = 0 the update is 0/0 = NaN.
  std::vector<float> w = {1.0f}, g = {0.3f}, m = {0.0f}, u = {0.0f};
  k::AdamaxParams p;
  p.lr = 0.002 / (1 - 0.9);
  p.clip.active = true;
  p.clip.lo = -0.0f;
  p.clip.hi = 0.0f;
  k::adamax_update(w.data(), g.data(), m.data(), u.data(), 1, p);
  EXPECT_TRUE(std::isnan(w[0]));
}

TEST(AdamaxKernel, NegativePClipMapsToPlusMinusBound) {
  // lo = +0.2, hi = -0.2: x > -0.2 -> -0.2, x <= -0.2 -> +0.2 (then u = |G| = 0.2).
  std::vector<float> w = {1.0f, 1.0f}, g = {0.5f, -0.5f}, m = {0, 0}, u = {0, 0};
  k::AdamaxParams p;
  p.lr = 1.0;
  p.beta1 = 0.5;
  p.one_minus_beta1 = 0.5;
  p.clip.active = true;
  p.clip.lo = 0.2f;
  p.clip.hi = -0.2f;
  k::adamax_update(w.data(), g.data(), m.data(), u.data(), 2, p);
  EXPECT_EQ(m[0], -0.2f * 0.5f);
  EXPECT_EQ(m[1], 0.2f * 0.5f);
  EXPECT_EQ(u[0], 0.2f);
}

// ---- AdaGrad family, RMSProp, Ftrl, FTML -------------------------------------------------------
TEST(AdaGradKernel, DenseAndLazySparse) {
  std::vector<float> w = {1.0f}, g = {0.5f}, hst = {0.0f};
  k::AdaGradParams p;
  p.lr = 0.1;
  p.wd = 0.2;
  p.epsilon = 1e-7;
  k::adagrad_update(w.data(), g.data(), hst.data(), 1, p);
  EXPECT_EQ(hst[0], 0.25f);
  EXPECT_EQ(w[0], 1.0f + (0.5f / std::sqrt(0.25f + float(1e-7)) + 1.0f * float(0.2)) * float(-0.1));

  std::vector<float> ws = {1, 2}, hs = {0, 0};
  const std::vector<float> data = {0.5f};
  const std::vector<std::int64_t> idx = {1};
  k::adagrad_update_rsp(ws.data(), 2, k::RowSparse<float>{data.data(), idx.data(), 1, 1},
                        hs.data(), p);
  EXPECT_EQ(ws[0], 1.0f);
  EXPECT_EQ(ws[1], 2.0f - 0.5f / std::sqrt(0.25f + float(1e-7)) * float(0.1));
}

TEST(GroupAdaGradKernel, RowMeanHistory) {
  std::vector<float> w = {1, 1, 1, 1}, g = {1, 3, 2, 2}, hst = {0, 0};
  k::AdaGradParams p;
  p.lr = 0.5;
  p.epsilon = 1e-5;
  k::group_adagrad_update(w.data(), g.data(), hst.data(), 2, 2, p);
  EXPECT_EQ(hst[0], (1.0f + 9.0f) / 2.0f);
  EXPECT_EQ(hst[1], (4.0f + 4.0f) / 2.0f);
  EXPECT_EQ(w[1], 1.0f - 3.0f * 0.5f / std::sqrt(5.0f + float(1e-5)));
}

TEST(AdaDeltaKernel, RescalesTheGradientInPlace) {
  std::vector<float> w = {1.0f}, g = {2.0f}, ag = {0.0f}, ad = {0.0f};
  k::AdaDeltaParams p;
  p.rescale_grad = 0.5;
  p.wd = 0.1;
  k::adadelta_update(w.data(), g.data(), ag.data(), ad.data(), 1, p);
  EXPECT_EQ(g[0], 1.0f);
  const float accg = 0.0f * float(0.9) + 1.0f * float(0.1) * 1.0f;
  EXPECT_EQ(ag[0], accg);
  const float d = std::sqrt(0.0f + float(1e-5)) / std::sqrt(accg + float(1e-5)) * 1.0f;
  EXPECT_EQ(w[0], 1.0f - (d + 1.0f * float(0.1)));
}

TEST(RMSPropKernel, PlainCenteredAndWeightClip) {
  std::vector<float> w = {0.5f}, g = {1.0f}, n = {0.0f};
  k::RMSPropParams p;
  p.lr = 0.1f;
  p.clip_weights = 0.45f;
  k::rmsprop_update(w.data(), g.data(), n.data(), 1, p);
  EXPECT_EQ(n[0], (1.0f - 0.9f) * (1.0f * 1.0f) + 0.9f * 0.0f);
  EXPECT_EQ(w[0], kclip(0.5f - 0.1f * (1.0f / std::sqrt(n[0] + 1e-8f)), 0.45f));
  std::vector<float> wc = {0.5f}, nc = {0}, gb = {0}, dl = {0};
  p.clip_weights = k::kNoClip;
  k::rmspropalex_update(wc.data(), g.data(), nc.data(), gb.data(), dl.data(), 1, p);
  EXPECT_EQ(gb[0], (1.0f - 0.9f) * 1.0f + 0.9f * 0.0f);
  EXPECT_EQ(dl[0], 0.9f * 0.0f - 0.1f * 1.0f / std::sqrt(nc[0] - gb[0] * gb[0] + 1e-8f));
  EXPECT_EQ(wc[0], 0.5f + dl[0]);
}

TEST(FtrlKernel, ZeroWeightInsideTheL1Ball) {
  std::vector<float> w = {1.0f, 1.0f}, g = {0.001f, 2.0f}, z = {0, 0}, n = {0, 0};
  k::FtrlParams p;
  p.lr = 0.1f;
  p.lamda1 = 0.01f;
  k::ftrl_update(w.data(), g.data(), z.data(), n.data(), 2, p);
  // element 0: z = 0.001 - (sqrt(1e-6) - 0)*1/0.1 = -0.009, |z| <= 0.01 -> w = 0
  EXPECT_EQ(w[0], 0.0f);
  const float z1 = 0.0f + (2.0f - (std::sqrt(0.0f + 4.0f) - std::sqrt(0.0f)) * 1.0f / 0.1f);
  EXPECT_EQ(z[1], z1);
  EXPECT_EQ(n[1], 4.0f);
  EXPECT_EQ(w[1], (-1.0f * 0.01f - z1) / ((1.0f + std::sqrt(4.0f)) / 0.1f + 0.0f));
}

TEST(FTMLKernel, FirstStep) {
  std::vector<float> w = {1.0f}, g = {0.5f}, d = {0}, v = {0}, z = {0};
  k::FTMLParams p;
  p.lr = 0.01f;
  p.t = 1;
  k::ftml_update(w.data(), g.data(), d.data(), v.data(), z.data(), 1, p);
  const float vv = 0.999f * 0.0f + (1.0f - 0.999f) * (0.5f * 0.5f);
  const float dt = (1.0f - std::pow(0.6f, 1.0f)) / 0.01f *
                   (std::sqrt(vv / (1.0f - std::pow(0.999f, 1.0f))) + float(1e-8f));
  const float zz = 0.6f * 0.0f + (1.0f - 0.6f) * 0.5f - (dt - 0.6f * 0.0f) * 1.0f;
  EXPECT_EQ(d[0], dt);
  EXPECT_EQ(z[0], zz);
  EXPECT_EQ(w[0], -zz / dt);
}

// ---- LAMB, reductions ---------------------------------------------------------------------------
TEST(Reductions, SumOfSquaresIsSequentialFloat32) {
  // 1e4^2 + 1 + 1: sequential float32 keeps 1e8 (ulp 8), an exact sum would give 100000002.
  std::vector<float> x = {1e4f, 1.0f, 1.0f};
  EXPECT_EQ(k::sum_sq(x.data(), 3), 1e8f);
  std::vector<double> xd = {3.0, 4.0};
  EXPECT_EQ(k::sum_sq(xd.data(), 2), 25.0f);
  std::vector<float> y = {3.0f, 0.0f, 4.0f};
  EXPECT_EQ(k::nrm2(y.data(), 3), 5.0);
  EXPECT_EQ(k::dot_norm(y.data(), 3), 5.0);
}

// The float32 recurrence sum_sq must reproduce, written out: acc <- fl(acc + fl(x^2)).
float sequential_sum_sq(const float* x, std::size_t n) {
  float acc = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const float sq = x[i] * x[i];
    acc = acc + sq;
  }
  return acc;
}

// The float16 recurrence, written out with mxopt/dtype.h's integer conversions: each square is
// the float16 product (x^2, exact in float32, rounded once to float16), added in float32.
float sequential_sum_sq_half(const float16* x, std::size_t n) {
  float acc = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = mxopt::half_bits_to_float(x[i].bits);
    const float sq = mxopt::half_bits_to_float(mxopt::float_to_half_bits(v * v));
    acc = acc + sq;
  }
  return acc;
}

// float32 sum_sq applies a block's rounded increments at once while the sum stays in one binade
// and no square is a halfway case (see common.cc): every way out of that must give the
// sequential result, bit for bit.
TEST(Reductions, SumOfSquaresBlocksAreTheSequentialRecurrence) {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> small(0, 3);
  std::vector<std::pair<std::string, std::vector<float>>> cases;
  auto add = [&](std::string name, std::size_t n, auto&& value) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = value(i);
    cases.emplace_back(std::move(name), std::move(v));
  };
  for (float scale : {1e-20f, 1e-17f, 1e-3f, 1.0f, 1e6f, 1e17f})  // 1e17: passes FLT_MAX
    add("normal*" + std::to_string(scale), 300007,
        [&](std::size_t) { return scale * normal(gen); });
  // Halfway cases: from 4096^2 = 2^24 on (step 2), every odd square is a tie.
  add("ties", 50000,
      [&](std::size_t i) { return i == 0 ? 4096.0f : float(2 * small(gen) + 1); });
  // Exact integer and quarter sums: every block's increments are exact.
  add("integers", 200000, [&](std::size_t) { return float(small(gen)); });
  add("halves", 200000, [&](std::size_t) { return 0.5f * float(small(gen)); });
  // A few large elements among small ones: crossings in the middle of a block.
  add("spikes", 100003,
      [&](std::size_t i) { return i % 5000 == 17 ? 300.0f : 0.01f * normal(gen); });
  // The sum starts below 2^-100 (element-wise) and grows past it.
  add("tiny", 20000, [&](std::size_t i) { return 0x1p-58f * float(i % 7); });
  add("zeros", 5000, [](std::size_t) { return 0.0f; });
  add("subnormal", 5000, [](std::size_t i) { return i % 3 ? 0x1p-140f : 0.0f; });
  add("nan", 10000, [&](std::size_t i) { return i == 6000 ? NAN : normal(gen); });
  add("inf", 10000, [&](std::size_t i) { return i == 6000 ? -INFINITY : normal(gen); });
  auto same = [](float a, float b) {
    return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
  };
  for (const auto& [name, v] : cases) {
    for (std::size_t offset : {std::size_t{0}, std::size_t{3}}) {  // unaligned, odd tails
      for (std::size_t n : {v.size() - offset, std::size_t{5}, std::size_t{1023},
                            std::size_t{4097}}) {
        const float want = sequential_sum_sq(v.data() + offset, n);
        const float got = k::sum_sq(v.data() + offset, n);
        EXPECT_TRUE(same(got, want))
            << name << " offset " << offset << " length " << n << ": " << got << " vs " << want;
      }
    }
  }
}

// sum_sq_many interleaves the recurrences of many arrays (16 or fewer lanes, fewer when the
// longest array would hold them up, then fewer again for the leftovers, spread over threads):
// every sum must be sum_sq's bit for bit, for any mix of lengths (incl. empty arrays and more
// lanes than arrays) and any thread count.
template <class T>
void check_sum_sq_many(const std::vector<std::size_t>& lengths) {
  std::vector<std::vector<T>> data;
  std::vector<const T*> ptrs;
  for (std::size_t a = 0; a < lengths.size(); ++a) {
    std::vector<float> v(lengths[a]);
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = std::sin(0.37f * float(i) + float(a)) * (1.0f + 0.01f * float(i % 97));
    if constexpr (std::is_same_v<T, float16>) {
      data.push_back(to_half(v));
    } else {
      data.emplace_back(v.begin(), v.end());
    }
  }
  for (auto& d : data) ptrs.push_back(d.empty() ? nullptr : d.data());
  std::vector<float> want(lengths.size());
  for (std::size_t a = 0; a < lengths.size(); ++a) {
    if constexpr (std::is_same_v<T, float>)
      want[a] = sequential_sum_sq(ptrs[a], lengths[a]);
    else if constexpr (std::is_same_v<T, float16>)
      want[a] = sequential_sum_sq_half(ptrs[a], lengths[a]);
    else
      want[a] = k::sum_sq(ptrs[a], lengths[a]);
  }
  for (int threads : {1, 2, 3}) {
#if defined(_OPENMP)
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
#endif
    std::vector<float> got(lengths.size(), -1.0f);
    k::sum_sq_many(lengths.size(), ptrs.data(), lengths.data(), got.data());
#if defined(_OPENMP)
    omp_set_num_threads(saved);
#endif
    for (std::size_t a = 0; a < lengths.size(); ++a)
      EXPECT_EQ(got[a], want[a]) << "array " << a << " of " << lengths.size() << ", threads "
                                 << threads;
  }
}

TEST(Reductions, SumOfSquaresOfManyArraysIsSumSqOfEach) {
  std::vector<std::vector<std::size_t>> lists = {
      {}, {5}, {0}, {3, 0, 7}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13},
      {70001, 64, 0, 1, 200003, 16384, 3, 999, 999, 5000, 12, 40000, 7, 7, 7, 100000, 2}};
  std::vector<std::size_t> many;
  for (std::size_t i = 0; i < 300; ++i) many.push_back((i * 7919) % 4099);
  lists.push_back(many);
  // A long array among many shorter ones: 8 lanes on one thread, 4 on two (first list); and
  // above the threading threshold, 8 lanes on one thread and 4 on two or three (second).
  std::vector<std::size_t> one_long(24, 10000), two_long(40, 3001);
  one_long.push_back(20000);
  two_long.insert(two_long.begin() + 7, {9000, 9000});
  lists.push_back(one_long);
  lists.push_back(two_long);
  for (const auto& l : lists) {
    check_sum_sq_many<float>(l);
    check_sum_sq_many<double>(l);
    check_sum_sq_many<float16>(l);
  }
}

// float16 sums round every square to float16 before adding it in float32 (F16C eight at a time
// above the baseline ISA, `half` arithmetic at baseline): both must give the written-out
// recurrence, for squares that overflow float16, land in its subnormals, or are NaN or inf.
TEST(Reductions, Float16SumOfSquaresRoundsEachSquareToHalf) {
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::pair<std::string, std::vector<float16>>> cases;
  auto add = [&](std::string name, std::size_t n, auto&& value) {
    std::vector<float16> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i].bits = mxopt::float_to_half_bits(value(i));
    cases.emplace_back(std::move(name), std::move(v));
  };
  for (float scale : {1e-3f, 0.1f, 1.0f, 30.0f})
    add("normal*" + std::to_string(scale), 70001, [&](std::size_t) { return scale * normal(gen); });
  // 300^2 > 65504: the float16 square is inf.
  add("overflow", 3001, [&](std::size_t i) { return i % 100 == 7 ? 300.0f : normal(gen); });
  // (1 + k/1024) 2^-10 squared lies in [2^-20, 2^-18): rounded to float16 subnormals.
  add("subnormal squares", 3001,
      [](std::size_t i) { return std::ldexp(1.0f + float(i % 1024) / 1024.0f, -10); });
  add("nan", 3001, [&](std::size_t i) { return i == 2000 ? NAN : normal(gen); });
  add("inf", 3001, [&](std::size_t i) { return i == 2000 ? -INFINITY : normal(gen); });
  auto same = [](float a, float b) {
    return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
  };
  const k::IsaLevel before = k::isa_level();
  for (k::IsaLevel level : {k::IsaLevel::kBaseline, k::IsaLevel::kAVX2, k::IsaLevel::kAVX512}) {
    k::set_isa_level(level);
    std::vector<const float16*> ptrs;
    std::vector<std::size_t> lengths;
    for (const auto& [name, v] : cases) {
      for (std::size_t offset : {std::size_t{0}, std::size_t{3}}) {
        for (std::size_t n : {v.size() - offset, std::size_t{5}, std::size_t{255},
                              std::size_t{257}, std::size_t{1023}}) {
          const float want = sequential_sum_sq_half(v.data() + offset, n);
          const float got = k::sum_sq(v.data() + offset, n);
          EXPECT_TRUE(same(got, want)) << name << " offset " << offset << " length " << n
                                       << " isa " << k::isa_name(level) << ": " << got
                                       << " vs " << want;
          ptrs.push_back(v.data() + offset);
          lengths.push_back(n);
        }
      }
    }
    std::vector<float> got(ptrs.size(), -1.0f);
    k::sum_sq_many(ptrs.size(), ptrs.data(), lengths.data(), got.data());
    for (std::size_t a = 0; a < ptrs.size(); ++a)
      EXPECT_TRUE(same(got[a], sequential_sum_sq_half(ptrs[a], lengths[a])))
          << "array " << a << " isa " << k::isa_name(level);
  }
  k::set_isa_level(before);
}

TEST(LAMBKernel, TrustRatioAndZeroWeight) {
  // One element: m = 0.1*G, v = 0.001*G^2; bias-corrected u = G/(|G| + eps) (+ 0 decay).
  std::vector<float> w = {0.0f}, g = {2.0f}, m = {0}, v = {0};
  k::LAMBParams p;
  p.lr = 0.5f;
  p.t = 1;
  k::lamb_update(w.data(), g.data(), m.data(), v.data(), 1, p, /*aggregated=*/true);
  // r1 = |w| = 0 -> ratio 1: w = 0 - lr*u with u = 2/(2 + eps) (m^ = 2, v^ = 4)
  EXPECT_NEAR(w[0], -0.5f, 1e-5f);
  // Lower bound applies to |w|.
  std::vector<float> w2 = {3.0f, 4.0f}, g2 = {1.0f, 1.0f}, m2 = {0, 0}, v2 = {0, 0};
  p.upper_bound = 1.0f;  // |w| = 5 bounded to 1: the step becomes lr*1/|u|*u
  k::lamb_update(w2.data(), g2.data(), m2.data(), v2.data(), 2, p, true);
  EXPECT_NEAR(w2[0], 3.0f - 0.5f / std::sqrt(2.0f), 1e-5f);
}

// ---- hyper-parameter conversions ------------------------------------------------------------------
TEST(Params, PythonReprAndDmlcParsing) {
  EXPECT_EQ(mxopt::python_repr(0.1), "0.1");
  EXPECT_EQ(mxopt::python_repr(1e-05), "1e-05");
  EXPECT_EQ(mxopt::python_repr(0.0001), "0.0001");
  EXPECT_EQ(mxopt::python_repr(1e16), "1e+16");
  EXPECT_EQ(mxopt::python_repr(123.0), "123.0");
  EXPECT_EQ(mxopt::python_repr(-2.5e-07), "-2.5e-07");
  // dmlc's parser is not correctly rounded: this value lands one float ulp above the nearest.
  EXPECT_EQ(mxopt::parse_mxnet_float("8.624942345226406e-05"), 8.624942711321637e-05f);
  EXPECT_NE(mxopt::parse_mxnet_float("8.624942345226406e-05"),
            static_cast<float>(8.624942345226406e-05));
  EXPECT_EQ(mxopt::parse_mxnet_float("0.5"), 0.5f);
  EXPECT_TRUE(std::isinf(mxopt::parse_mxnet_float("inf")));
  EXPECT_THROW(mxopt::parse_mxnet_float("True"), std::invalid_argument);
  EXPECT_THROW(mxopt::parse_mxnet_float("1.5x"), std::invalid_argument);
  EXPECT_THROW(mxopt::parse_mxnet_float("1e99"), std::invalid_argument);
  EXPECT_EQ(mxopt::parse_mxnet_double("1e-08"), 1e-08);
}

// ---- threads ---------------------------------------------------------------------------------------
TEST(Threads, ResultsDoNotDependOnTheThreadCount) {
#if defined(_OPENMP)
  const std::size_t n = 200003;
  std::vector<float> w1(n), w2, g(n), m1(n, 0.0f), v1(n, 0.0f), m2, v2;
  for (std::size_t i = 0; i < n; ++i) {
    w1[i] = std::sin(0.001f * float(i));
    g[i] = std::cos(0.0007f * float(i));
  }
  w2 = w1;
  m2 = m1;
  v2 = v1;
  k::AdamParams p{0.01f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, 0.5f};
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  k::adam_update(w1.data(), g.data(), m1.data(), v1.data(), n, p);
  omp_set_num_threads(4);
  k::adam_update(w2.data(), g.data(), m2.data(), v2.data(), n, p);
  omp_set_num_threads(saved);
  EXPECT_EQ(w1, w2);
  EXPECT_EQ(v1, v2);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// Lists of tiny tensors stay on one thread below 2^17 elements; lists of mid-size tensors thread
// from the single-tensor threshold, like one tensor of their size.
TEST(Threads, MultiTensorListsThreadLikeOneTensorOfTheirSize) {
#if defined(_OPENMP)
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  EXPECT_TRUE(k::multi_threads(1, 100000));
  EXPECT_TRUE(k::multi_threads(3, 3 * 20000));
  EXPECT_TRUE(k::multi_threads(2000, 2000 * 64 + 3072));  // 2^17 elements
  EXPECT_FALSE(k::multi_threads(1000, 1000 * 64));
  EXPECT_FALSE(k::multi_threads(1, 20000));
  omp_set_num_threads(1);
  EXPECT_FALSE(k::multi_threads(1, 1000000));
  omp_set_num_threads(saved);
#else
  EXPECT_FALSE(k::multi_threads(1, 1000000));
#endif
}

// Every element of every tensor is visited exactly once, on any thread count, for lists below
// and above the multi-tensor threading minimum (many tiny tensors, a few large ones, a few
// mid-size ones).
TEST(Threads, MultiSlicesCoverEveryElementOnce) {
  const std::vector<std::vector<std::size_t>> lists = {
      {64, 1, 0, 37}, std::vector<std::size_t>(1000, 64), std::vector<std::size_t>(3000, 64),
      {70001, 16384, 16385, 1, 200003}, {100000}, {20000, 3, 20000, 16385}};
#if defined(_OPENMP)
  const int saved = omp_get_max_threads();
  const std::vector<int> thread_counts = {1, 2, 4};
#else
  const std::vector<int> thread_counts = {1};
#endif
  for (const auto& sizes : lists) {
    for (int threads : thread_counts) {
#if defined(_OPENMP)
      omp_set_num_threads(threads);
#endif
      std::vector<std::vector<int>> seen(sizes.size());
      for (std::size_t t = 0; t < sizes.size(); ++t) seen[t].assign(sizes[t], 0);
      k::for_each_slice(sizes.size(), sizes.data(),
                        [&](std::size_t t, std::size_t lo, std::size_t hi) {
                          ASSERT_LE(lo, hi);
                          ASSERT_LE(hi, sizes[t]);
                          for (std::size_t i = lo; i < hi; ++i) ++seen[t][i];
                        });
      for (std::size_t t = 0; t < sizes.size(); ++t)
        for (std::size_t i = 0; i < sizes[t]; ++i)
          ASSERT_EQ(seen[t][i], 1) << "tensor " << t << " element " << i << " threads "
                                   << threads << " tensors " << sizes.size();
    }
  }
#if defined(_OPENMP)
  omp_set_num_threads(saved);
#endif
}

// The threads get equal shares of a list's elements, also when it is one mid-size tensor of a
// few slices (a 1e5 tensor is 7 slices: whole slices would give one thread 4 of them, 65%).
TEST(Threads, MultiSlicesShareTheElementsEvenly) {
#if defined(_OPENMP)
  const int saved = omp_get_max_threads();
  const std::vector<std::vector<std::size_t>> lists = {
      {100000}, {40000}, {70001, 16384, 16385, 1, 200003}, {20000, 3, 20000, 16385}};
  for (const auto& sizes : lists) {
    std::size_t total = 0;
    for (std::size_t n : sizes) total += n;
    for (int threads : {2, 3, 4}) {
      omp_set_num_threads(threads);
      std::vector<std::size_t> done(static_cast<std::size_t>(threads), 0);
      k::for_each_slice(sizes.size(), sizes.data(),
                        [&](std::size_t, std::size_t lo, std::size_t hi) {
                          done[static_cast<std::size_t>(omp_get_thread_num())] += hi - lo;
                        });
      const double share = static_cast<double>(total) / threads;
      for (int th = 0; th < threads; ++th)
        EXPECT_NEAR(static_cast<double>(done[static_cast<std::size_t>(th)]), share, share / 20)
            << "thread " << th << " of " << threads << ", " << sizes.size() << " tensors, "
            << total << " elements";
    }
  }
  omp_set_num_threads(saved);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// ---- the C++ optimizer classes --------------------------------------------------------------------
TEST(OptimizerClass, CountsMultipliersAndDefaultWeightDecayRule) {
  mxopt::OptimizerOptions o;
  o.learning_rate = 0.5;
  o.wd = 0.1;
  o.begin_num_update = 5;
  mxopt::SGD opt(o);
  opt.set_param_name(0, "fc_weight");
  opt.set_param_name(1, "fc_bias");
  opt.set_param_name(2, "bn_beta");
  opt.set_lr_mult(0, 3.0);
  opt.set_wd_mult("bn_beta", 4.0);
  EXPECT_EQ(opt.effective_lr(0), 1.5);
  EXPECT_EQ(opt.effective_wd(0), 0.1);
  EXPECT_EQ(opt.effective_wd(1), 0.0);  // bias: no weight decay by default
  EXPECT_EQ(opt.effective_wd(2), 0.1 * 4.0);
  EXPECT_EQ(opt.effective_wd(99), 0.1);  // unknown index
  std::vector<float> w = {1.0f}, g = {1.0f};
  opt.update(0, w.data(), g.data(), 1);
  opt.update(1, w.data(), g.data(), 1);
  opt.update(0, w.data(), g.data(), 1);
  EXPECT_EQ(opt.update_count(0), 7);
  EXPECT_EQ(opt.update_count(1), 6);
  EXPECT_EQ(opt.num_update(), 7);
  std::vector<float> big(2);
  EXPECT_THROW(opt.update(0, big.data(), big.data(), 2), std::invalid_argument);
  EXPECT_EQ(opt.update_count(0), 7);  // rejected before counting
}

TEST(OptimizerClass, SchedulerDrivesTheRateAndForbidsSetLearningRate) {
  mxopt::OptimizerOptions o;
  o.lr_scheduler = std::make_shared<mxopt::FactorScheduler>(2, 0.5, 1e-8, 1.0);
  mxopt::SGD opt(o);
  EXPECT_THROW(opt.set_learning_rate(0.1), std::logic_error);
  std::vector<double> w = {0.0}, g = {1.0};
  for (int i = 0; i < 3; ++i) opt.update(0, w.data(), g.data(), 1);  // lr 1, 1, 0.5
  EXPECT_EQ(w[0], -(1.0 + 1.0 + double(0.5f)));
}

TEST(OptimizerClass, AdamFirstStepIsBiasCorrected) {
  mxopt::Adam opt;  // lr 0.001
  std::vector<float> w = {1.0f}, g = {0.2f};
  opt.update(0, w.data(), g.data(), 1);
  const double lr_t = 0.001 * std::sqrt(1.0 - 0.999) / (1.0 - 0.9);
  const float lr = mxopt::mxnet_float(lr_t);
  const float m = 0.9f * 0.0f + (1.0f - 0.9f) * 0.2f;
  const float v = 0.999f * 0.0f + (1.0f - 0.999f) * 0.2f * 0.2f;
  EXPECT_EQ(w[0], 1.0f - lr * m / (std::sqrt(v) + 1e-8f));
  EXPECT_EQ(opt.states_f32(0)[0][0], m);
  EXPECT_EQ(opt.states_f32(0)[1][0], v);
}

TEST(OptimizerClass, EveryOptimizerTrainsAQuadratic) {
  // Minimise sum((w - 3)^2) from w = 0: every optimizer must reduce the loss.
  std::vector<std::unique_ptr<mxopt::Optimizer>> opts;
  mxopt::OptimizerOptions o;
  o.learning_rate = 0.05;
  opts.emplace_back(new mxopt::SGD(o, 0.9));
  opts.emplace_back(new mxopt::NAG(o, 0.9));
  opts.emplace_back(new mxopt::Adam(o));
  opts.emplace_back(new mxopt::AdamW(o));
  opts.emplace_back(new mxopt::AdaGrad(o));
  opts.emplace_back(new mxopt::RMSProp(o));
  opts.emplace_back(new mxopt::AdaDelta(o));
  opts.emplace_back(new mxopt::Ftrl(o, 0.0));
  opts.emplace_back(new mxopt::Adamax(o));
  opts.emplace_back(new mxopt::Nadam(o));
  opts.emplace_back(new mxopt::FTML(o));
  opts.emplace_back(new mxopt::Signum(o));
  opts.emplace_back(new mxopt::LAMB(o));
  for (std::size_t which = 0; which < opts.size(); ++which) {
    auto& opt = opts[which];
    std::vector<float> w = {0.0f, 0.5f, -1.0f}, g(3);
    auto loss = [&] {
      float s = 0;
      for (float x : w) s += (x - 3) * (x - 3);
      return s;
    };
    const float before = loss();
    for (int it = 0; it < 50; ++it) {
      for (int i = 0; i < 3; ++i) g[i] = 2 * (w[i] - 3);
      opt->update(0, w.data(), g.data(), 3);
    }
    EXPECT_LT(loss(), before) << "optimizer #" << which;
    EXPECT_EQ(opt->update_count(0), 50);
  }
}

// ---- remaining kernels ----------------------------------------------------------------------------
TEST(SGDKernel, PreloadedHalfKeepsLearningRateInFloat32) {
  // preloaded_multi_sgd: lr*wd is a float32 product; float32 x half products round once.
  const std::vector<float> w0 = {0.7f}, g0 = {0.3f};
  auto w = to_half(w0);
  const auto g = to_half(g0);
  k::preloaded_sgd_mom_update(w.data(), g.data(), static_cast<float16*>(nullptr), 1,
                              sgd(0.0123f, 0.05f, 0.5f, k::kNoClip));
  const float wi = h(0.7f), gi = h(0.3f);
  const float lr_wd = 0.0123f * 0.05f;
  const float step = h(h(h(0.0f) - h(lr_wd * wi)) - h(h(0.0123f * h(0.5f)) * gi));
  EXPECT_EQ(to_float(w)[0], h(wi + step));
}

TEST(NAGKernel, MultiPrecision) {
  auto w = to_half({1.0f});
  const auto g = to_half({0.5f});
  std::vector<float> mom = {0.2f}, w32 = {1.0f};
  k::mp_nag_mom_update(w.data(), g.data(), mom.data(), w32.data(), 1,
                       sgd(0.1f, 0.3f, 1.0f, k::kNoClip, 0.9f));
  const float m = 0.9f * 0.2f;
  const float wn = (1.0f - m) + (0.9f + 1.0f) * (m - 0.1f * (0.5f + 0.3f * 1.0f));
  EXPECT_EQ(w32[0], wn);
  EXPECT_EQ(to_float(w)[0], h(wn));
}

TEST(NadamKernel, OneStep) {
  std::vector<float> w = {1.0f}, g = {0.4f}, m = {0}, v = {0};
  k::NadamParams p;
  p.lr = 0.01;
  p.one_minus_momentum_t = 0.55;
  p.momentum_t1 = 0.44;
  p.one_minus_m_schedule = 0.6;
  p.one_minus_m_schedule_next = 0.7;
  p.one_minus_beta2_t = 0.001;
  k::nadam_update(w.data(), g.data(), m.data(), v.data(), 1, p);
  const float G = 0.4f * 1.0f + 1.0f * 0.0f;
  EXPECT_EQ(m[0], 0.0f * 0.9f + G * float(0.1));
  EXPECT_EQ(v[0], 0.0f * 0.999f + G * float(0.001) * G);
  const float mbar = G / 0.6f * 0.55f + m[0] / 0.7f * 0.44f;
  EXPECT_EQ(w[0], 1.0f - mbar * 0.01f / (std::sqrt(v[0] / 0.001f) + float(1e-8)));
}

TEST(SGLDKernel, DeterministicPartPlusGivenNoise) {
  std::vector<float> w = {1.0f}, g = {2.0f}, noise = {0.25f};
  k::SGLDParams p;
  p.neg_half_lr = -0.05;
  p.wd = 0.1;
  p.rescale_grad = 0.5;
  k::sgld_update(w.data(), g.data(), noise.data(), 1, p);
  EXPECT_EQ(w[0], (1.0f + (2.0f * 0.5f + 1.0f * 0.1f) * -0.05f) + 0.25f);
}

TEST(DCASGDKernel, CompensationUsesPreviousWeight) {
  std::vector<float> w = {1.0f}, g = {0.5f}, prev = {0.8f};
  k::DCASGDParams p;
  p.lr = 0.1;
  p.lamda = 0.04;
  k::dcasgd_update(w.data(), g.data(), prev.data(), 1, p);
  EXPECT_EQ(prev[0], 1.0f);
  EXPECT_EQ(w[0], 1.0f + ((0.5f + 1.0f * 0.0f) + 0.5f * 0.04f * 0.5f * (1.0f - 0.8f)) * -0.1f);
}

TEST(TestKernel, CopiesTheWeightIntoAFloat32State) {
  std::vector<double> w = {1.0};
  const std::vector<double> g = {0.1};
  std::vector<float> st = {0.0f};
  k::test_update(w.data(), g.data(), st.data(), 1, 2.0);
  EXPECT_EQ(w[0], 1.0 + 0.1 * 2.0);
  EXPECT_EQ(st[0], static_cast<float>(1.2));
}

TEST(AdaBeliefKernel, SingleAndAggregatedForms) {
  std::vector<float> w = {1.0f}, g = {0.4f}, m = {0}, s = {0};
  k::AdamWParams p;
  p.eta = 0.01f;
  p.wd = 0.1f;
  ASSERT_TRUE(k::adabelief_update(w.data(), g.data(), m.data(), s.data(), 1, p, false));
  const float G = 1.0f * 0.4f + 0.1f * 1.0f;
  EXPECT_EQ(g[0], G);
  const float mm = 0.9f * 0.0f + (1.0f - 0.9f) * G;
  EXPECT_EQ(m[0], mm);
  const float ss = 0.999f * 0.0f + (1.0f - 0.999f) * ((G - mm) * (G - mm)) + 1e-6f;
  EXPECT_EQ(s[0], ss);
  EXPECT_EQ(w[0], 1.0f - 0.01f * (1.0f * mm / (std::sqrt(ss) + 1e-6f)));
  std::vector<float> w2 = {1.0f}, g2 = {0.4f}, m2 = {0}, s2 = {0};
  ASSERT_TRUE(k::adabelief_update(w2.data(), g2.data(), m2.data(), s2.data(), 1, p, true));
  EXPECT_EQ(m2[0], 0.9f * (0.0f - G) + G);
  const float d = m2[0] - G;
  EXPECT_EQ(s2[0], 0.999f * (0.0f - d * d) + d * d + 1e-6f);
}

TEST(AdamStepKernels, AdamWAndAdaBeliefStepArithmetic) {
  std::vector<float> w = {1.0f}, g = {0.4f}, m = {0}, v = {0};
  k::AdamStepParams p;
  p.lr = 0.01;
  p.wd = 0.1;
  p.lr_wd = 0.01 * 0.1;
  p.rescale_grad = 0.5;
  k::adamw_step_update(w.data(), g.data(), m.data(), v.data(), 1, p);
  EXPECT_EQ(g[0], 0.2f);  // rescaled in place
  const float mm = 0.0f * 0.9f + 0.2f * float(0.1);
  const float vv = 0.0f * 0.999f + 0.2f * 0.2f * float(0.001);
  const float w1 = 1.0f - mm / (std::sqrt(vv) + float(1e-6)) * 0.01f;
  EXPECT_EQ(w[0], w1 - w1 * float(0.01 * 0.1));
  std::vector<float> wb = {1.0f}, gb = {0.4f}, mb = {0}, sb = {0};
  k::adabelief_step_update(wb.data(), gb.data(), mb.data(), sb.data(), 1, p);
  const float G = 0.4f * 0.5f + 1.0f * 0.1f;
  EXPECT_EQ(gb[0], G);
  const float m2 = 0.0f * 0.9f + G * float(0.1);
  const float s2 = (0.0f * 0.999f + (G - m2) * (G - m2) * float(0.001)) + float(1e-6);
  EXPECT_EQ(sb[0], s2);
  EXPECT_EQ(wb[0], 1.0f - m2 / (std::sqrt(s2) + float(1e-6)) * 0.01f);
}

TEST(LAMBKernel, MultiPrecisionSinglePathKeepsTheMaster) {
  auto w = to_half({1.0f, 2.0f});
  const auto g = to_half({0.5f, 0.25f});
  std::vector<float> m = {0, 0}, v = {0, 0}, w32 = {1.0f, 2.0f};
  k::LAMBParams p;
  p.lr = 0.01f;
  k::mp_lamb_update(w.data(), g.data(), m.data(), v.data(), w32.data(), 2, p, false);
  EXPECT_EQ(w32, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_LT(to_float(w)[0], 1.0f);
  k::mp_lamb_update(w.data(), g.data(), m.data(), v.data(), w32.data(), 2, p, true);
  EXPECT_LT(w32[0], 1.0f);  // the list path writes the master
  EXPECT_EQ(to_float(w)[0], h(w32[0]));
}

TEST(LANSKernel, ZeroGradientGivesNaNAndTrustRatiosApply) {
  std::vector<float> w = {1.0f, 1.0f}, g = {0.0f, 0.0f}, m = {0, 0}, v = {0, 0};
  k::LANSParams p;
  k::lans_update(w.data(), g.data(), m.data(), v.data(), 2, p, true);
  EXPECT_TRUE(std::isnan(w[0]));
  // g = (3, 4): g^ = (0.6, 0.8); at t = 1, m^ = g^ and sqrt(v^) = |g^_i|, so
  // u_m = u_g = (1, 1) (up to eps), |u| = sqrt(2), |w| = 5:
  // w - lr*b1*(5/sqrt2)*(1,1) - lr*(1-b1)*(5/sqrt2)*(1,1) = w - 0.1*5/sqrt(2)
  std::vector<float> w2 = {3.0f, 4.0f}, g2 = {3.0f, 4.0f}, m2 = {0, 0}, v2 = {0, 0};
  p.lr = 0.1f;
  k::lans_update(w2.data(), g2.data(), m2.data(), v2.data(), 2, p, true);
  EXPECT_NEAR(w2[0], 3.0f - 0.5f / std::sqrt(2.0f), 1e-5f);
  EXPECT_NEAR(w2[1], 4.0f - 0.5f / std::sqrt(2.0f), 1e-5f);
}

TEST(RowSparseKernels, FtrlAndGroupAdaGradTouchOnlyGradientRows) {
  std::vector<float> w = {1, 1, 2, 2}, z = {0, 0, 0, 0}, n = {0, 0, 0, 0};
  const std::vector<float> data = {2.0f, 2.0f};
  const std::vector<std::int64_t> idx = {1};
  k::FtrlParams fp;
  fp.lr = 0.1f;
  k::ftrl_update_rsp(w.data(), 2, k::RowSparse<float>{data.data(), idx.data(), 1, 2}, z.data(),
                     n.data(), fp);
  EXPECT_EQ(w[0], 1.0f);
  EXPECT_EQ(n[2], 4.0f);
  std::vector<float> wg = {1, 1, 2, 2}, hg = {0, 0};
  k::AdaGradParams gp;
  gp.lr = 0.5;
  gp.epsilon = 1e-5;
  k::group_adagrad_update_rsp(wg.data(), 2, k::RowSparse<float>{data.data(), idx.data(), 1, 2},
                              hg.data(), gp);
  EXPECT_EQ(hg[0], 0.0f);
  EXPECT_EQ(hg[1], (4.0f + 4.0f) / 2.0f);
  EXPECT_EQ(wg[2], 2.0f - 0.5f * 2.0f / std::sqrt(4.0f + float(1e-5)));
}

TEST(Casts, RoundToNearestEven) {
  const std::vector<float> x = {1.0f, 1.0f + 1.0f / 4096, 65504.0f, 1e-8f};
  const auto y = to_float(to_half(x));
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 1.0f);  // halfway between 1 and 1+2^-10 -> even
  EXPECT_EQ(y[2], 65504.0f);
  EXPECT_EQ(y[3], 0.0f);
}

// 64-bit offsets (issue 7): a (2^29 + 8) x 4 float32 weight spans 2^31 + 32 elements (8 GiB of
// address space, reserved with MAP_NORESERVE so only the touched pages are ever allocated).
// Row 2^29 + 5 starts at element 2^31 + 20: a 32-bit offset would wrap around to row 5.
#if defined(__unix__)
#include <sys/mman.h>
namespace {

struct HugeZeros {
  std::size_t bytes;
  float* p;
  explicit HugeZeros(std::size_t n) : bytes(n * sizeof(float)) {
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    p = m == MAP_FAILED ? nullptr : static_cast<float*>(m);
  }
  ~HugeZeros() {
    if (p) munmap(p, bytes);
  }
};
}  // namespace

TEST(LargeTensors, RowSparseKernelsUse64BitOffsets) {
  const std::size_t rows = (std::size_t{1} << 29) + 8, len = 4;
  const std::size_t row = (std::size_t{1} << 29) + 5;
  ASSERT_GT(row * len, std::size_t{1} << 31);
  HugeZeros w(rows * len), mom(rows * len), var(rows * len);
  ASSERT_TRUE(w.p && mom.p && var.p) << "cannot reserve address space";
  const std::vector<float> data = {2, 2, 2, 2};
  const std::vector<std::int64_t> idx = {static_cast<std::int64_t>(row)};
  k::sgd_mom_update_rsp(w.p, rows, k::RowSparse<float>{data.data(), idx.data(), 1, len}, mom.p,
                        sgd(0.5f, 0.0f, 1.0f, k::kNoClip, 0.9f), /*lazy=*/true);
  for (std::size_t j = 0; j < len; ++j) {
    EXPECT_EQ(w.p[row * len + j], -1.0f);
    EXPECT_EQ(mom.p[row * len + j], -1.0f);
    EXPECT_EQ(w.p[5 * len + j], 0.0f);  // where a wrapped 32-bit offset would have written
  }
  k::AdamParams ap;
  ap.lr = 0.1f;
  k::adam_update_rsp(w.p, rows, k::RowSparse<float>{data.data(), idx.data(), 1, len}, mom.p,
                     var.p, ap, /*lazy=*/true);
  EXPECT_NE(var.p[row * len], 0.0f);
  EXPECT_EQ(var.p[5 * len], 0.0f);
}
#endif
// ---- runtime ISA dispatch -------------------------------------------------------------------
TEST(OptimizerIsa, EveryLevelGivesTheSameBits) {
  const k::IsaLevel before = k::isa_level();
  const std::size_t n = 70001;  // vector tails and the threaded path
  std::vector<float> w0(n), g(n);
  for (std::size_t i = 0; i < n; ++i) {
    w0[i] = std::sin(0.37f * static_cast<float>(i));
    g[i] = std::cos(0.11f * static_cast<float>(i)) * 3.0f;
  }
  k::AdamParams p;
  p.lr = 0.01f;
  p.wd = 0.001f;
  p.clip_gradient = 1.0f;
  std::vector<std::vector<float>> out;
  for (k::IsaLevel level : {k::IsaLevel::kBaseline, k::IsaLevel::kAVX2, k::IsaLevel::kAVX512}) {
    const k::IsaLevel set = k::set_isa_level(level);
    EXPECT_LE(static_cast<int>(set), static_cast<int>(k::isa_supported()));
    EXPECT_EQ(k::isa_level(), set);
    std::vector<float> w(w0), m(n, 0.0f), v(n, 0.0f);
    for (int step = 0; step < 3; ++step) k::adam_update(w.data(), g.data(), m.data(), v.data(), n, p);
    w.insert(w.end(), m.begin(), m.end());
    w.insert(w.end(), v.begin(), v.end());
    out.push_back(w);
  }
  k::set_isa_level(before);
  EXPECT_EQ(out[0], out[1]);
  EXPECT_EQ(out[0], out[2]);
  EXPECT_STREQ(k::isa_name(k::IsaLevel::kAVX512), "avx512");
  EXPECT_STREQ(k::isa_name(k::IsaLevel::kBaseline), "baseline");
}

// ---- multi-tensor kernels (one call over a list) vs the per-tensor kernels ------------------------
namespace {

// Mixed sizes: empty, one element, below/at/above the slice length, and above the threading
// threshold; more than 2^17 elements in total, so that the multi-tensor drivers
// (for_each_slice, for_each_tensor) use their threads (ListResultsDoNotDependOnTheThreadCount).
const std::vector<std::size_t> kMultiSizes = {0, 1, 37, 16384, 16385, 120001, 5};

template <class T>
std::vector<std::vector<T>> lists(std::size_t seed, float scale = 1.0f) {
  std::vector<std::vector<T>> out;
  for (std::size_t t = 0; t < kMultiSizes.size(); ++t) {
    std::vector<float> f(kMultiSizes[t]);
    for (std::size_t i = 0; i < f.size(); ++i)
      f[i] = scale * std::sin(0.37f * float(i + 1) + 1.3f * float(seed + 7 * t));
    if constexpr (std::is_same_v<T, float16>)
      out.push_back(to_half(f));
    else
      out.push_back(std::vector<T>(f.begin(), f.end()));
  }
  return out;
}

template <class T>
std::vector<T*> ptrs(std::vector<std::vector<T>>& v) {
  std::vector<T*> p;
  for (auto& x : v) p.push_back(x.data());
  return p;
}
template <class T>
std::vector<const T*> cptrs(const std::vector<std::vector<T>>& v) {
  std::vector<const T*> p;
  for (auto& x : v) p.push_back(x.data());
  return p;
}

template <class T>
bool same_bits(const std::vector<std::vector<T>>& a, const std::vector<std::vector<T>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t t = 0; t < a.size(); ++t) {
    if (a[t].size() != b[t].size()) return false;
    if (!a[t].empty() && std::memcmp(a[t].data(), b[t].data(), a[t].size() * sizeof(T)) != 0)
      return false;
  }
  return true;
}

std::vector<k::SGDParams> sgd_list(float mom) {
  std::vector<k::SGDParams> p;
  for (std::size_t t = 0; t < kMultiSizes.size(); ++t)
    p.push_back(sgd(0.05f + 0.01f * float(t), 0.001f * float(t), 0.7f, t % 2 ? 0.3f : k::kNoClip,
                    mom));
  return p;
}

template <class T>
void check_sgd_family() {
  const auto g = lists<T>(2);
  const auto p = sgd_list(0.9f);
  for (int kind = 0; kind < 2; ++kind) {  // 0: NAG with momentum, 1: single-form SGD
    auto w1 = lists<T>(1), w2 = w1, m1 = lists<T>(3, 0.1f), m2 = m1;
    for (int step = 0; step < 3; ++step) {
      auto pw = ptrs(w1), pm = ptrs(m1);
      auto pg = cptrs(g);
      if (kind == 0)
        k::multi_nag_mom_update(pw.size(), pw.data(), pg.data(), pm.data(), kMultiSizes.data(),
                                p.data());
      else
        k::multi_sgd_update(pw.size(), pw.data(), pg.data(), kMultiSizes.data(), p.data());
      for (std::size_t t = 0; t < w2.size(); ++t) {
        if (kind == 0)
          k::nag_mom_update(w2[t].data(), g[t].data(), m2[t].data(), w2[t].size(), p[t]);
        else
          k::sgd_update(w2[t].data(), g[t].data(), w2[t].size(), p[t]);
      }
    }
    EXPECT_TRUE(same_bits(w1, w2)) << "kind " << kind;
    EXPECT_TRUE(same_bits(m1, m2)) << "kind " << kind;
  }
}

}  // namespace

TEST(MultiTensor, NagAndSgdListsEqualPerTensorKernels) {
  check_sgd_family<float>();
  check_sgd_family<double>();
  check_sgd_family<float16>();
}

TEST(MultiTensor, AdamWAndCenteredRMSPropListsEqualPerTensorKernels) {
  const auto g0 = lists<float>(5);
  std::vector<k::AdamWParams> pa;
  std::vector<k::RMSPropParams> pr;
  for (std::size_t t = 0; t < kMultiSizes.size(); ++t) {
    pa.push_back(k::AdamWParams{1.0f, 0.01f * float(t + 1), 0.9f, 0.99f, 1e-6f, 0.01f, 0.5f,
                                t % 2 ? 0.2f : k::kNoClip});
    k::RMSPropParams r;
    r.lr = 0.01f * float(t + 1);
    r.gamma1 = 0.9f;
    r.gamma2 = 0.8f;
    r.wd = 0.001f;
    r.clip_gradient = t % 2 ? 0.3f : k::kNoClip;
    r.clip_weights = t % 3 ? 0.9f : k::kNoClip;
    pr.push_back(r);
  }
  for (bool agg : {true, false}) {
    auto w1 = lists<float>(1), w2 = w1, m1 = lists<float>(3, 0.0f), m2 = m1, v1 = m1, v2 = m1;
    auto g1 = g0, g2 = g0;  // the single form rewrites the gradient
    for (int step = 0; step < 3; ++step) {
      auto pw = ptrs(w1), pg = ptrs(g1), pm = ptrs(m1), pv = ptrs(v1);
      ASSERT_TRUE(k::multi_adamw_update(pw.size(), pw.data(), pg.data(), pm.data(), pv.data(),
                                        kMultiSizes.data(), pa.data(), agg));
      for (std::size_t t = 0; t < w2.size(); ++t)
        k::adamw_update(w2[t].data(), g2[t].data(), m2[t].data(), v2[t].data(), w2[t].size(),
                        pa[t], agg);
    }
    EXPECT_TRUE(same_bits(w1, w2) && same_bits(m1, m2) && same_bits(v1, v2) &&
                same_bits(g1, g2));
  }
  // rescale_grad 0 in any tensor: nothing is written.
  auto w = lists<float>(1), before = w, m = lists<float>(3, 0.0f), v = m, g = g0;
  auto bad = pa;
  bad.back().rescale_grad = 0.0f;
  auto pw = ptrs(w), pg = ptrs(g), pm = ptrs(m), pv = ptrs(v);
  EXPECT_FALSE(k::multi_adamw_update(pw.size(), pw.data(), pg.data(), pm.data(), pv.data(),
                                     kMultiSizes.data(), bad.data(), true));
  EXPECT_TRUE(same_bits(w, before));

  auto w1 = lists<float>(1), w2 = w1, n1 = lists<float>(3, 0.0f), n2 = n1, b1 = n1, b2 = n1,
       d1 = n1, d2 = n1;
  for (int step = 0; step < 3; ++step) {
    auto pw1 = ptrs(w1), pn = ptrs(n1), pb = ptrs(b1), pd = ptrs(d1);
    auto pg0 = cptrs(g0);
    k::multi_rmspropalex_update(pw1.size(), pw1.data(), pg0.data(), pn.data(), pb.data(),
                                pd.data(), kMultiSizes.data(), pr.data());
    for (std::size_t t = 0; t < w2.size(); ++t)
      k::rmspropalex_update(w2[t].data(), g0[t].data(), n2[t].data(), b2[t].data(), d2[t].data(),
                            w2[t].size(), pr[t]);
  }
  EXPECT_TRUE(same_bits(w1, w2) && same_bits(n1, n2) && same_bits(b1, b2) && same_bits(d1, d2));
}

TEST(MultiTensor, MultiPrecisionListsEqualPerTensorKernels) {
  const auto g = lists<float16>(4);
  const auto w0 = lists<float16>(1);
  std::vector<std::vector<float>> master0;
  for (auto& w : w0) master0.push_back(to_float(w));
  const auto p = sgd_list(0.9f);
  // SGD with / without momentum and NAG.
  for (int kind = 0; kind < 3; ++kind) {
    auto w1 = w0, w2 = w0;
    auto s1 = master0, s2 = master0, m1 = lists<float>(3, 0.1f), m2 = m1;
    for (int step = 0; step < 3; ++step) {
      auto pw = ptrs(w1);
      auto ps = ptrs(s1), pm = ptrs(m1);
      auto pg = cptrs(g);
      if (kind == 2)
        k::multi_mp_nag_mom_update(pw.size(), pw.data(), pg.data(), pm.data(), ps.data(),
                                   kMultiSizes.data(), p.data());
      else
        k::multi_mp_sgd_mom_update(pw.size(), pw.data(), pg.data(), kind ? pm.data() : nullptr,
                                   ps.data(), kMultiSizes.data(), p.data());
      for (std::size_t t = 0; t < w2.size(); ++t) {
        const std::size_t n = w2[t].size();
        if (kind == 2)
          k::mp_nag_mom_update(w2[t].data(), g[t].data(), m2[t].data(), s2[t].data(), n, p[t]);
        else
          k::mp_sgd_mom_update(w2[t].data(), g[t].data(), kind ? m2[t].data() : nullptr,
                               s2[t].data(), n, p[t]);
      }
    }
    EXPECT_TRUE(same_bits(w1, w2) && same_bits(s1, s2) && same_bits(m1, m2)) << kind;
  }
  // Adam / AdamW on the float32 masters with float(g), then the float16 rounding.
  std::vector<k::AdamParams> pa;
  std::vector<k::AdamWParams> pw;
  for (std::size_t t = 0; t < kMultiSizes.size(); ++t) {
    pa.push_back(k::AdamParams{0.01f * float(t + 1), 0.9f, 0.999f, 1e-8f, 0.01f, 0.5f,
                               t % 2 ? 0.4f : k::kNoClip});
    pw.push_back(k::AdamWParams{1.0f, 0.01f * float(t + 1), 0.9f, 0.99f, 1e-6f, 0.01f, 0.5f,
                                t % 2 ? 0.2f : k::kNoClip});
  }
  for (int kind = 0; kind < 3; ++kind) {  // Adam, AdamW aggregated, AdamW single form
    auto w1 = w0, w2 = w0;
    auto s1 = master0, s2 = master0, m1 = lists<float>(3, 0.0f), m2 = m1, v1 = m1, v2 = m1;
    for (int step = 0; step < 3; ++step) {
      auto ppw = ptrs(w1);
      auto ps = ptrs(s1), pm = ptrs(m1), pv = ptrs(v1);
      auto pg = cptrs(g);
      if (kind == 0)
        k::multi_mp_adam_update(ppw.size(), ppw.data(), pg.data(), pm.data(), pv.data(),
                                ps.data(), kMultiSizes.data(), pa.data());
      else
        ASSERT_TRUE(k::multi_mp_adamw_update(ppw.size(), ppw.data(), pg.data(), pm.data(),
                                             pv.data(), ps.data(), kMultiSizes.data(),
                                             pw.data(), kind == 1));
      for (std::size_t t = 0; t < w2.size(); ++t) {
        std::vector<float> g32 = to_float(g[t]);
        const std::size_t n = w2[t].size();
        if (kind == 0)
          k::adam_update(s2[t].data(), g32.data(), m2[t].data(), v2[t].data(), n, pa[t]);
        else
          k::adamw_update(s2[t].data(), g32.data(), m2[t].data(), v2[t].data(), n, pw[t],
                          kind == 1);
        k::cast(s2[t].data(), w2[t].data(), n);
      }
    }
    EXPECT_TRUE(same_bits(w1, w2) && same_bits(s1, s2) && same_bits(m1, m2) &&
                same_bits(v1, v2)) << kind;
  }
}

TEST(MultiTensor, LambListEqualsPerTensorKernelAndASerialReference) {
  const auto g = lists<float>(6);
  std::vector<k::LAMBParams> p(kMultiSizes.size());
  for (std::size_t t = 0; t < p.size(); ++t) {
    p[t].lr = 0.01f * float(t + 1);
    p[t].wd = 0.01f;
    p[t].t = int(t) + 1;
    p[t].clip_gradient = t % 2 ? 0.3f : k::kNoClip;
    p[t].upper_bound = t % 3 ? 4.0f : -1.0f;
    p[t].bias_correction = t != 2;
  }
  auto w1 = lists<float>(1), w2 = w1, w3 = w1, m1 = lists<float>(3, 0.0f), m2 = m1, m3 = m1,
       v1 = m1, v2 = m1, v3 = m1;
  for (int step = 0; step < 3; ++step) {
    auto pw = ptrs(w1), pm = ptrs(m1), pv = ptrs(v1);
    auto pg = cptrs(g);
    k::multi_lamb_update(pw.size(), pw.data(), pg.data(), pm.data(), pv.data(),
                         kMultiSizes.data(), p.data());
    for (std::size_t t = 0; t < w2.size(); ++t) {
      const std::size_t n = w2[t].size();
      k::lamb_update(w2[t].data(), g[t].data(), m2[t].data(), v2[t].data(), n, p[t], true);
      // Serial reference of multi_lamb_update (the formulas of lamb.h, float32, in order).
      const k::LAMBParams& q = p[t];
      const float c1 = 1.0f - std::pow(q.beta1, float(q.t)),
                  c2 = 1.0f - std::pow(q.beta2, float(q.t));
      std::vector<float> u(n);
      float s1 = 0.0f, s2 = 0.0f;
      for (std::size_t i = 0; i < n; ++i) {
        float G = g[t][i] * q.rescale_grad;
        if (q.clip_gradient >= 0.0f) G = kclip(G, q.clip_gradient);
        m3[t][i] = q.beta1 * m3[t][i] + (1.0f - q.beta1) * G;
        v3[t][i] = q.beta2 * v3[t][i] + (1.0f - q.beta2) * G * G;
        u[i] = q.bias_correction
                   ? m3[t][i] / c1 / (std::sqrt(v3[t][i] / c2) + q.epsilon) + q.wd * w3[t][i]
                   : m3[t][i] / (std::sqrt(v3[t][i]) + q.epsilon) + q.wd * w3[t][i];
        const float sw = w3[t][i] * w3[t][i];
        s1 = s1 + sw;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const float su = u[i] * u[i];
        s2 = s2 + su;
      }
      float r1 = std::sqrt(s1);
      const float r2 = std::sqrt(s2);
      if (q.upper_bound >= 0.0f) r1 = std::min(r1, q.upper_bound);
      const float ratio = (r1 == 0.0f || r2 == 0.0f) ? 1.0f : 1.0f * r1 / r2;
      const float lr = q.lr * ratio;
      for (std::size_t i = 0; i < n; ++i) w3[t][i] = w3[t][i] - lr * u[i];
    }
  }
  EXPECT_TRUE(same_bits(w1, w2) && same_bits(m1, m2) && same_bits(v1, v2));
  EXPECT_TRUE(same_bits(w1, w3) && same_bits(m1, m3) && same_bits(v1, v3));

  // float16 with float32 masters (the multi_mp_lamb_update form).
  const auto gh = lists<float16>(6);
  auto h1 = lists<float16>(1), h2 = h1;
  std::vector<std::vector<float>> s1, s2;
  for (auto& w : h1) s1.push_back(to_float(w));
  s2 = s1;
  auto n1 = lists<float>(3, 0.0f), n2 = n1, q1 = n1, q2 = n1;
  for (int step = 0; step < 3; ++step) {
    auto ph = ptrs(h1);
    auto ps = ptrs(s1), pn = ptrs(n1), pq = ptrs(q1);
    auto pg = cptrs(gh);
    k::multi_mp_lamb_update(ph.size(), ph.data(), pg.data(), pn.data(), pq.data(), ps.data(),
                            kMultiSizes.data(), p.data());
    for (std::size_t t = 0; t < h2.size(); ++t)
      k::mp_lamb_update(h2[t].data(), gh[t].data(), n2[t].data(), q2[t].data(), s2[t].data(),
                        h2[t].size(), p[t], true);
  }
  EXPECT_TRUE(same_bits(h1, h2) && same_bits(s1, s2) && same_bits(n1, n2) && same_bits(q1, q2));
}

TEST(MultiTensor, LarsListEqualsSumSqLarsLrAndPreloadedSgd) {
  const auto g = lists<float>(8);
  auto p = sgd_list(0.9f);
  std::vector<char> flags(p.size());
  for (std::size_t t = 0; t < p.size(); ++t) flags[t] = t % 3 != 1;
  const float eta = 0.01f, eps = 1e-6f;
  auto w1 = lists<float>(1), w2 = w1, m1 = lists<float>(3, 0.0f), m2 = m1;
  for (int step = 0; step < 3; ++step) {
    auto pw = ptrs(w1), pm = ptrs(m1);
    auto pg = cptrs(g);
    k::multi_lars_update(pw.size(), pw.data(), pg.data(), pm.data(), kMultiSizes.data(),
                         p.data(), reinterpret_cast<const bool*>(flags.data()), eta, eps);
    std::vector<float> lr(p.size());
    for (std::size_t t = 0; t < w2.size(); ++t)  // every norm before any update
      lr[t] = flags[t] ? k::lars_lr(p[t].lr, sequential_sum_sq(w2[t].data(), w2[t].size()),
                                    sequential_sum_sq(g[t].data(), g[t].size()), p[t].wd, eta,
                                    eps, p[t].rescale_grad)
                       : p[t].lr;
    for (std::size_t t = 0; t < w2.size(); ++t) {
      k::SGDParams q = p[t];
      q.lr = lr[t];
      k::preloaded_sgd_mom_update(w2[t].data(), g[t].data(), m2[t].data(), w2[t].size(), q);
    }
  }
  EXPECT_TRUE(same_bits(w1, w2) && same_bits(m1, m2));
}

// float32 LARS lists run each tensor's norms and update back to back: whole tensors per thread,
// and a tensor larger than a thread's share (from 2^18 elements) by all threads at once. Every
// list shape, thread count and momentum setting must give the norms-first result.
TEST(MultiTensor, LarsListShapesAndThreadsGiveTheNormsFirstResult) {
  const std::vector<std::vector<std::size_t>> shapes = {
      {300000, 5, 70000, 0}, {300001, 262144, 17, 40000}, {262145}, {40000, 50000, 60000, 3}};
  for (const auto& sizes : shapes) {
    const std::size_t count = sizes.size();
    std::vector<std::vector<float>> w0(count), g(count);
    std::vector<k::SGDParams> p;
    std::vector<char> flags(count);
    for (std::size_t t = 0; t < count; ++t) {
      for (std::size_t i = 0; i < sizes[t]; ++i) {
        w0[t].push_back(std::sin(0.37f * float(i) + float(t)));
        g[t].push_back(std::cos(0.11f * float(i) + 2.0f * float(t)));
      }
      p.push_back(sgd(0.05f + 0.01f * float(t), 0.001f, 0.7f, t % 2 ? 0.3f : k::kNoClip, 0.9f));
      flags[t] = t != 1;
    }
    for (bool momentum : {true, false}) {
      // Reference: every norm, then every update.
      auto w2 = w0;
      std::vector<std::vector<float>> m2(count);
      for (std::size_t t = 0; t < count; ++t) m2[t].assign(sizes[t], 0.0f);
      for (int step = 0; step < 2; ++step) {
        std::vector<float> lr(count);
        for (std::size_t t = 0; t < count; ++t)
          lr[t] = flags[t] ? k::lars_lr(p[t].lr, sequential_sum_sq(w2[t].data(), sizes[t]),
                                        sequential_sum_sq(g[t].data(), sizes[t]), p[t].wd,
                                        0.01f, 1e-6f, p[t].rescale_grad)
                           : p[t].lr;
        for (std::size_t t = 0; t < count; ++t) {
          k::SGDParams q = p[t];
          q.lr = lr[t];
          k::preloaded_sgd_mom_update(w2[t].data(), g[t].data(),
                                      momentum ? m2[t].data() : nullptr, sizes[t], q);
        }
      }
      for (int threads : {1, 2, 3}) {
        const int saved = omp_get_max_threads();
        omp_set_num_threads(threads);
        auto w1 = w0;
        std::vector<std::vector<float>> m1(count);
        for (std::size_t t = 0; t < count; ++t) m1[t].assign(sizes[t], 0.0f);
        for (int step = 0; step < 2; ++step) {
          auto pw = ptrs(w1), pm = ptrs(m1);
          auto pg = cptrs(g);
          k::multi_lars_update(count, pw.data(), pg.data(), momentum ? pm.data() : nullptr,
                               sizes.data(), p.data(),
                               reinterpret_cast<const bool*>(flags.data()), 0.01f, 1e-6f);
        }
        omp_set_num_threads(saved);
        EXPECT_TRUE(same_bits(w1, w2) && same_bits(m1, m2))
            << "list " << &sizes - shapes.data() << ", momentum " << momentum << ", threads "
            << threads;
      }
    }
  }
}

TEST(MultiTensor, ListResultsDoNotDependOnTheThreadCount) {
#if defined(_OPENMP)
  const auto g = lists<float>(6);
  std::vector<k::LAMBParams> p(kMultiSizes.size());
  for (std::size_t t = 0; t < p.size(); ++t) p[t].t = 2;
  auto w1 = lists<float>(1), w2 = w1, m1 = lists<float>(3, 0.0f), m2 = m1, v1 = m1, v2 = m1;
  auto x1 = w1, x2 = w1, s1 = m1, s2 = m1;  // LARS weights and momenta
  const auto q = sgd_list(0.9f);
  std::vector<char> flags(q.size());
  for (std::size_t t = 0; t < q.size(); ++t) flags[t] = t % 3 != 1;
  const int saved = omp_get_max_threads();
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    auto& w = threads == 1 ? w1 : w2;
    auto& m = threads == 1 ? m1 : m2;
    auto& v = threads == 1 ? v1 : v2;
    auto pw = ptrs(w), pm = ptrs(m), pv = ptrs(v);
    auto pg = cptrs(g);
    k::multi_lamb_update(pw.size(), pw.data(), pg.data(), pm.data(), pv.data(),
                         kMultiSizes.data(), p.data());
    auto px = ptrs(threads == 1 ? x1 : x2), ps = ptrs(threads == 1 ? s1 : s2);
    k::multi_lars_update(px.size(), px.data(), pg.data(), ps.data(), kMultiSizes.data(),
                         q.data(), reinterpret_cast<const bool*>(flags.data()), 0.01f, 1e-6f);
  }
  EXPECT_TRUE(same_bits(x1, x2) && same_bits(s1, s2));
  // One large tensor: the pipelined moments + norm sums.
  const std::size_t n = 300007;
  std::vector<float> gl(n), a(n), b, ma(n, 0.0f), mb, va(n, 0.0f), vb;
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = std::sin(0.01f * float(i));
    gl[i] = std::cos(0.003f * float(i));
  }
  b = a;
  mb = ma;
  vb = va;
  omp_set_num_threads(1);
  k::lamb_update(a.data(), gl.data(), ma.data(), va.data(), n, p[0], true);
  omp_set_num_threads(3);
  k::lamb_update(b.data(), gl.data(), mb.data(), vb.data(), n, p[0], true);
  omp_set_num_threads(saved);
  EXPECT_TRUE(same_bits(w1, w2) && same_bits(m1, m2) && same_bits(v1, v2));
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), n * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(va.data(), vb.data(), n * sizeof(float)));
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}
