// mxopt/random.h: MXNet's stream against libstdc++'s own distributions (what MXNet 1.9.1 runs),
// Philox known answers, distribution checks and thread-count independence.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "mxopt/random.h"

namespace mr = mxopt::random;
using mxopt::Half;

namespace {

// Reference: MXNet's sampler written with the standard library, one engine per chunk.
template <class T, class Draw>
std::vector<T> reference(std::vector<std::mt19937>& engines, std::size_t n, Draw draw) {
  std::size_t nthread, step;
  mr::MXNetGenerator::partition(n, &nthread, &step);
  std::vector<T> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = draw(engines[i / step]);
  return out;
}

std::vector<std::mt19937> engines_for(std::uint32_t seed) {
  std::vector<std::mt19937> e;
  for (std::uint32_t t = 0; t < 1024; ++t) e.emplace_back(seed * 127u + t);
  return e;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

void set_threads(int n) {
#if defined(_OPENMP)
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

// Kolmogorov-Smirnov statistic of samples against a CDF.
template <class T, class Cdf>
double ks_statistic(std::vector<T> v, Cdf cdf) {
  std::sort(v.begin(), v.end());
  const double n = static_cast<double>(v.size());
  double d = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double f = cdf(static_cast<double>(v[i]));
    d = std::max({d, f - i / n, (i + 1) / n - f});
  }
  return d;
}
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

TEST(MXNetGenerator, PartitionFollowsMXNet) {
  std::size_t nt, step;
  mr::MXNetGenerator::partition(1, &nt, &step);
  EXPECT_EQ(nt, 1u);
  EXPECT_EQ(step, 1u);
  mr::MXNetGenerator::partition(65, &nt, &step);
  EXPECT_EQ(nt, 2u);
  EXPECT_EQ(step, 33u);
  mr::MXNetGenerator::partition(100000, &nt, &step);
  EXPECT_EQ(nt, 1024u);
  EXPECT_EQ(step, 98u);
}

TEST(MXNetGenerator, UniformFloat32MatchesStdDistributions) {
  for (std::uint32_t seed : {0u, 7u, 123456u}) {
    for (std::size_t n : {1u, 63u, 64u, 65u, 1000u, 100000u}) {
      mr::MXNetGenerator g(seed);
      auto eng = engines_for(seed);
      for (int call = 0; call < 2; ++call) {  // engines keep their position across calls
        std::vector<float> got(n);
        g.uniform_f32(-0.5f, 1.25f, mr::Buffer(got.data(), n));
        const float range = 1.25f - -0.5f;
        auto want = reference<float>(eng, n, [&](std::mt19937& e) {
          std::uniform_real_distribution<float> d;
          return -0.5f + range * d(e);
        });
        ASSERT_TRUE(same_bits(got, want)) << "seed " << seed << " n " << n << " call " << call;
      }
    }
  }
}

TEST(MXNetGenerator, NormalFloat32MatchesStdDistributions) {
  for (std::uint32_t seed : {0u, 42u}) {
    for (std::size_t n : {1u, 333u, 70000u}) {
      mr::MXNetGenerator g(seed);
      auto eng = engines_for(seed);
      for (int call = 0; call < 3; ++call) {
        std::vector<float> got(n);
        g.normal_f32(0.25f, 2.0f, mr::Buffer(got.data(), n));
        auto want = reference<float>(eng, n, [](std::mt19937& e) {
          std::normal_distribution<float> d;  // fresh per value: MXNet discards the spare
          return d(e) * 2.0f + 0.25f;
        });
        ASSERT_TRUE(same_bits(got, want)) << "seed " << seed << " n " << n << " call " << call;
      }
    }
  }
}

TEST(MXNetGenerator, Float64AndFloat16UseDoubleDistributions) {
  const std::size_t n = 5000;
  mr::MXNetGenerator g(3);
  auto eng = engines_for(3);
  std::vector<double> d(n);
  g.uniform_f32(-1.0f, 3.0f, mr::Buffer(d.data(), n));
  auto want_d = reference<double>(eng, n, [](std::mt19937& e) {
    std::uniform_real_distribution<double> u;
    return -1.0 + static_cast<double>(3.0f - -1.0f) * u(e);
  });
  EXPECT_TRUE(same_bits(d, want_d));
  std::vector<Half> h(n);
  g.normal_f32(0.0f, 0.5f, mr::Buffer(h.data(), n));
  auto want_h = reference<double>(eng, n, [](std::mt19937& e) {
    std::normal_distribution<double> nd;
    return nd(e) * 0.5;
  });
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(h[i].bits, mxopt::to_half(static_cast<float>(want_h[i])).bits) << i;
}

TEST(MXNetGenerator, ReseedRestartsAndSeedWrapsModulo2To32) {
  mr::MXNetGenerator a(5), b(5ull + (1ull << 32));
  std::vector<float> x(100), y(100);
  a.uniform_f32(0, 1, mr::Buffer(x.data(), 100));
  b.uniform_f32(0, 1, mr::Buffer(y.data(), 100));
  EXPECT_TRUE(same_bits(x, y));
  a.seed(5);
  a.uniform_f32(0, 1, mr::Buffer(y.data(), 100));
  EXPECT_TRUE(same_bits(x, y));
}

TEST(MXNetGenerator, ThreadCountIndependent) {
  for (std::size_t n : {40000u, 1000003u}) {
    std::vector<float> one(n), two(n), n1(n), n2(n);
    set_threads(1);
    mr::MXNetGenerator a(11);
    a.uniform_f32(-1, 1, mr::Buffer(one.data(), n));
    a.normal_f32(0, 1, mr::Buffer(n1.data(), n));
    set_threads(2);
    mr::MXNetGenerator b(11);
    b.uniform_f32(-1, 1, mr::Buffer(two.data(), n));
    b.normal_f32(0, 1, mr::Buffer(n2.data(), n));
    EXPECT_TRUE(same_bits(one, two));
    EXPECT_TRUE(same_bits(n1, n2));
  }
}

TEST(MXNetGenerator, ParametersGoThroughMXNetsParser) {
  // MXNet receives str(1.91) and parses it to 1.9100001f (not the nearest float, 1.91f).
  EXPECT_EQ(mr::parse_mxnet_float("1.91"), std::nextafter(1.91f, 2.0f));
  EXPECT_EQ(mr::parse_mxnet_float("-0.37"), -0.37f);
  EXPECT_EQ(mr::parse_mxnet_float("1e-05"), 1.0f / 100000.0f);
  EXPECT_EQ(mr::python_repr(0.1), "0.1");
  EXPECT_EQ(mr::python_repr(1e-5), "1e-05");
  EXPECT_EQ(mr::python_repr(0.0001), "0.0001");
  EXPECT_EQ(mr::python_repr(1e16), "1e+16");
  EXPECT_EQ(mr::python_repr(123.0), "123.0");
  EXPECT_EQ(mr::python_repr(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(mr::python_repr(0.21650635094610965), "0.21650635094610965");
  mr::MXNetGenerator a(1), b(1);
  std::vector<float> x(10), y(10);
  a.uniform(-0.37, 1.91, mr::Buffer(x.data(), 10));
  b.uniform_f32(-0.37f, std::nextafter(1.91f, 2.0f), mr::Buffer(y.data(), 10));
  EXPECT_TRUE(same_bits(x, y));
}

TEST(Generator, RejectsBadParametersBeforeWriting) {
  mr::MXNetGenerator m(0);
  mr::PhiloxGenerator p(0);
  std::vector<float> x(8, 7.0f);
  for (mr::Generator* g : {static_cast<mr::Generator*>(&m), static_cast<mr::Generator*>(&p)}) {
    EXPECT_THROW(g->uniform(1.0, -1.0, mr::Buffer(x.data(), 8)), std::invalid_argument);
    EXPECT_THROW(g->normal(0.0, 0.0, mr::Buffer(x.data(), 8)), std::invalid_argument);
    EXPECT_THROW(g->normal(0.0, -1.0, mr::Buffer(x.data(), 8)), std::invalid_argument);
    EXPECT_THROW(g->uniform(0.0, INFINITY, mr::Buffer(x.data(), 8)), std::invalid_argument);
  }
  for (float v : x) EXPECT_EQ(v, 7.0f);
}

TEST(PhiloxGenerator, KnownAnswers) {
  // Random123's kat_vectors for philox4x32 with 10 rounds.
  struct Case {
    std::uint32_t ctr[4], key[2], want[4];
  } cases[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const Case& c : cases) {
    std::uint32_t out[4];
    mr::PhiloxGenerator::block(c.ctr, c.key, out);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], c.want[i]);
  }
}

TEST(PhiloxGenerator, ValueDependsOnlyOnSeedAndIndex) {
  // Uniform value i of the first call: tile k = i / 80, v = i % 80 comes from block
  // 16 k + v % 16; slot v / 16 < 4 is the top 24 bits of that word, slot 4 packs the low bytes of
  // words 0, 1, 2.
  mr::PhiloxGenerator g(0x1234567890abcdefull);
  std::vector<float> x(170);
  g.uniform(0, 1, mr::Buffer(x.data(), x.size()));
  for (std::uint32_t i = 0; i < x.size(); ++i) {
    const std::uint32_t v = i % 80, slot = v / 16;
    const std::uint32_t ctr[4] = {16 * (i / 80) + v % 16, 0, 0, 0};
    const std::uint32_t key[2] = {0x90abcdefu, 0x12345678u};
    std::uint32_t w[4];
    mr::PhiloxGenerator::block(ctr, key, w);
    const std::uint32_t m = slot < 4 ? w[slot] >> 8
                                     : (w[0] & 0xffu) | (w[1] & 0xffu) << 8 | (w[2] & 0xffu) << 16;
    EXPECT_EQ(x[i], static_cast<float>(m) * 0x1p-24f) << i;
  }
  EXPECT_EQ(g.offset(), 48u);  // whole tiles of 16 blocks; the next call starts on a fresh one
  // A prefix of a longer call equals a shorter call, whatever the size (SIMD body vs tail).
  for (std::size_t n : {1u, 5u, 4099u}) {
    mr::PhiloxGenerator a(9), b(9);
    std::vector<float> s(n), l(n + 77777);
    a.normal(0, 1, mr::Buffer(s.data(), n));
    b.normal(0, 1, mr::Buffer(l.data(), l.size()));
    EXPECT_EQ(0, std::memcmp(s.data(), l.data(), n * sizeof(float)));
  }
}

// Uniform value i of a call starting at block `offset` under `key`, written the scalar way
// (tile k = i / 80, lane v % 16, slot v / 16; clamp below high with std::min).
float philox_uniform_ref(std::uint64_t key, std::uint64_t offset, std::size_t i, float low,
                         float high) {
  const std::size_t v = i % 80, slot = v / 16;
  const std::uint64_t b = offset + 16 * (i / 80) + v % 16;
  const std::uint32_t ctr[4] = {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32),
                                0, 0};
  const std::uint32_t k[2] = {static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32)};
  std::uint32_t w[4];
  mr::PhiloxGenerator::block(ctr, k, w);
  const std::uint32_t m = slot < 4 ? w[slot] >> 8
                                   : (w[0] & 0xffu) | (w[1] & 0xffu) << 8 | (w[2] & 0xffu) << 16;
  const float range24 = (high - low) * 0x1p-24f;
  const float hmax = high > low ? std::nextafter(high, low) : low;
  return std::min(low + range24 * static_cast<float>(m), hmax);
}

