// Tensor operator kernels (mxopt/tensor_ops.h) against naive references written from MXNet's
// definitions (coordinate loops, mshadow's Kahan step in row-major order), argument validation,
// and independence of the results from the OpenMP thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "mxopt/tensor_ops.h"

using namespace mxopt;
using ops::Req;
using ops::Shape;

namespace {

template <class T>
std::vector<T> random_vec(std::size_t n, unsigned seed, double lo = -2, double hi = 2) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

void set_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Row-major coordinates of index i in shape.
std::vector<std::int64_t> unravel(std::int64_t i, const Shape& s) {
  std::vector<std::int64_t> c(s.size());
  for (std::size_t d = s.size(); d-- > 0;) {
    c[d] = i % s[d];
    i /= s[d];
  }
  return c;
}
// Index in `shape` (right-aligned to coord's dimensions; size-1 dims broadcast).
std::int64_t ravel_broadcast(const std::vector<std::int64_t>& c, const Shape& shape) {
  const std::size_t pad = c.size() - shape.size();
  std::int64_t idx = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) idx = idx * shape[d] + (shape[d] == 1 ? 0 : c[d + pad]);
  return idx;
}

template <class T>
void kahan(T& val, T& res, T src) {  // mshadow red::sum with residual
  T y = src - res, t = val + y;
  res = std::isinf(t) ? T(0) : (t - val) - y;
  val = t;
}

// Reference of a broadcast gradient: for each element of a side of shape sshape (padded into
// oshape), the Kahan sum in row-major order over oshape's positions that map to it.
template <class T>
std::vector<T> naive_broadcast_grad(const Shape& sshape, const Shape& oshape,
                                    const std::function<T(std::int64_t)>& value) {
  const std::int64_t n = ops::shape_size(sshape), total = ops::shape_size(oshape);
  std::vector<T> val(n, T(0)), res(n, T(0));
  for (std::int64_t i = 0; i < total; ++i) {
    const std::int64_t j = ravel_broadcast(unravel(i, oshape), sshape);
    kahan(val[j], res[j], value(i));
  }
  return val;
}

}  // namespace

// ---- broadcast ---------------------------------------------------------------------------------

TEST(Broadcast, ShapeRulesAndErrors) {
  EXPECT_EQ(ops::broadcast_shape({3, 4}, {4}), (Shape{3, 4}));
  EXPECT_EQ(ops::broadcast_shape({5, 1, 4, 1}, {3, 1, 2}), (Shape{5, 3, 4, 2}));
  EXPECT_EQ(ops::broadcast_shape({0, 4}, {1, 4}), (Shape{0, 4}));
  EXPECT_THROW(ops::broadcast_shape({2, 3}, {3, 2}), std::invalid_argument);
  EXPECT_THROW(ops::broadcast_shape({2, 0}, {2, 3}), std::invalid_argument);
  // more than five dimensions after merging: MXNet's limit
  EXPECT_THROW(ops::broadcast_shape({2, 3, 4, 5, 6, 2}, {2, 1, 4, 1, 6, 1}), std::invalid_argument);
  EXPECT_NO_THROW(ops::broadcast_shape({2, 3, 4, 5, 6, 2}, {2, 3, 1, 1, 6, 2}));
}

