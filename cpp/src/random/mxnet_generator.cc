// MXNet 1.9.1's CPU random stream: 1024 mt19937 engines, contiguous chunks, libstdc++'s
// generate_canonical / uniform_real_distribution / normal_distribution (Marsaglia polar) rules.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "mxopt/random.h"
#include "simd.h"

namespace mxopt::random {

namespace {

constexpr int kN = 624;   // mt19937 state words
constexpr int kM = 397;
constexpr std::uint32_t kUpper = 0x80000000u, kLower = 0x7fffffffu, kMatrixA = 0x9908b0dfu;
constexpr float kOneBelowF = 0x1.fffffep-1f;             // nextafter(1.0f, 0.0f)
constexpr double kOneBelowD = 0x1.fffffffffffffp-1;      // nextafter(1.0, 0.0)

inline std::uint32_t temper(std::uint32_t y) {
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

// The mt19937 state transition, written as two dependence-free loops so it vectorises.
MXOPT_SIMD_CLONES void twist(std::uint32_t* mt) {
  for (int i = 0; i < kN - kM; ++i) {
    const std::uint32_t y = (mt[i] & kUpper) | (mt[i + 1] & kLower);
    mt[i] = mt[i + kM] ^ (y >> 1) ^ ((0u - (y & 1u)) & kMatrixA);
  }
  for (int i = kN - kM; i < kN - 1; ++i) {
    const std::uint32_t y = (mt[i] & kUpper) | (mt[i + 1] & kLower);
    mt[i] = mt[i + kM - kN] ^ (y >> 1) ^ ((0u - (y & 1u)) & kMatrixA);
  }
  const std::uint32_t y = (mt[kN - 1] & kUpper) | (mt[0] & kLower);
  mt[kN - 1] = mt[kM - 1] ^ (y >> 1) ^ ((0u - (y & 1u)) & kMatrixA);
}

// generate_canonical<float, 24>: one 32-bit draw, float(r) / 2^32, kept below 1.
inline float canonical_f(std::uint32_t r) {
  const float u = static_cast<float>(r) * 0x1p-32f;
  return u >= 1.0f ? kOneBelowF : u;
}

// generate_canonical<double, 53>: two draws, (r1 + r2 * 2^32) / 2^64, kept below 1.
inline double canonical_d(std::uint32_t r1, std::uint32_t r2) {
  const double u = (static_cast<double>(r1) + static_cast<double>(r2) * 4294967296.0) * 0x1p-64;
  return u >= 1.0 ? kOneBelowD : u;
}

MXOPT_SIMD_CLONES void uniform_f32_block(const std::uint32_t* s, std::size_t k, float low,
                                         float range, float* out) {
  for (std::size_t i = 0; i < k; ++i) out[i] = low + range * canonical_f(temper(s[i]));
}

MXOPT_SIMD_CLONES void temper_block(const std::uint32_t* s, std::size_t k, std::uint32_t* out) {
  for (std::size_t i = 0; i < k; ++i) out[i] = temper(s[i]);
}

// One Marsaglia-polar attempt per word pair: y and r2, or r2 = 0 for a rejected attempt.
MXOPT_SIMD_CLONES void polar_f32_block(const std::uint32_t* s, std::size_t pairs, float* ys,
                                       float* r2s) {
  for (std::size_t j = 0; j < pairs; ++j) {
    const float x = 2.0f * canonical_f(temper(s[2 * j])) - 1.0f;
    const float y = 2.0f * canonical_f(temper(s[2 * j + 1])) - 1.0f;
    const float r2 = x * x + y * y;
    ys[j] = y;
    r2s[j] = r2 > 1.0f ? 0.0f : r2;  // r2 == 0 is rejected too
  }
}

// z = y sqrt(-2 log(r2) / r2), out = z scale + loc, from precomputed logs (same operations
// and order as polar_f32_value).
MXOPT_SIMD_CLONES void polar_f32_finish(const float* ys, const float* r2s, const float* logs,
                                        std::size_t k, float scale, float loc, float* out) {
  for (std::size_t q = 0; q < k; ++q)
    out[q] = ys[q] * std::sqrt(-2.0f * logs[q] / r2s[q]) * scale + loc;
}

inline float polar_f32_value(float y, float r2) {
  const float mult = std::sqrt(-2.0f * std::log(r2) / r2);  // float overloads: sqrtf, logf
  return y * mult;
}

}  // namespace

struct MXNetGenerator::Engine {
  std::uint32_t mt[kN];
  int idx = kN;
  bool seeded = false;