TEST(PhiloxGenerator, UniformMatchesScalarReferenceEverywhere) {
  // The vector kernels (two tiles at a time, a clamp-free variant when the clamp cannot bind,
  // float16 through the hardware conversion) against the scalar definition: ranges where the
  // clamp never binds and where it does (a range of a few ulps), tile counts that are odd or
  // even, serial and parallel sizes, offsets, and destinations that are not 64-byte aligned.
  const float one_up = std::nextafter(1.0f, 2.0f);
  const std::pair<float, float> ranges[] = {{0.0f, 1.0f}, {-1.0f, 1.0f}, {-3.5f, 7.25f},
                                            {1.0f, one_up}, {-0.07f, 0.07f}, {2.0f, 2.0f}};
  const std::size_t sizes[] = {1, 79, 80, 160, 161, 3 * 80 + 7, 40000, 257 * 80 * 3 + 41};
  const std::uint64_t key = 0x0123456789abcdefull;
  std::size_t clamped = 0;
  for (const auto& [low, high] : ranges) {
    for (std::size_t n : sizes) {
      for (std::uint64_t offset : {0ull, 16ull, 48ull}) {
        for (std::size_t shift : {0u, 1u, 5u}) {
          std::vector<float> f(n + shift, -9.0f);
          std::vector<Half> h(n + shift, mxopt::to_half(-9.0f));
          mr::PhiloxGenerator g(key);
          g.set_offset(offset);
          g.uniform(low, high, mr::Buffer(f.data() + shift, n));
          g.set_offset(offset);
          g.uniform(low, high, mr::Buffer(h.data() + shift, n));
          for (std::size_t j = 0; j < shift; ++j) ASSERT_EQ(f[j], -9.0f);
          for (std::size_t i = 0; i < n; ++i) {
            const float want = philox_uniform_ref(key, offset, i, low, high);
            clamped += high > low && want == std::nextafter(high, low) && high == one_up;
            ASSERT_EQ(std::memcmp(&f[shift + i], &want, 4), 0)
                << "low " << low << " high " << high << " n " << n << " i " << i;
            ASSERT_EQ(h[shift + i].bits, mxopt::to_half(want).bits) << "n " << n << " i " << i;
          }
        }
      }
    }
  }
  EXPECT_GT(clamped, 0u);  // the clamp really bound somewhere
}