TEST(Broadcast, ForwardAndGradientsMatchNaiveReference) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {1, 3, 1}},
      {{5, 1, 4, 1}, {3, 1, 2}}, {{1}, {6, 5}}, {{257, 130}, {130}}, {{7, 1, 9}, {7, 5, 1}}};
  for (const auto& shapes : cases) {
    const Shape& ls = shapes.first;  // (not a structured binding: lambdas below capture them)
    const Shape& rs = shapes.second;
    const Shape os = ops::broadcast_shape(ls, rs);
    const std::int64_t n = ops::shape_size(os);
    auto l = random_vec<double>(ops::shape_size(ls), 1, 0.5, 2);
    auto r = random_vec<double>(ops::shape_size(rs), 2, 0.5, 2);
    auto g = random_vec<double>(n, 3);
    auto at_l = [&](std::int64_t i) { return l[ravel_broadcast(unravel(i, os), ls)]; };
    auto at_r = [&](std::int64_t i) { return r[ravel_broadcast(unravel(i, os), rs)]; };
    std::vector<double> out(n);
    ops::broadcast_forward<double>(ops::BinaryOp::kDiv, l.data(), ls, r.data(), rs, out.data());
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(out[i], at_l(i) / at_r(i));
    std::vector<double> gl(l.size()), gr(r.size());
    ops::broadcast_backward<double>(ops::BinaryOp::kMul, g.data(), l.data(), ls, r.data(), rs,
                                    gl.data(), Req::kWrite, gr.data(), Req::kWrite);
    if (ls == rs) {
      for (std::int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(gl[i], g[i] * r[i]);
        ASSERT_EQ(gr[i], g[i] * l[i]);
      }
    } else {
      auto rl = naive_broadcast_grad<double>(ls, os, [&](std::int64_t i) { return g[i] * at_r(i); });
      auto rr = naive_broadcast_grad<double>(rs, os, [&](std::int64_t i) { return g[i] * at_l(i); });
      EXPECT_TRUE(same_bits(gl, rl));
      EXPECT_TRUE(same_bits(gr, rr));
    }
    // kAdd accumulates onto the buffer; kNull leaves it alone.
    std::vector<double> gl2(l.size(), 1.0), gr2(r.size(), 7.0);
    ops::broadcast_backward<double>(ops::BinaryOp::kMul, g.data(), l.data(), ls, r.data(), rs,
                                    gl2.data(), Req::kAdd, gr2.data(), Req::kNull);
    for (std::size_t i = 0; i < gl.size(); ++i) ASSERT_EQ(gl2[i], 1.0 + gl[i]);
    for (double v : gr2) ASSERT_EQ(v, 7.0);
  }
}

TEST(Broadcast, MaximumNaNAndTieGradients) {
  const std::vector<float> l = {1, NAN, 3, 2}, r = {1, 2, NAN, 5};
  std::vector<float> out(4);
  ops::broadcast_forward<float>(ops::BinaryOp::kMaximum, l.data(), {4}, r.data(), {4}, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_TRUE(std::isnan(out[1]));  // a NaN lhs is returned as is
  EXPECT_TRUE(std::isnan(out[2]));  // a NaN rhs fails `a > b`, so b is returned
  EXPECT_EQ(out[3], 5.0f);
  const std::vector<float> g = {1, 1, 1, 1};
  std::vector<float> gl(4), gr(4);
  ops::broadcast_backward<float>(ops::BinaryOp::kMaximum, g.data(), l.data(), {4}, r.data(), {4},
                                 gl.data(), Req::kWrite, gr.data(), Req::kWrite);
  EXPECT_EQ(gl[0], 1.0f);  // a tie goes to lhs (ge) ...
  EXPECT_EQ(gr[0], 0.0f);  // ... and not to rhs (lt)
}

TEST(Broadcast, ResultsDoNotDependOnThreadCount) {
  const Shape ls = {1, 640}, rs = {700, 1};
  auto l = random_vec<float>(640, 4, 0.2, 2), r = random_vec<float>(700, 5);
  auto g = random_vec<float>(700 * 640, 6);
  auto run = [&](int threads) {
    set_threads(threads);
    std::vector<float> gl(640), gr(700), out(700 * 640);
    ops::broadcast_forward<float>(ops::BinaryOp::kPower, l.data(), ls, r.data(), rs, out.data());
    ops::broadcast_backward<float>(ops::BinaryOp::kSub, g.data(), nullptr, ls, nullptr, rs,
                                   gl.data(), Req::kWrite, gr.data(), Req::kWrite);
    set_threads(2);
    gl.insert(gl.end(), gr.begin(), gr.end());
    gl.insert(gl.end(), out.begin(), out.end());
    return gl;
  };
  EXPECT_TRUE(same_bits(run(1), run(3)));
}

// ---- unary -------------------------------------------------------------------------------------

TEST(Unary, FloatMathAndGradientConventions) {
  const std::vector<float> x = {0.0f, -0.0f, 2.0f, -3.0f, NAN};
  std::vector<float> y(5), gx(5);
  const std::vector<float> gy = {1, 1, 1, 1, 1};
  ops::unary_forward<float>(ops::UnaryOp::kSign, x.data(), y.data(), 5);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[2], 1.0f);
  EXPECT_EQ(y[3], -1.0f);
  EXPECT_EQ(y[4], 0.0f);  // sign(NaN) = 0
  ops::unary_backward<float>(ops::UnaryOp::kAbs, gy.data(), x.data(), nullptr, gx.data(), Req::kWrite, 5);
  EXPECT_EQ(gx[0], 0.0f);  // d|x|/dx at 0 is sign(0) = 0
  EXPECT_EQ(gx[2], 1.0f);
  EXPECT_EQ(gx[3], -1.0f);
  ops::unary_forward<float>(ops::UnaryOp::kRsqrt, x.data() + 2, y.data(), 1);
  EXPECT_EQ(y[0], 1.0f / ::sqrtf(2.0f));
  ops::unary_forward<float>(ops::UnaryOp::kExp, x.data() + 2, y.data(), 1);
  EXPECT_EQ(y[0], ::expf(2.0f));
  EXPECT_EQ(ops::unary_grad_input(ops::UnaryOp::kExp), ops::UnaryGradInput::kOutput);
  EXPECT_EQ(ops::unary_grad_input(ops::UnaryOp::kLog), ops::UnaryGradInput::kInput);
  EXPECT_EQ(ops::unary_grad_input(ops::UnaryOp::kNegative), ops::UnaryGradInput::kNone);
  EXPECT_THROW(ops::unary_backward<float>(ops::UnaryOp::kLog, gy.data(), nullptr, y.data(),
                                          gx.data(), Req::kWrite, 5),
               std::invalid_argument);
}

