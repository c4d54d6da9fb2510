// Learning-rate schedulers with MXNet 1.9.1 semantics (stateful, double precision).
//
// Every scheduler is called as `sched(num_update)` and may mutate its own state
// (base_lr, count, ...), exactly like mxnet.lr_scheduler. The evaluation order of each
// formula follows MXNet's Python code so that results are bit-identical doubles.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mxopt {

// Thrown where Python would raise ZeroDivisionError (0/0, x/0, 0.0 ** negative).
class ZeroDivisionError : public std::domain_error {
 public:
  using std::domain_error::domain_error;
};

// Thrown where MXNet uses a bare `assert` (Python AssertionError).
class AssertionError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class LRScheduler {
 public:
  // Receives MXNet's INFO log lines ("Update[%d]: Change learning rate to %0.5e").
  using LogFn = std::function<void(const std::string&)>;

  // Validates like MXNet (std::invalid_argument for its ValueErrors).
  explicit LRScheduler(double base_lr = 0.01, std::int64_t warmup_steps = 0,
                       double warmup_begin_lr = 0.0, std::string warmup_mode = "linear");
  virtual ~LRScheduler() = default;

  // Learning rate for update `num_update`; may advance internal state.
  virtual double operator()(std::int64_t num_update);

  // Warmup value; requires num_update < warmup_steps (AssertionError otherwise).
  double get_warmup_lr(std::int64_t num_update) const;

  void set_logger(LogFn fn) { log_ = std::move(fn); }

  double base_lr;
  std::int64_t warmup_steps;
  double warmup_begin_lr;
  double warmup_final_lr;
  std::string warmup_mode;

 protected:
  void log(const std::string& msg) const {
    if (log_) log_(msg);
  }

 private:
  LogFn log_;
};

// lr = base_lr * factor^k, k = number of times n passed count+step; floored at stop_factor_lr.
class FactorScheduler : public LRScheduler {
 public:
  FactorScheduler(double step, double factor = 1.0, double stop_factor_lr = 1e-8,
                  double base_lr = 0.01, std::int64_t warmup_steps = 0,
                  double warmup_begin_lr = 0.0, std::string warmup_mode = "linear");
  double operator()(std::int64_t num_update) override;

  double step;
  double factor;
  double stop_factor_lr;
  double count = 0.0;
};

// lr = base_lr * factor^k, k = number of milestones strictly below n.
class MultiFactorScheduler : public LRScheduler {
 public:
  MultiFactorScheduler(std::vector<double> step, double factor = 1.0,
                       double base_lr = 0.01, std::int64_t warmup_steps = 0,
                       double warmup_begin_lr = 0.0, std::string warmup_mode = "linear");
  double operator()(std::int64_t num_update) override;

  std::vector<double> step;
  std::size_t cur_step_ind = 0;
  double factor;
  double count = 0.0;
};

// Polynomial decay from base_lr_orig to final_lr over [warmup_steps, max_update].
class PolyScheduler : public LRScheduler {
 public:
  PolyScheduler(std::int64_t max_update, double base_lr = 0.01, double pwr = 2.0,
                double final_lr = 0.0, std::int64_t warmup_steps = 0,
                double warmup_begin_lr = 0.0, std::string warmup_mode = "linear");
  double operator()(std::int64_t num_update) override;

  double power;
  double base_lr_orig;
  std::int64_t max_update;
  double final_lr;
  std::int64_t max_steps;
};

// Half-cosine decay from base_lr_orig to final_lr over [warmup_steps, max_update].
class CosineScheduler : public LRScheduler {
 public:
  CosineScheduler(std::int64_t max_update, double base_lr = 0.01, double final_lr = 0.0,
                  std::int64_t warmup_steps = 0, double warmup_begin_lr = 0.0,
                  std::string warmup_mode = "linear");
  double operator()(std::int64_t num_update) override;

  double base_lr_orig;
  std::int64_t max_update;
  double final_lr;
  std::int64_t max_steps;
};

}  // namespace mxopt
