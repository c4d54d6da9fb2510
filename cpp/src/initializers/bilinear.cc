// Bilinear upsampling kernel (deterministic).
#include <cmath>
#include <stdexcept>

#include "../random/simd.h"
#include "mxopt/initializer.h"

namespace mxopt::init {

namespace {
template <class T, class Store>
void bilinear(T* p, std::size_t n, std::size_t w, std::size_t h, Store store) {
  const double f = std::ceil(static_cast<double>(w) / 2.0);
  const double c = (2.0 * f - 1.0 - std::fmod(f, 2.0)) / (2.0 * f);
#pragma omp parallel for schedule(static) if (static_cast<long>(n) >= detail::kParallelMinElements)
  for (long i = 0; i < static_cast<long>(n); ++i) {
    const std::size_t k = static_cast<std::size_t>(i);
    const double x = static_cast<double>(k % w), y = static_cast<double>((k / w) % h);
    const double v = (1.0 - std::fabs(x / f - c)) * (1.0 - std::fabs(y / f - c));
    p[k] = store(static_cast<float>(v));  // MXNet builds the kernel in float32
  }
}
}  // namespace

void Bilinear::fill(Buffer out, const Shape& shape, Generator&) const {
  check_buffer(out, shape);
  if (shape.size() < 4)
    throw std::invalid_argument("Bilinear initializer needs a 4-D shape (N, C, H, W), got " +
                                shape_str(shape));
  const std::size_t w = static_cast<std::size_t>(shape[3]), h = static_cast<std::size_t>(shape[2]);
  if (out.size == 0) return;
  switch (out.dtype) {
    case DType::kFloat32:
      bilinear(static_cast<float*>(out.data), out.size, w, h, [](float v) { return v; });
      break;
    case DType::kFloat64:
      bilinear(static_cast<double*>(out.data), out.size, w, h,
               [](float v) { return static_cast<double>(v); });
      break;
    case DType::kFloat16:
      bilinear(static_cast<Half*>(out.data), out.size, w, h, [](float v) { return to_half(v); });
      break;
  }
}

}  // namespace mxopt::init