// ---- sum / mean ----------------------------------------------------------------------------------

TEST(Reduce, KahanSumInRowMajorOrderOfTheReducedPositions) {
  const Shape xs = {6, 5, 7, 3};
  const std::vector<int> axes = {0, 2};
  auto x = random_vec<float>(ops::shape_size(xs), 7, -1e3, 1e3);
  const Shape ks = {1, 5, 1, 3};
  auto ref = naive_broadcast_grad<float>(ks, xs, [&](std::int64_t i) { return x[i]; });
  std::vector<float> out(15), mean(15);
  ops::reduce_forward<float>(ops::ReduceOp::kSum, x.data(), xs, axes, out.data());
  EXPECT_TRUE(same_bits(out, ref));
  ops::reduce_forward<float>(ops::ReduceOp::kMean, x.data(), xs, {-4, -2}, mean.data());
  for (int i = 0; i < 15; ++i) EXPECT_EQ(mean[i], ref[i] / 42.0f);
  // backward: broadcast (/ 42 for mean); req add accumulates; MXNet's quirk divides the sum
  std::vector<float> gx(x.size(), 1.0f), gx2(x.size(), 1.0f);
  ops::reduce_backward<float>(ops::ReduceOp::kMean, out.data(), xs, axes, gx.data(), Req::kAdd);
  ops::reduce_backward<float>(ops::ReduceOp::kMean, out.data(), xs, axes, gx2.data(), Req::kAdd, true);
  for (std::int64_t i = 0; i < ops::shape_size(xs); ++i) {
    const float o = out[ravel_broadcast(unravel(i, xs), ks)];
    ASSERT_EQ(gx[i], 1.0f + o / 42.0f);
    ASSERT_EQ(gx2[i], (1.0f + o) / 42.0f);
  }
}

