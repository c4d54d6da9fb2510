// Shared checks and the process-wide generator.
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "mxopt/random.h"

namespace mxopt::random {

void Generator::check_uniform(double low, double high) {
  if (!std::isfinite(low) || !std::isfinite(high) || !(high >= low)) {
    std::ostringstream msg;
    msg << "uniform: low must be less or equal to high and both finite, got low=" << low
        << ", high=" << high;
    throw std::invalid_argument(msg.str());
  }
}

void Generator::check_normal(double scale) {
  if (!std::isfinite(scale) || !(scale > 0)) {
    std::ostringstream msg;
    msg << "normal: scale must be positive and finite, got scale=" << scale;
    throw std::invalid_argument(msg.str());
  }
}

namespace {
struct GlobalState {
  MXNetGenerator mxnet{0};
  PhiloxGenerator philox{0};
  Generator* current = &mxnet;
  std::mutex mu;
};
GlobalState& state() {
  static GlobalState s;
  return s;
}
}  // namespace

Generator& global() {
  GlobalState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return *s.current;
}

void seed_global(std::uint64_t seed, const std::string& kind) {
  GlobalState& s = state();
  Generator* g;
  if (kind == "mxnet") {
    g = &s.mxnet;
  } else if (kind == "philox") {
    g = &s.philox;
  } else {
    throw std::invalid_argument("generator must be 'mxnet' or 'philox', got '" + kind + "'");
  }
  g->seed(seed);
  std::lock_guard<std::mutex> lock(s.mu);
  s.current = g;
}

}  // namespace mxopt::random
