// Weight initializers with MXNet 1.9.1's rules, on raw buffers: each fills a C-contiguous
// float16/float32/float64 array of a given shape in place, drawing from a random::Generator
// (MXNetGenerator reproduces MXNet's values for the same seed).
//
//   mxopt::random::MXNetGenerator rng(42);                  // == mx.random.seed(42)
//   std::vector<float> w(64 * 32);
//   mxopt::init::Xavier("gaussian", "in", 2.0).fill(w.data(), {64, 32}, rng);
//
// Every fill validates first (buffer size == product of the shape, the rule's own shape and
// parameter checks) and throws std::invalid_argument before writing anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mxopt/dtype.h"
#include "mxopt/random.h"

namespace mxopt::init {

using Shape = std::vector<std::int64_t>;
using random::Buffer;
using random::Generator;

// Number of elements of `shape` (1 for the empty shape); std::invalid_argument on a negative dim.
std::size_t numel(const Shape& shape);
// "(2, 3)" / "(5,)": Python's tuple spelling, used in error messages.
std::string shape_str(const Shape& shape);

class Initializer {
 public:
  virtual ~Initializer() = default;

  // The weight rule of this initializer (MXNet's _init_weight).
  virtual void fill(Buffer out, const Shape& shape, Generator& rng) const = 0;

  template <class T>
  void fill(T* data, const Shape& shape, Generator& rng) const {
    fill(Buffer(data, numel(shape)), shape, rng);
  }
  // Draws from random::global() (what mx.random.seed seeds).
  void fill(Buffer out, const Shape& shape) const { fill(out, shape, random::global()); }

 protected:
  static void check_buffer(const Buffer& out, const Shape& shape);
};

// out[:] = value (cast to the element type; float16 via float32, as MXNet casts).
void fill_value(Buffer out, double value);

// Every element = value.
class Constant : public Initializer {
 public:
  explicit Constant(double value) : value(value) {}
  void fill(Buffer out, const Shape& shape, Generator& rng) const override;
  using Initializer::fill;
  double value;
};

class Zero : public Constant {
 public:
  Zero() : Constant(0.0) {}
};

class One : public Constant {
 public:
  One() : Constant(1.0) {}
};

// U(-scale, scale): one uniform call over the whole array.
class Uniform : public Initializer {
 public:
  explicit Uniform(double scale = 0.07) : scale(scale) {}
  void fill(Buffer out, const Shape& shape, Generator& rng) const override;
  using Initializer::fill;
  double scale;
};

// N(0, sigma^2): one normal call over the whole array.
class Normal : public Initializer {
 public:
  explicit Normal(double sigma = 0.01) : sigma(sigma) {}
  void fill(Buffer out, const Shape& shape, Generator& rng) const override;
  using Initializer::fill;
  double sigma;
};

// Xavier/Glorot: c = sqrt(magnitude / factor) with hw = prod(shape[2:]), fan_in = shape[1] * hw,
// fan_out = shape[0] * hw and factor = (fan_in + fan_out) / 2 ("avg"), fan_in ("in") or fan_out
// ("out"); then U(-c, c) ("uniform") or N(0, c^2) ("gaussian"). Needs >= 2 dimensions.
class Xavier : public Initializer {
 public:
  explicit Xavier(std::string rnd_type = "uniform", std::string factor_type = "avg",
                  double magnitude = 3.0)
      : rnd_type(std::move(rnd_type)), factor_type(std::move(factor_type)), magnitude(magnitude) {}
  void fill(Buffer out, const Shape& shape, Generator& rng) const override;
  using Initializer::fill;
  // c for `shape`, after MXNet's checks (rank, then factor_type, then rnd_type).
  double scale_for(const Shape& shape) const;

  std::string rnd_type;
  std::string factor_type;
  double magnitude;
};

// He/Kaiming for PReLU: Xavier("gaussian", factor_type, 2 / (1 + slope^2)).
class MSRAPrelu : public Xavier {
 public:
  explicit MSRAPrelu(std::string factor_type = "avg", double slope = 0.25)
      : Xavier("gaussian", std::move(factor_type), 2.0 / (1.0 + slope * slope)), slope(slope) {}
  double slope;
};

// Draws T (nout x nin, nout = shape[0], nin = prod(shape[1:])) as float32 from U(-1, 1)
// ("uniform") or N(0, 1) ("normal"), takes T = U S V^T (thin SVD, Eigen, float32) and fills
// scale * U if nout >= nin else scale * V^T: orthonormal columns or rows times `scale`.
// Singular vectors are unique up to sign only, so signs may differ from MXNet's LAPACK SVD.
class Orthogonal : public Initializer {
 public:
  explicit Orthogonal(double scale = 1.414, std::string rand_type = "uniform")
      : scale(scale), rand_type(std::move(rand_type)) {}
  void fill(Buffer out, const Shape& shape, Generator& rng) const override;
  using Initializer::fill;
  double scale;
  std::string rand_type;
};

// Bilinear upsampling kernel (>= 4 dimensions): element i (C order) gets
// (1 - |x / f - c|) (1 - |y / f - c|) with x = i % w, y = (i / w) % h, f = ceil(w / 2),
// c = (2f - 1 - f % 2) / (2f), w = shape[3], h = shape[2].
class Bilinear : public Initializer {
 public:
  void fill(Buffer out, const Shape& shape, Generator& rng) const override;
  using Initializer::fill;
};

// LSTM bias: 0 everywhere except rows [h, 2h) of axis 0 (the forget gate), h = shape[0] / 4.
class LSTMBias : public Initializer {
 public:
  explicit LSTMBias(double forget_bias = 1.0) : forget_bias(forget_bias) {}
  void fill(Buffer out, const Shape& shape, Generator& rng) const override;
  using Initializer::fill;
  double forget_bias;
};

}  // namespace mxopt::init