TEST(Reduce, AxesValidationAndEmptyAxis) {
  EXPECT_EQ(ops::normalize_axes({-1, 0}, 3), (std::vector<int>{0, 2}));
  EXPECT_THROW(ops::normalize_axes({1, -2}, 3), std::invalid_argument);
  EXPECT_THROW(ops::normalize_axes({3}, 3), std::invalid_argument);
  std::vector<double> x, out(6, 5.0);
  ops::reduce_forward<double>(ops::ReduceOp::kMean, x.data(), {2, 0, 3}, {1}, out.data());
  for (double v : out) EXPECT_TRUE(std::isnan(v));  // 0 / 0
}

TEST(Reduce, ResultsDoNotDependOnThreadCount) {
  const Shape xs = {700, 300};
  auto x = random_vec<float>(700 * 300, 8);
  auto run = [&](int threads, std::vector<int> axes, std::int64_t n) {
    set_threads(threads);
    std::vector<float> out(n);
    ops::reduce_forward<float>(ops::ReduceOp::kSum, x.data(), xs, axes, out.data());
    set_threads(2);
    return out;
  };
  EXPECT_TRUE(same_bits(run(1, {0}, 300), run(4, {0}, 300)));
  EXPECT_TRUE(same_bits(run(1, {1}, 700), run(4, {1}, 700)));
}

// ---- softmax -----------------------------------------------------------------------------------

TEST(Softmax, MatchesSequentialReferenceAlongAnyAxis) {
  const Shape s = {3, 4, 5};
  auto x = random_vec<double>(60, 9, -5, 5);
  for (int axis : {0, 1, 2, -1}) {
    const int a = axis < 0 ? axis + 3 : axis;
    std::vector<double> y(60), ly(60);
    ops::softmax_forward<double>(x.data(), y.data(), s, axis, 0.5, false);
    ops::softmax_forward<double>(x.data(), ly.data(), s, axis, 0.5, true);
    for (std::int64_t i = 0; i < 60; ++i) {
      auto c = unravel(i, s);
      if (c[a] != 0) continue;
      std::vector<std::int64_t> idx;
      for (std::int64_t j = 0; j < s[a]; ++j) {
        c[a] = j;
        idx.push_back((c[0] * 4 + c[1]) * 5 + c[2]);
      }
      double mx = x[idx[0]], sum = 0;
      for (auto k : idx) mx = std::max(mx, x[k]);
      for (auto k : idx) sum += std::exp((x[k] - mx) / 0.5);
      for (auto k : idx) {
        ASSERT_EQ(y[k], std::exp((x[k] - mx) / 0.5) / sum);
        ASSERT_EQ(ly[k], (x[k] - mx) / 0.5 - std::log(sum));
      }
    }
  }
  std::vector<double> y(60);
  EXPECT_THROW(ops::softmax_forward<double>(x.data(), y.data(), s, 3, 1.0, false), std::invalid_argument);
}

TEST(Softmax, ResultsDoNotDependOnThreadCount) {
  const Shape s = {400, 500};
  auto x = random_vec<float>(200000, 10), g = random_vec<float>(200000, 11);
  auto run = [&](int threads) {
    set_threads(threads);
    std::vector<float> y(200000), gx(200000);
    ops::softmax_forward<float>(x.data(), y.data(), s, 0, 1.0, true);
    ops::softmax_backward<float>(g.data(), y.data(), gx.data(), s, 0, 1.0, true, Req::kWrite);
    set_threads(2);
    y.insert(y.end(), gx.begin(), gx.end());
    return y;
  };
  EXPECT_TRUE(same_bits(run(1), run(3)));
}

// ---- one_hot / Embedding -----------------------------------------------------------------------