TEST(PhiloxGenerator, Float16IsFloat32Rounded) {
  // Every float16 kernel converts the float32 values of the same call with round to nearest
  // even (vcvtps2ph on x86-64-v3/v4, to_half elsewhere): the same bits either way.
  const std::size_t n = 100003;
  for (int kind = 0; kind < 2; ++kind) {
    std::vector<float> f(n);
    std::vector<Half> h(n);
    mr::PhiloxGenerator a(31), b(31);
    if (kind == 0) {
      a.uniform(-1e5, 1e5, mr::Buffer(f.data(), n));  // also overflows float16 (-> inf)
      b.uniform(-1e5, 1e5, mr::Buffer(h.data(), n));
    } else {
      a.normal(0, 1e-6, mr::Buffer(f.data(), n));  // mostly float16 subnormals
      b.normal(0, 1e-6, mr::Buffer(h.data(), n));
    }
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(h[i].bits, mxopt::to_half(f[i]).bits) << i;
  }
}

TEST(PhiloxGenerator, ThreadCountIndependent) {
  const std::size_t n = 1000003;
  for (mxopt::DType dt : {mxopt::DType::kFloat32, mxopt::DType::kFloat64, mxopt::DType::kFloat16}) {
    std::vector<char> a(n * mxopt::dtype_size(dt)), b(a.size()), c(a.size()), d(a.size());
    set_threads(1);
    mr::PhiloxGenerator g1(77);
    g1.uniform(-2, 2, mr::Buffer(a.data(), dt, n));
    g1.normal(1, 3, mr::Buffer(c.data(), dt, n));
    set_threads(2);
    mr::PhiloxGenerator g2(77);
    g2.uniform(-2, 2, mr::Buffer(b.data(), dt, n));
    g2.normal(1, 3, mr::Buffer(d.data(), dt, n));
    EXPECT_EQ(a, b) << mxopt::dtype_name(dt);
    EXPECT_EQ(c, d) << mxopt::dtype_name(dt);
  }
}

