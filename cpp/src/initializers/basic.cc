// Shape helpers, constant fills and the plain random initializers (Uniform, Normal).
#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "../random/simd.h"
#include "mxopt/initializer.h"

namespace mxopt::init {

std::size_t numel(const Shape& shape) {
  std::size_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("negative dimension in shape " + shape_str(shape));
    n *= static_cast<std::size_t>(d);
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream s;
  s << "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) s << ",";
  s << ")";
  return s.str();
}

void Initializer::check_buffer(const Buffer& out, const Shape& shape) {
  const std::size_t n = numel(shape);
  if (out.size != n) {
    std::ostringstream s;
    s << "buffer of " << out.size << " elements does not match shape " << shape_str(shape)
      << " (" << n << " elements)";
    throw std::invalid_argument(s.str());
  }
  if (out.data == nullptr && n > 0) throw std::invalid_argument("null buffer");
}

namespace {
template <class T>
void fill_n(T* p, std::size_t n, T v) {
  const long chunks = static_cast<long>((n + 65535) / 65536);
#pragma omp parallel for schedule(static) if (static_cast<long>(n) >= detail::kParallelMinElements)
  for (long c = 0; c < chunks; ++c) {
    const std::size_t b = static_cast<std::size_t>(c) * 65536;
    std::fill(p + b, p + std::min(n, b + 65536), v);
  }
}
}  // namespace

void fill_value(Buffer out, double value) {
  switch (out.dtype) {
    case DType::kFloat32: fill_n(static_cast<float*>(out.data), out.size, static_cast<float>(value)); break;
    case DType::kFloat64: fill_n(static_cast<double*>(out.data), out.size, value); break;
    case DType::kFloat16:
      fill_n(static_cast<Half*>(out.data), out.size, to_half(static_cast<float>(value)));
      break;
  }
}

void Constant::fill(Buffer out, const Shape& shape, Generator&) const {
  check_buffer(out, shape);
  fill_value(out, value);
}

void Uniform::fill(Buffer out, const Shape& shape, Generator& rng) const {
  check_buffer(out, shape);
  rng.uniform(-scale, scale, out);
}

void Normal::fill(Buffer out, const Shape& shape, Generator& rng) const {
  check_buffer(out, shape);
  rng.normal(0.0, sigma, out);
}

void LSTMBias::fill(Buffer out, const Shape& shape, Generator&) const {
  check_buffer(out, shape);
  if (shape.empty()) throw std::invalid_argument("LSTMBias needs at least 1 dimension");
  fill_value(out, 0.0);
  const std::size_t rows = static_cast<std::size_t>(shape[0]);
  const std::size_t row = rows == 0 ? 0 : out.size / rows;
  const std::size_t h = rows / 4;
  const std::size_t es = dtype_size(out.dtype);
  Buffer gate(static_cast<char*>(out.data) + h * row * es, out.dtype, h * row);
  fill_value(gate, forget_bias);
}

}  // namespace mxopt::init