TEST(OneHot, MXNetIndexConversions) {
  const std::vector<float> fi = {2.7f, -0.5f, NAN, 3e9f, -1.0f, 4.0f};
  std::vector<std::int32_t> out(6 * 4);
  ops::one_hot<float, std::int32_t>(fi.data(), 6, 4, 3.7, -1.5, out.data());
  // on 3.7 -> 3 and off -1.5 -> -1 (truncation); 2.7 -> column 2; -0.5 -> column 0
  const std::vector<std::int32_t> want = {-1, -1, 3, -1, 3, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  EXPECT_EQ(out, want);
  const std::vector<std::int64_t> ii = {(std::int64_t{1} << 32) + 1, (std::int64_t{1} << 31) + 2};
  std::vector<double> o2(8);
  ops::one_hot<std::int64_t, double>(ii.data(), 2, 4, 1, 0, o2.data());
  EXPECT_EQ(o2, (std::vector<double>{0, 1, 0, 0, 0, 0, 0, 0}));  // 32-bit wrap
}

TEST(Embedding, ClipAccumulateAndRowSparse) {
  const std::int64_t rows = 300, dim = 70, n = 5000;
  std::mt19937 rng(12);
  std::vector<float> idx(n);
  for (auto& v : idx) v = static_cast<float>(static_cast<int>(rng() % (rows + 20)) - 10);
  auto w = random_vec<double>(rows * dim, 13), g = random_vec<double>(n * dim, 14);
  std::vector<double> out(n * dim);
  ops::embedding_forward<float, double>(idx.data(), n, w.data(), rows, dim, out.data());
  auto row_of = [&](float v) {
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(v), 0, rows - 1);
  };
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(out[i * dim + 3], w[row_of(idx[i]) * dim + 3]);
  // dense gradient (grouped parallel path: n * dim is large) against MXNet's sequential loop
  std::vector<double> ref(rows * dim, 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t l = 0; l < dim; ++l) ref[row_of(idx[i]) * dim + l] += g[i * dim + l];
  for (int threads : {1, 3}) {
    set_threads(threads);
    std::vector<double> gw(rows * dim, 9.0);
    ops::embedding_backward<float, double>(idx.data(), n, g.data(), rows, dim, gw.data(), Req::kWrite);
    EXPECT_TRUE(same_bits(gw, ref));
  }
  set_threads(2);
  // row_sparse: only in-range indices are accepted
  EXPECT_THROW(ops::embedding_rsp_groups<float>(idx.data(), n, rows), std::invalid_argument);
  for (auto& v : idx) v = std::clamp(v, 0.0f, static_cast<float>(rows - 1));
  const auto groups = ops::embedding_rsp_groups<float>(idx.data(), n, rows);
  std::vector<double> values(groups.rows.size() * dim);
  ops::embedding_backward_rsp<double>(groups, g.data(), dim, values.data());
  std::vector<double> dense(rows * dim);
  ops::embedding_backward<float, double>(idx.data(), n, g.data(), rows, dim, dense.data(), Req::kWrite);
  ASSERT_TRUE(std::is_sorted(groups.rows.begin(), groups.rows.end()));
  ASSERT_TRUE(std::adjacent_find(groups.rows.begin(), groups.rows.end()) == groups.rows.end());
  for (std::size_t r = 0; r < groups.rows.size(); ++r)
    for (std::int64_t l = 0; l < dim; ++l) ASSERT_EQ(values[r * dim + l], dense[groups.rows[r] * dim + l]);
  const std::vector<float> bad = {1.0f, NAN};
  EXPECT_THROW(ops::embedding_rsp_groups<float>(bad.data(), 2, rows), std::invalid_argument);
}

// ---- Concat ------------------------------------------------------------------------------------

