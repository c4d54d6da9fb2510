// Random number generators that fill float16 / float32 / float64 buffers in place.
//
// Two generators share one interface:
//  * MXNetGenerator reproduces Apache MXNet 1.9.1's CPU random stream bit for bit: 1024
//    Mersenne Twister (mt19937) engines, engine t seeded with (seed * 127 + t) mod 2^32; the
//    N values of one call are cut into nthread = min(ceil(N / 64), 1024) contiguous chunks of
//    step = ceil(N / nthread) values, chunk t drawn from engine t, which keeps its position for
//    the next call. Uniform uses libstdc++'s generate_canonical rules, normal the Marsaglia polar
//    method with a fresh draw per value. Chunks are independent, so they run in parallel
//    (OpenMP) and the values never depend on the thread count.
//  * PhiloxGenerator is a counter-based generator (Philox-4x32-10, Salmon et al. 2011): value i
//    of a call is a pure function of (seed, the call's first block, i), computed 16 blocks at a
//    time with vectorised code; uniform uses 24 (float) / 53 (double) random bits, normal the
//    Box-Muller transform. Not MXNet's stream.
//
// Both validate before writing: uniform needs low <= high, normal needs scale > 0 (MXNet's
// checks), otherwise std::invalid_argument. Calls on one generator are serialised by a mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mxopt/dtype.h"
#include "mxopt/mxnet_params.h"

namespace mxopt::random {

// A writable, contiguous buffer of `size` elements of `dtype`.
struct Buffer {
  void* data = nullptr;
  DType dtype = DType::kFloat32;
  std::size_t size = 0;

  Buffer() = default;
  Buffer(void* d, DType t, std::size_t n) : data(d), dtype(t), size(n) {}
  Buffer(float* d, std::size_t n) : data(d), dtype(DType::kFloat32), size(n) {}
  Buffer(double* d, std::size_t n) : data(d), dtype(DType::kFloat64), size(n) {}
  Buffer(Half* d, std::size_t n) : data(d), dtype(DType::kFloat16), size(n) {}
};

class Generator {
 public:
  virtual ~Generator() = default;

  // Restart the stream from `seed` (any integer; MXNetGenerator uses it modulo 2^32).
  virtual void seed(std::uint64_t seed) = 0;
  // out[i] ~ U[low, high).
  virtual void uniform(double low, double high, Buffer out) = 0;
  // out[i] ~ N(loc, scale^2).
  virtual void normal(double loc, double scale, Buffer out) = 0;
  // "mxnet" or "philox".
  virtual std::string name() const = 0;
  // The seed given to the last seed() call (0 at construction).
  virtual std::uint64_t current_seed() const = 0;

 protected:
  static void check_uniform(double low, double high);
  static void check_normal(double scale);
};

class MXNetGenerator final : public Generator {
 public:
  static constexpr int kEngines = 1024;
  static constexpr std::size_t kValuesPerEngineMin = 64;

  explicit MXNetGenerator(std::uint64_t seed = 0);
  ~MXNetGenerator() override;
  MXNetGenerator(const MXNetGenerator&) = delete;
  MXNetGenerator& operator=(const MXNetGenerator&) = delete;

  void seed(std::uint64_t seed) override;
  // `low`/`high` (and `loc`/`scale`) are MXNet operator parameters: they are converted to
  // float32 the way MXNet 1.9.1 receives them from Python (mxnet_param below), so that
  // uniform(-0.07, 0.07, ...) gives what mx.nd.random.uniform(-0.07, 0.07) gives.
  void uniform(double low, double high, Buffer out) override;
  void normal(double loc, double scale, Buffer out) override;
  std::string name() const override { return "mxnet"; }
  std::uint64_t current_seed() const override { return seed_; }

  // The same draws with parameters that are already MXNet's float32 values.
  void uniform_f32(float low, float high, Buffer out);
  void normal_f32(float loc, float scale, Buffer out);

  // How a call of n values is cut: number of engines used and values per engine.
  static void partition(std::size_t n, std::size_t* nthread, std::size_t* step);

 private:
  struct Engine;
  Engine& engine(std::size_t t);
  std::uint32_t seed_ = 0;
  std::vector<Engine> engines_;
  std::mutex mu_;
};

class PhiloxGenerator final : public Generator {
 public:
  explicit PhiloxGenerator(std::uint64_t seed = 0);

  void seed(std::uint64_t seed) override;
  void uniform(double low, double high, Buffer out) override;
  void normal(double loc, double scale, Buffer out) override;
  std::string name() const override { return "philox"; }
  std::uint64_t current_seed() const override { return key_; }

  // Counter blocks (4 x 32 bits each) consumed so far; each call starts at a fresh block.
  std::uint64_t offset() const { return offset_; }
  void set_offset(std::uint64_t blocks) { offset_ = blocks; }

  // The instruction set the kernels use: "avx512", "avx2" or "generic" (the CPU's best, capped
  // by the environment variable MXOPT_SIMD=generic|avx2). All give the same values.
  static std::string simd();

  // One Philox-4x32-10 block: ctr (4 words) under key (2 words) -> 4 random words.
  static void block(const std::uint32_t ctr[4], const std::uint32_t key[2], std::uint32_t out[4]);

 private:
  std::uint64_t key_ = 0;
  std::uint64_t offset_ = 0;
  std::mutex mu_;
};

// The process-wide generator (what mx.random.seed selects and seeds). Starts as
// MXNetGenerator(0), i.e. MXNet's state at process start.
Generator& global();
// Replace the global generator: kind "mxnet" or "philox" (std::invalid_argument otherwise).
void seed_global(std::uint64_t seed, const std::string& kind = "mxnet");

// ---- MXNet's parameter round trip (mxopt/mxnet_params.h) ----------------------------------
// The generators' low/high/loc/scale reach MXNet's kernels as parse_mxnet_float(python_repr(x));
// a value beyond float32's range throws std::invalid_argument, as MXNet refuses it.
using mxopt::parse_mxnet_double;
using mxopt::parse_mxnet_float;
using mxopt::python_repr;
inline float mxnet_param(double x) { return mxopt::mxnet_float(x); }

}  // namespace mxopt::random