  void seed(std::uint32_t s) {  // std::mt19937::seed == init_genrand
    mt[0] = s;
    for (int i = 1; i < kN; ++i)
      mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
    idx = kN;
    seeded = true;
  }
  std::uint32_t next() {
    if (idx >= kN) {
      twist(mt);
      idx = 0;
    }
    return temper(mt[idx++]);
  }
  // The next n raw words.
  void raw(std::uint32_t* out, std::size_t n) {
    while (n > 0) {
      if (idx >= kN) {
        twist(mt);
        idx = 0;
      }
      const std::size_t k = std::min<std::size_t>(n, static_cast<std::size_t>(kN - idx));
      temper_block(mt + idx, k, out);
      idx += static_cast<int>(k);
      out += k;
      n -= k;
    }
  }

  void uniform_f32(float low, float range, float* out, std::size_t n) {
    while (n > 0) {
      if (idx >= kN) {
        twist(mt);
        idx = 0;
      }
      const std::size_t k = std::min<std::size_t>(n, static_cast<std::size_t>(kN - idx));
      uniform_f32_block(mt + idx, k, low, range, out);
      idx += static_cast<int>(k);
      out += k;
      n -= k;
    }
  }

  // Uniform through generate_canonical<double> (MXNet's float64 and float16 outputs): the
  // value low + range * u is formed in double.
  template <class Store>
  void uniform_d(double low, double range, std::size_t n, Store store) {
    constexpr std::size_t kBatch = 256;
    std::uint32_t w[2 * kBatch];
    for (std::size_t done = 0; done < n;) {
      const std::size_t k = std::min(kBatch, n - done);
      raw(w, 2 * k);
      for (std::size_t i = 0; i < k; ++i)
        store(done + i, low + range * canonical_d(w[2 * i], w[2 * i + 1]));
      done += k;
    }
  }

  void normal_f32(float loc, float scale, float* out, std::size_t n) {
    float ys[kN / 2], r2s[kN / 2], logs[kN / 2];
    std::uint16_t accepted[kN / 2];
    while (n > 0) {
      if (idx >= kN) {
        twist(mt);
        idx = 0;
      }
      if (idx == kN - 1) {  // an attempt straddling two state blocks
        const float x = 2.0f * canonical_f(temper(mt[kN - 1])) - 1.0f;
        twist(mt);
        idx = 0;
        const float y = 2.0f * canonical_f(temper(mt[idx++])) - 1.0f;
        const float r2 = x * x + y * y;
        if (!(r2 > 1.0f || r2 == 0.0f)) {
          *out++ = polar_f32_value(y, r2) * scale + loc;
          --n;
        }
        continue;
      }
      // All attempts of the rest of this state block at once (vectorised), then the accepted
      // ones in order: glibc's logf for each, then the remaining float math vectorised.
      const std::size_t pairs = static_cast<std::size_t>(kN - idx) / 2;
      polar_f32_block(mt + idx, pairs, ys, r2s);
      std::size_t na = 0;
      for (std::size_t j = 0; j < pairs; ++j) {
        accepted[na] = static_cast<std::uint16_t>(j);
        na += r2s[j] != 0.0f;
      }
      const std::size_t take = std::min(na, n);
      for (std::size_t q = 0; q < take; ++q) {
        ys[q] = ys[accepted[q]];
        r2s[q] = r2s[accepted[q]];
      }
      for (std::size_t q = 0; q < take; ++q) logs[q] = std::log(r2s[q]);  // logf
      polar_f32_finish(ys, r2s, logs, take, scale, loc, out);
      // Consume exactly the attempts MXNet would have made.
      const std::size_t used = take < n ? pairs : static_cast<std::size_t>(accepted[take - 1]) + 1;
      idx += static_cast<int>(2 * used);
      out += take;
      n -= take;
    }
  }