TEST(Concat, ForwardBackwardAndShapes) {
  const std::vector<Shape> shapes = {{2, 3, 4}, {2, 1, 4}, {2, 0, 4}, {2, 2, 4}};
  EXPECT_EQ(ops::concat_shape(shapes, 1), (Shape{2, 6, 4}));
  EXPECT_THROW(ops::concat_shape({{2, 3}, {3, 3}}, 1), std::invalid_argument);
  EXPECT_THROW(ops::concat_shape({{2, 3}}, 2), std::invalid_argument);
  std::vector<std::vector<float>> in;
  std::vector<const float*> ptrs;
  for (std::size_t i = 0; i < shapes.size(); ++i)
    in.push_back(random_vec<float>(ops::shape_size(shapes[i]), 20 + static_cast<unsigned>(i)));
  for (const auto& v : in) ptrs.push_back(v.data());
  std::vector<float> out(48);
  ops::concat_forward<float>(ptrs, shapes, -2, out.data());
  for (std::int64_t i = 0; i < 48; ++i) {
    auto c = unravel(i, {2, 6, 4});
    std::int64_t k = c[1];
    std::size_t which = 0;
    while (k >= shapes[which][1]) k -= shapes[which++][1];
    ASSERT_EQ(out[i], in[which][(c[0] * shapes[which][1] + k) * 4 + c[2]]);
  }
  std::vector<float> g0(24, 1.0f), g3(16, 5.0f);
  ops::concat_backward<float>(out.data(), shapes, 1, {g0.data(), nullptr, nullptr, g3.data()},
                              {Req::kAdd, Req::kNull, Req::kNull, Req::kWrite});
  for (std::size_t i = 0; i < g0.size(); ++i) ASSERT_EQ(g0[i], 1.0f + in[0][i]);
  EXPECT_EQ(g3, in[3]);
}

// ---- LeakyReLU ---------------------------------------------------------------------------------

TEST(LeakyReLU, GammaShapeRuleAndPReLUGradient) {
  EXPECT_EQ(ops::prelu_gamma_shape({3}, {4, 3, 5}), (Shape{1, 3, 1}));
  EXPECT_EQ(ops::prelu_gamma_shape({1}, {4, 3, 5}), (Shape{1, 1, 1}));
  EXPECT_EQ(ops::prelu_gamma_shape({4, 3}, {4, 3, 5}), (Shape{4, 3, 1}));
  EXPECT_EQ(ops::prelu_gamma_shape({5}, {5}), (Shape{5}));
  EXPECT_THROW(ops::prelu_gamma_shape({5}, {4, 3, 5}), std::invalid_argument);
  const Shape xs = {300, 8, 70};  // large enough for OpenMP
  auto x = random_vec<float>(ops::shape_size(xs), 30), gamma = random_vec<float>(8, 31, 0.1, 0.5);
  auto g = random_vec<float>(x.size(), 32);
  ops::LeakyReLUParam p;
  p.act = ops::LeakyAct::kPReLU;
  auto run = [&](int threads) {
    set_threads(threads);
    std::vector<float> y(x.size()), gx(x.size()), gg(8);
    ops::leaky_relu_forward<float>(p, x.data(), xs, gamma.data(), {8}, nullptr, nullptr, y.data());
    ops::leaky_relu_backward<float>(p, g.data(), x.data(), y.data(), xs, gamma.data(), {8}, nullptr,
                                    gx.data(), Req::kWrite, gg.data(), Req::kWrite);
    set_threads(2);
    auto ref = naive_broadcast_grad<float>(
        {1, 8, 1}, xs, [&](std::int64_t i) { return g[i] * (x[i] > 0 ? 0.0f : x[i]); });
    EXPECT_TRUE(same_bits(gg, ref));
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float gm = gamma[(i / 70) % 8];
      EXPECT_EQ(y[i], x[i] > 0 ? x[i] : x[i] * gm);
    }
    y.insert(y.end(), gx.begin(), gx.end());
    y.insert(y.end(), gg.begin(), gg.end());
    return y;
  };
  EXPECT_TRUE(same_bits(run(1), run(3)));
}

TEST(LeakyReLU, DoublePrecisionFollowsMXNetsFloatFormulas) {
  // xelu's negative branch and gelu compute in float even for double data.
  const std::vector<double> x = {-1.2345678901234567, 0.7};
  std::vector<double> y(2);
  ops::LeakyReLUParam p;
  p.act = ops::LeakyAct::kLeaky;
  p.slope = 0.3f;
  ops::leaky_relu_forward<double>(p, x.data(), {2}, nullptr, {}, nullptr, nullptr, y.data());
  EXPECT_EQ(y[0], static_cast<double>(static_cast<float>(x[0]) * 0.3f));
  EXPECT_EQ(y[1], 0.7);
  p.act = ops::LeakyAct::kGELU;
  ops::leaky_relu_forward<double>(p, x.data(), {2}, nullptr, {}, nullptr, nullptr, y.data());
  const float xf = static_cast<float>(x[1]);
  EXPECT_EQ(y[1], static_cast<double>(0.5f * xf * (1.0f + ::erff(xf / 1.41421356237309504880f))));
}