TEST(PhiloxGenerator, UniformAndNormalDistributions) {
  const std::size_t n = 200000;
  mr::PhiloxGenerator g(2024);
  std::vector<float> u(n);
  g.uniform(-3, 5, mr::Buffer(u.data(), n));
  EXPECT_GE(*std::min_element(u.begin(), u.end()), -3.0f);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 5.0f);
  // KS critical value at alpha = 0.001 is 1.95 / sqrt(n).
  EXPECT_LT(ks_statistic(u, [](double x) { return (x + 3) / 8; }), 1.95 / std::sqrt(n));
  for (mxopt::DType dt : {mxopt::DType::kFloat32, mxopt::DType::kFloat64}) {
    std::vector<double> z(n);
    if (dt == mxopt::DType::kFloat32) {
      std::vector<float> f(n);
      g.normal(0, 1, mr::Buffer(f.data(), n));
      std::copy(f.begin(), f.end(), z.begin());
    } else {
      g.normal(0, 1, mr::Buffer(z.data(), n));
    }
    const double mean = std::accumulate(z.begin(), z.end(), 0.0) / n;
    double var = 0;
    for (double v : z) var += (v - mean) * (v - mean);
    var /= n;
    EXPECT_NEAR(mean, 0.0, 5.0 / std::sqrt(n));
    EXPECT_NEAR(var, 1.0, 0.02);
    EXPECT_LT(ks_statistic(z, normal_cdf), 1.95 / std::sqrt(n)) << mxopt::dtype_name(dt);
  }
}