  // normal_distribution<double> (MXNet's float64 and float16 outputs).
  double polar_d() {
    double x, y, r2;
    do {
      const std::uint32_t a = next(), b = next();
      x = 2.0 * canonical_d(a, b) - 1.0;
      const std::uint32_t c = next(), d = next();
      y = 2.0 * canonical_d(c, d) - 1.0;
      r2 = x * x + y * y;
    } while (r2 > 1.0 || r2 == 0.0);
    return y * std::sqrt(-2.0 * std::log(r2) / r2);
  }
};

MXNetGenerator::MXNetGenerator(std::uint64_t seed) : engines_(kEngines) { this->seed(seed); }
MXNetGenerator::~MXNetGenerator() = default;

void MXNetGenerator::seed(std::uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  seed_ = static_cast<std::uint32_t>(seed);
  for (auto& e : engines_) e.seeded = false;  // re-seeded on first use
}

MXNetGenerator::Engine& MXNetGenerator::engine(std::size_t t) {
  Engine& e = engines_[t];
  if (!e.seeded) e.seed(seed_ * 127u + static_cast<std::uint32_t>(t));
  return e;
}

void MXNetGenerator::partition(std::size_t n, std::size_t* nthread, std::size_t* step) {
  const std::size_t nt = std::min<std::size_t>((n + kValuesPerEngineMin - 1) / kValuesPerEngineMin,
                                               static_cast<std::size_t>(kEngines));
  *nthread = nt;
  *step = nt == 0 ? 0 : (n + nt - 1) / nt;
}

namespace {
// Runs body(engine index, first value, count) for every non-empty chunk of an n-value call.
template <class Body>
void for_each_chunk(std::size_t n, Body body) {
  std::size_t nthread, step;
  MXNetGenerator::partition(n, &nthread, &step);
  const long nt = static_cast<long>(nthread);
#pragma omp parallel for schedule(static) if (static_cast<long>(n) >= detail::kParallelMinElements)
  for (long t = 0; t < nt; ++t) {
    const std::size_t begin = static_cast<std::size_t>(t) * step;
    if (begin >= n) continue;
    body(static_cast<std::size_t>(t), begin, std::min(step, n - begin));
  }
}
}  // namespace

void MXNetGenerator::uniform(double low, double high, Buffer out) {
  check_uniform(low, high);
  uniform_f32(mxnet_param(low), mxnet_param(high), out);
}

void MXNetGenerator::normal(double loc, double scale, Buffer out) {
  check_normal(scale);
  normal_f32(mxnet_param(loc), mxnet_param(scale), out);
}

void MXNetGenerator::uniform_f32(float low, float high, Buffer out) {
  check_uniform(low, high);
  std::lock_guard<std::mutex> lock(mu_);
  const float range = high - low;  // MXNet: lower + (upper - lower) * u, in float
  switch (out.dtype) {
    case DType::kFloat32: {
      float* p = static_cast<float*>(out.data);
      for_each_chunk(out.size, [&](std::size_t t, std::size_t b, std::size_t k) {
        engine(t).uniform_f32(low, range, p + b, k);
      });
      break;
    }
    case DType::kFloat64: {
      double* p = static_cast<double*>(out.data);
      for_each_chunk(out.size, [&](std::size_t t, std::size_t b, std::size_t k) {
        engine(t).uniform_d(low, range, k, [p, b](std::size_t i, double v) { p[b + i] = v; });
      });
      break;
    }
    case DType::kFloat16: {
      Half* p = static_cast<Half*>(out.data);
      for_each_chunk(out.size, [&](std::size_t t, std::size_t b, std::size_t k) {
        engine(t).uniform_d(low, range, k, [p, b](std::size_t i, double v) {
          p[b + i] = to_half(static_cast<float>(v));
        });
      });
      break;
    }
  }
}

void MXNetGenerator::normal_f32(float loc, float scale, Buffer out) {
  check_normal(scale);
  std::lock_guard<std::mutex> lock(mu_);
  switch (out.dtype) {
    case DType::kFloat32: {
      float* p = static_cast<float*>(out.data);
      for_each_chunk(out.size, [&](std::size_t t, std::size_t b, std::size_t k) {
        engine(t).normal_f32(loc, scale, p + b, k);
      });
      break;
    }
    case DType::kFloat64: {
      double* p = static_cast<double*>(out.data);
      const double s = scale, m = loc;
      for_each_chunk(out.size, [&](std::size_t t, std::size_t b, std::size_t k) {
        Engine& e = engine(t);
        for (std::size_t i = 0; i < k; ++i) p[b + i] = e.polar_d() * s + m;
      });
      break;
    }
    case DType::kFloat16: {
      Half* p = static_cast<Half*>(out.data);
      const double s = scale, m = loc;
      for_each_chunk(out.size, [&](std::size_t t, std::size_t b, std::size_t k) {
        Engine& e = engine(t);
        for (std::size_t i = 0; i < k; ++i)
          p[b + i] = to_half(static_cast<float>(e.polar_d() * s + m));
      });
      break;
    }
  }
}

}  // namespace mxopt::random