// ---- CSR sparse dot ----------------------------------------------------------------------------

namespace {
struct Csr {
  std::vector<double> data;
  std::vector<std::int64_t> indices, indptr;
  std::int64_t rows, cols;
  ops::CsrMatrix<double> view() const {
    ops::CsrMatrix<double> m;
    m.data = data.data();
    m.indices = indices.data();
    m.indptr = indptr.data();
    m.rows = rows;
    m.cols = cols;
    m.nnz = static_cast<std::int64_t>(indices.size());
    return m;
  }
};
Csr random_csr(std::int64_t rows, std::int64_t cols, int per_row, unsigned seed) {
  std::mt19937_64 rng(seed);
  Csr c{{}, {}, {0}, rows, cols};
  for (std::int64_t r = 0; r < rows; ++r) {
    const int n = r % 5 == 1 ? 0 : static_cast<int>(rng() % (per_row + 1));
    std::vector<std::int64_t> cs(n);
    for (auto& x : cs) x = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(cols));
    std::sort(cs.begin(), cs.end());  // duplicates allowed
    for (auto x : cs) {
      c.indices.push_back(x);
      c.data.push_back(std::uniform_real_distribution<double>(-2, 2)(rng));
    }
    c.indptr.push_back(static_cast<std::int64_t>(c.indices.size()));
  }
  return c;
}
}  // namespace

TEST(CsrDot, MatchesEntryOrderReferenceAndRowSparse) {
  const Csr a = random_csr(500, std::int64_t{1} << 40, 6, 40);  // huge column range: 4 radix passes
  const Csr b = random_csr(60, 45, 7, 41);                      // many duplicate columns
  const std::int64_t k = 9;
  for (const Csr* c : {&a, &b}) {
    const auto m = c->view();
    const auto groups = ops::csr_column_groups(m);
    auto rhs = random_vec<double>(c->rows * k, 42);
    std::vector<double> values(groups.rows.size() * k);
    ops::csr_t_dot_rsp(m, groups, rhs.data(), k, values.data());
    // reference: per column, its products in entry order, from 0
    std::map<std::int64_t, std::vector<double>> ref;
    for (std::int64_t r = 0; r < c->rows; ++r)
      for (std::int64_t e = c->indptr[r]; e < c->indptr[r + 1]; ++e) {
        auto& row = ref[c->indices[e]];
        row.resize(k, 0.0);
        for (std::int64_t l = 0; l < k; ++l) row[l] += rhs[r * k + l] * c->data[e];
      }
    ASSERT_EQ(groups.rows.size(), ref.size());
    std::size_t g = 0;
    for (const auto& [col, row] : ref) {
      ASSERT_EQ(groups.rows[g], col);
      for (std::int64_t l = 0; l < k; ++l) ASSERT_EQ(values[g * k + l], row[l]);
      ++g;
    }
  }
  // A x rhs with req add on the small one
  const auto m = b.view();
  auto rhs = random_vec<double>(45 * k, 43);
  std::vector<double> out(60 * k, 3.0);
  ops::csr_dot(m, rhs.data(), k, false, out.data(), Req::kAdd);
  for (std::int64_t r = 0; r < 60; ++r)
    for (std::int64_t l = 0; l < k; ++l) {
      double v = 3.0;
      for (std::int64_t e = b.indptr[r]; e < b.indptr[r + 1]; ++e) v += rhs[b.indices[e] * k + l] * b.data[e];
      ASSERT_EQ(out[r * k + l], v);
    }
}

