#include "mxopt/lr_scheduler.h"

#include <cmath>
#include <cstdio>

namespace mxopt {
namespace {

// Python's `a / b` for floats: raises instead of producing inf/nan.
double py_div(double a, double b) {
  if (b == 0.0) throw ZeroDivisionError("float division by zero");
  return a / b;
}

// Python's float `**`: 0.0 ** negative raises.
double py_pow(double base, double exp) {
  if (base == 0.0 && exp < 0.0)
    throw ZeroDivisionError("0.0 cannot be raised to a negative power");
  return std::pow(base, exp);
}

std::string format_lr(const char* fmt, std::int64_t n, double lr) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), fmt, static_cast<long long>(n), lr);
  return buf;
}

}  // namespace

LRScheduler::LRScheduler(double base_lr_, std::int64_t warmup_steps_, double warmup_begin_lr_,
                         std::string warmup_mode_)
    : base_lr(base_lr_),
      warmup_steps(warmup_steps_),
      warmup_begin_lr(warmup_begin_lr_),
      warmup_final_lr(base_lr_),
      warmup_mode(std::move(warmup_mode_)) {
  if (warmup_begin_lr > warmup_final_lr)
    throw std::invalid_argument("Base lr has to be higher than warmup_begin_lr");
  if (warmup_steps < 0) throw std::invalid_argument("Warmup steps has to be positive or 0");
  if (warmup_mode != "linear" && warmup_mode != "constant")
    throw std::invalid_argument("Supports only linear and constant modes of warmup");
}

double LRScheduler::operator()(std::int64_t) {
  throw std::logic_error("must override this");
}

double LRScheduler::get_warmup_lr(std::int64_t num_update) const {
  if (!(num_update < warmup_steps))
    throw AssertionError("get_warmup_lr requires num_update < warmup_steps");
  if (warmup_mode == "linear") {
    // begin + (((final - begin) * n) / W), left to right as in MXNet.
    double inc = (warmup_final_lr - warmup_begin_lr) * static_cast<double>(num_update);
    return warmup_begin_lr + py_div(inc, static_cast<double>(warmup_steps));
  }
  if (warmup_mode == "constant") return warmup_begin_lr;
  throw std::invalid_argument("Invalid warmup mode " + warmup_mode);
}

FactorScheduler::FactorScheduler(double step_, double factor_, double stop_factor_lr_,
                                 double base_lr_, std::int64_t warmup_steps_,
                                 double warmup_begin_lr_, std::string warmup_mode_)
    : LRScheduler(base_lr_, warmup_steps_, warmup_begin_lr_, std::move(warmup_mode_)),
      step(step_),
      factor(factor_),
      stop_factor_lr(stop_factor_lr_) {
  if (step < 1) throw std::invalid_argument("Schedule step must be greater or equal than 1 round");
  if (factor > 1.0) throw std::invalid_argument("Factor must be no more than 1 to make lr reduce");
}

double FactorScheduler::operator()(std::int64_t num_update) {
  if (num_update < warmup_steps) return get_warmup_lr(num_update);
  const double n = static_cast<double>(num_update);
  while (n > count + step) {
    count += step;
    base_lr *= factor;
    if (base_lr < stop_factor_lr) {
      base_lr = stop_factor_lr;
      log(format_lr("Update[%lld]: now learning rate arrived at %0.5e, will not change in the future",
                    num_update, base_lr));
    } else {
      log(format_lr("Update[%lld]: Change learning rate to %0.5e", num_update, base_lr));
    }
  }
  return base_lr;
}

MultiFactorScheduler::MultiFactorScheduler(std::vector<double> step_, double factor_,
                                           double base_lr_, std::int64_t warmup_steps_,
                                           double warmup_begin_lr_, std::string warmup_mode_)
    : LRScheduler(base_lr_, warmup_steps_, warmup_begin_lr_, std::move(warmup_mode_)),
      step(std::move(step_)),
      factor(factor_) {
  if (step.empty()) throw AssertionError("step must be a non-empty list");
  for (std::size_t i = 0; i < step.size(); ++i) {
    if (i != 0 && step[i] <= step[i - 1])
      throw std::invalid_argument("Schedule step must be an increasing integer list");
    if (step[i] < 1)
      throw std::invalid_argument("Schedule step must be greater or equal than 1 round");
  }
  if (factor > 1.0) throw std::invalid_argument("Factor must be no more than 1 to make lr reduce");
}

double MultiFactorScheduler::operator()(std::int64_t num_update) {
  if (num_update < warmup_steps) return get_warmup_lr(num_update);
  const double n = static_cast<double>(num_update);
  while (cur_step_ind < step.size() && n > step[cur_step_ind]) {
    count = step[cur_step_ind];
    ++cur_step_ind;
    base_lr *= factor;
    log(format_lr("Update[%lld]: Change learning rate to %0.5e", num_update, base_lr));
  }
  return base_lr;
}

PolyScheduler::PolyScheduler(std::int64_t max_update_, double base_lr_, double pwr,
                             double final_lr_, std::int64_t warmup_steps_,
                             double warmup_begin_lr_, std::string warmup_mode_)
    : LRScheduler(base_lr_, warmup_steps_, warmup_begin_lr_, std::move(warmup_mode_)),
      power(pwr),
      base_lr_orig(base_lr_),
      max_update(max_update_),
      final_lr(final_lr_),
      max_steps(max_update_ - warmup_steps_) {
  if (max_update < 1)
    throw std::invalid_argument("maximum number of updates must be strictly positive");
}

double PolyScheduler::operator()(std::int64_t num_update) {
  if (num_update < warmup_steps) return get_warmup_lr(num_update);
  if (num_update <= max_update) {
    double frac = py_div(static_cast<double>(num_update - warmup_steps),
                         static_cast<double>(max_steps));
    base_lr = final_lr + (base_lr_orig - final_lr) * py_pow(1.0 - frac, power);
  }
  return base_lr;
}

CosineScheduler::CosineScheduler(std::int64_t max_update_, double base_lr_, double final_lr_,
                                 std::int64_t warmup_steps_, double warmup_begin_lr_,
                                 std::string warmup_mode_)
    : LRScheduler(base_lr_, warmup_steps_, warmup_begin_lr_, std::move(warmup_mode_)),
      base_lr_orig(base_lr_),
      max_update(max_update_),
      final_lr(final_lr_),
      max_steps(max_update_ - warmup_steps_) {
  if (max_update < 1)
    throw std::invalid_argument("maximum number of updates must be strictly positive");
}

double CosineScheduler::operator()(std::int64_t num_update) {
  if (num_update < warmup_steps) return get_warmup_lr(num_update);
  if (num_update <= max_update) {
    const double pi = 3.141592653589793;
    double angle = py_div(pi * static_cast<double>(num_update - warmup_steps),
                          static_cast<double>(max_steps));
    base_lr = final_lr + ((base_lr_orig - final_lr) * (1.0 + std::cos(angle))) / 2.0;
  }
  return base_lr;
}

}  // namespace mxopt
