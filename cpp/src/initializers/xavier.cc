// Xavier / MSRAPrelu: fan-based scale, then one uniform or normal draw.
#include <cmath>
#include <stdexcept>

#include "mxopt/initializer.h"

namespace mxopt::init {

double Xavier::scale_for(const Shape& shape) const {
  if (shape.size() < 2)
    throw std::invalid_argument("Xavier initializer cannot be applied to vector of shape " +
                                shape_str(shape) + ". It requires at least 2D.");
  double hw = 1.0;
  for (std::size_t i = 2; i < shape.size(); ++i) hw *= static_cast<double>(shape[i]);
  const double fan_in = static_cast<double>(shape[1]) * hw;
  const double fan_out = static_cast<double>(shape[0]) * hw;
  double factor;
  if (factor_type == "avg") {
    factor = (fan_in + fan_out) / 2.0;
  } else if (factor_type == "in") {
    factor = fan_in;
  } else if (factor_type == "out") {
    factor = fan_out;
  } else {
    throw std::invalid_argument("Incorrect factor type");
  }
  if (rnd_type != "uniform" && rnd_type != "gaussian")
    throw std::invalid_argument("Unknown random type");
  return std::sqrt(magnitude / factor);
}

void Xavier::fill(Buffer out, const Shape& shape, Generator& rng) const {
  check_buffer(out, shape);
  const double c = scale_for(shape);
  if (rnd_type == "uniform") {
    rng.uniform(-c, c, out);
  } else {
    rng.normal(0.0, c, out);
  }
}

}  // namespace mxopt::init