TEST(CsrDot, ValidationNamesTheArray) {
  const std::vector<std::int64_t> idx = {0, 1, 2};
  auto msg = [](std::vector<std::int64_t> indptr, std::vector<std::int64_t> indices, std::int64_t cols) {
    try {
      ops::validate_csr(indices.data(), indptr.data(), 3, cols, static_cast<std::int64_t>(indices.size()));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(msg({0, 2, 1, 3}, idx, 5).find("indptr"), std::string::npos);
  EXPECT_NE(msg({1, 2, 3, 3}, idx, 5).find("indptr[0]"), std::string::npos);
  EXPECT_NE(msg({0, 1, 2, 2}, idx, 5).find("indptr[-1]"), std::string::npos);
  EXPECT_NE(msg({0, 1, 2, 3}, {0, 7, 1}, 5).find("indices[1]"), std::string::npos);
  EXPECT_EQ(msg({0, 1, 2, 3}, idx, 5), "");
}

// csr_t_dot_rsp_direct (one pass, no grouping) gives the grouped product's rows and bits for
// sorted, skewed and unsorted rows, narrow (k = 3: a compile-time row length) right-hand sides,
// and any number of threads.
TEST(CsrDot, DirectTransposeProductEqualsGroupedProduct) {
  Csr uniform = random_csr(4000, 100000, 60, 47);
  Csr skewed = random_csr(4000, 5000, 60, 48);  // most entries in the first 64 columns
  for (auto& x : skewed.indices) x = x % 7 == 0 ? x : x % 64;
  for (std::int64_t r = 0; r < skewed.rows; ++r)
    std::sort(skewed.indices.begin() + skewed.indptr[r], skewed.indices.begin() + skewed.indptr[r + 1]);
  Csr unsorted = uniform;
  for (std::int64_t r = 0; r < unsorted.rows; ++r)
    std::reverse(unsorted.indices.begin() + unsorted.indptr[r], unsorted.indices.begin() + unsorted.indptr[r + 1]);
  const std::int64_t k = 3;
  for (const Csr* c : {&uniform, &skewed, &unsorted}) {
    const auto m = c->view();
    const auto rhs = random_vec<double>(c->rows * k, 49);
    const auto groups = ops::csr_column_groups(m);
    std::vector<double> expected(groups.rows.size() * k);
    ops::csr_t_dot_rsp(m, groups, rhs.data(), k, expected.data());
    for (int threads : {1, 2, 3, 4}) {
      set_threads(threads);
      std::vector<std::int64_t> rows;
      std::vector<double> values;
      ops::csr_t_dot_rsp_direct(m, rhs.data(), k, &rows, &values);
      EXPECT_EQ(rows, groups.rows) << threads << " threads";
      EXPECT_TRUE(same_bits(values, expected)) << threads << " threads";
    }
    set_threads(2);
  }
}

TEST(CsrDot, ResultsDoNotDependOnThreadCount) {
  const Csr c = random_csr(3000, 2000, 12, 44);
  const std::int64_t k = 48;
  const auto m = c.view();
  auto rhs = random_vec<double>(2000 * k, 45), rhs_t = random_vec<double>(3000 * k, 46);
  auto run = [&](int threads) {
    set_threads(threads);
    std::vector<double> out(3000 * k), out_t(2000 * k);
    ops::csr_dot(m, rhs.data(), k, false, out.data());
    ops::csr_dot(m, rhs_t.data(), k, true, out_t.data());
    const auto groups = ops::csr_column_groups(m);
    std::vector<double> values(groups.rows.size() * k);
    ops::csr_t_dot_rsp(m, groups, rhs_t.data(), k, values.data());
    set_threads(2);
    // the row_sparse values are the rows of the dense A^T x rhs
    for (std::size_t g = 0; g < groups.rows.size(); ++g)
      for (std::int64_t l = 0; l < k; ++l) EXPECT_EQ(values[g * k + l], out_t[groups.rows[g] * k + l]);
    out.insert(out.end(), out_t.begin(), out_t.end());
    return out;
  };
  EXPECT_TRUE(same_bits(run(1), run(4)));
}