TEST(Global, SeedSelectsGenerator) {
  mr::seed_global(3, "philox");
  EXPECT_EQ(mr::global().name(), "philox");
  mr::seed_global(3);
  EXPECT_EQ(mr::global().name(), "mxnet");
  EXPECT_EQ(mr::global().current_seed(), 3u);
  EXPECT_THROW(mr::seed_global(1, "pcg"), std::invalid_argument);
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(mxopt::to_half(1.0f).bits, 0x3c00);
  EXPECT_EQ(mxopt::to_half(65504.0f).bits, 0x7bff);
  EXPECT_EQ(mxopt::to_half(65520.0f).bits, 0x7c00);
  EXPECT_EQ(mxopt::to_half(1.0f + 0x1p-11f).bits, 0x3c00);  // tie -> even
  EXPECT_EQ(mxopt::to_half(1.0f + 3 * 0x1p-11f).bits, 0x3c02);
  EXPECT_EQ(mxopt::to_half(0x1p-24f).bits, 0x0001);
  EXPECT_EQ(mxopt::to_half(-0x1p-25f).bits, 0x8000);
  EXPECT_EQ(mxopt::to_float(mxopt::Half{0x3555}), 0.333251953125f);
}

// Every binary16 value converts to the float it denotes (written out with ldexp), converts back
// to itself, and every midpoint between neighbours (exact in float) rounds to the even one, the
// floats next to it to the nearer one.
TEST(Half, ConversionsAreExactAndRoundToNearestEvenForEveryValue) {
  auto bits_of = [](float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
  };
  for (std::uint32_t hb = 0; hb < 0x10000u; ++hb) {
    const auto h16 = static_cast<std::uint16_t>(hb);
    const std::uint32_t sign = hb >> 15, e = (hb >> 10) & 0x1fu, m = hb & 0x3ffu;
    const float got = mxopt::half_bits_to_float(h16);
    if (e == 0x1f && m != 0) {  // NaN: quiet, payload kept
      EXPECT_EQ(bits_of(got), (sign << 31) | 0x7fc00000u | (m << 13)) << hb;
      EXPECT_EQ(mxopt::float_to_half_bits(got), (sign << 15) | 0x7e00u) << hb;
      continue;
    }
    float want = e == 0x1f ? INFINITY
                 : e == 0  ? std::ldexp(static_cast<float>(m), -24)
                           : std::ldexp(static_cast<float>(1024 + m), static_cast<int>(e) - 25);
    if (sign) want = -want;
    EXPECT_EQ(bits_of(got), bits_of(want)) << hb;
    EXPECT_EQ(mxopt::float_to_half_bits(got), h16) << hb;
    if (e == 0x1f || (hb & 0x7fffu) == 0x7bffu) continue;
    // The midpoint between this value and the next one away from zero, and its neighbours.
    const float next =
        mxopt::half_bits_to_float(static_cast<std::uint16_t>((hb & 0x7fffu) + 1));
    const float a = std::fabs(want), mid = (a + next) / 2;
    ASSERT_EQ(mid - a, next - mid) << hb;  // exact
    const std::uint16_t lo = static_cast<std::uint16_t>(hb & 0x7fffu);
    const std::uint16_t even = (lo & 1u) ? static_cast<std::uint16_t>(lo + 1) : lo;
    const std::uint16_t s16 = static_cast<std::uint16_t>(sign << 15);
    const float sg = sign ? -1.0f : 1.0f;
    EXPECT_EQ(mxopt::float_to_half_bits(sg * mid), s16 | even) << hb;
    EXPECT_EQ(mxopt::float_to_half_bits(sg * std::nextafter(mid, 0.0f)), s16 | lo) << hb;
    EXPECT_EQ(mxopt::float_to_half_bits(sg * std::nextafter(mid, INFINITY)), s16 | (lo + 1))
        << hb;
  }
  // Past the largest half: 65520 is the midpoint to 2^16, so it and everything above is inf.
  EXPECT_EQ(mxopt::float_to_half_bits(65520.0f), 0x7c00u);
  EXPECT_EQ(mxopt::float_to_half_bits(std::nextafter(65520.0f, 0.0f)), 0x7bffu);
  EXPECT_EQ(mxopt::float_to_half_bits(-3.0e38f), 0xfc00u);
  EXPECT_EQ(mxopt::float_to_half_bits(-INFINITY), 0xfc00u);
  // Below half the smallest subnormal (2^-25, a tie with 0): zero, sign kept.
  EXPECT_EQ(mxopt::float_to_half_bits(0x1p-25f), 0x0000u);
  EXPECT_EQ(mxopt::float_to_half_bits(std::nextafter(0x1p-25f, 1.0f)), 0x0001u);
  EXPECT_EQ(mxopt::float_to_half_bits(-1e-30f), 0x8000u);
  EXPECT_EQ(mxopt::float_to_half_bits(-1e-45f), 0x8000u);  // a float subnormal
}
