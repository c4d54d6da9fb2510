// Optimizers usable from C++ alone (no Python): MXNet 1.9.1's hyper-parameters and bookkeeping
// around the kernels of mxopt/optimizers/*.h.
//
//   mxopt::OptimizerOptions o;
//   o.learning_rate = 1e-3;
//   o.wd = 1e-4;
//   mxopt::Adam opt(o);
//   opt.set_lr_mult(/*index=*/1, 0.1);                 // per-parameter multipliers
//   for (step ...) opt.update(/*index=*/0, w.data(), g.data(), w.size());
//
// Each optimizer keeps one state per parameter index (created at the first update), counts
// updates per index (starting at begin_num_update, like MXNet, so bias corrections use t >= 1),
// and asks an optional LRScheduler for the base rate with the current num_update. The numbers
// are those of mx.optimizer with the Updater's default (aggregated) calls: every hyper-parameter
// reaches the kernels exactly as MXNet's operators receive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mxopt/lr_scheduler.h"

namespace mxopt {

// MXNet's Optimizer base-class arguments.
struct OptimizerOptions {
  double learning_rate = 0.01;  // the base rate when no scheduler is set
  double wd = 0.0;
  double rescale_grad = 1.0;
  std::optional<double> clip_gradient;  // unset: no clipping
  std::int64_t begin_num_update = 0;
  std::shared_ptr<LRScheduler> lr_scheduler;  // called with num_update when set
};

class Optimizer {
 public:
  explicit Optimizer(const OptimizerOptions& options);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One step for parameter `index`: weight[0..n) updated in place from grad[0..n).
  // Throws std::invalid_argument if `n` differs from the size this index was first seen with.
  void update(int index, float* weight, const float* grad, std::size_t n);
  void update(int index, double* weight, const double* grad, std::size_t n);

  // The base rate: scheduler(num_update) if a scheduler is set, else the learning rate.
  double learning_rate() const;
  // Throws std::logic_error when a scheduler is set (MXNet raises too).
  void set_learning_rate(double lr);

  // Per-parameter multipliers (an index entry wins over a name entry, as in MXNet).
  void set_lr_mult(int index, double mult) { lr_mult_[index] = mult; }
  void set_wd_mult(int index, double mult) { wd_mult_[index] = mult; }
  void set_lr_mult(const std::string& name, double mult) { lr_mult_by_name_[name] = mult; }
  void set_wd_mult(const std::string& name, double mult) { wd_mult_by_name_[name] = mult; }
  // Names parameters; like MXNet's param_idx2name, names not ending in _weight/_gamma get
  // wd multiplier 0 unless set explicitly.
  void set_param_name(int index, const std::string& name) { idx2name_[index] = name; }

  double effective_lr(int index) const;  // base rate times the index's multiplier
  double effective_wd(int index) const;

  std::int64_t num_update() const { return num_update_; }
  std::int64_t update_count(int index) const;  // begin_num_update + updates of `index`

  // The state buffers of an index (empty before its first update), e.g. for checkpoints.
  std::vector<std::vector<float>>& states_f32(int index) { return f32_[index]; }
  std::vector<std::vector<double>>& states_f64(int index) { return f64_[index]; }

  double wd = 0.0;
  double rescale_grad = 1.0;
  std::optional<double> clip_gradient;
  std::shared_ptr<LRScheduler> lr_scheduler;

 protected:
  struct Step {
    double lr;  // effective rate of this call (scheduler and multiplier applied)
    double wd;  // effective weight decay
    std::int64_t t;  // update count of the index after this call's increment
  };
  // Number of state buffers (each of the weight's size) the optimizer needs.
  virtual std::size_t state_count() const = 0;
  virtual void apply(const Step& s, float* w, const float* g, float* const* st, std::size_t n) = 0;
  virtual void apply(const Step& s, double* w, const double* g, double* const* st,
                     std::size_t n) = 0;

  // Hyper-parameter conversions of MXNet's operators (see optimizers/common.h).
  float kernel_clip() const;  // K-clip: value if set and non-zero, else -1 (off)

 private:
  template <class T>
  void update_impl(int index, T* weight, const T* grad, std::size_t n,
                   std::map<int, std::vector<std::vector<T>>>& states);
  Step begin_step(int index);
  double mult(const std::map<int, double>& by_index,
              const std::map<std::string, double>& by_name, int index, bool wd) const;

  double lr_;
  std::int64_t begin_num_update_;
  std::int64_t num_update_;
  std::map<int, std::int64_t> counts_;
  std::map<int, std::size_t> sizes_;  // element count of each index (fixed at first update)
  std::map<int, double> lr_mult_, wd_mult_;
  std::map<std::string, double> lr_mult_by_name_, wd_mult_by_name_;
  std::map<int, std::string> idx2name_;
  std::map<int, std::vector<std::vector<float>>> f32_;
  std::map<int, std::vector<std::vector<double>>> f64_;
};

// Implements the two virtual apply() overloads with one template `run<T>` of Derived.
template <class Derived>
class OptimizerBase : public Optimizer {
 public:
  using Optimizer::Optimizer;

 protected:
  void apply(const Step& s, float* w, const float* g, float* const* st, std::size_t n) override {
    static_cast<Derived*>(this)->run(s, w, g, st, n);
  }
  void apply(const Step& s, double* w, const double* g, double* const* st,
             std::size_t n) override {
    static_cast<Derived*>(this)->run(s, w, g, st, n);
  }
};

// SGD with momentum (MXNet's multi-tensor SGD kernels; momentum state iff momentum != 0).
class SGD : public OptimizerBase<SGD> {
 public:
  explicit SGD(const OptimizerOptions& o = {}, double momentum = 0.0)
      : OptimizerBase(o), momentum(momentum) {}
  double momentum;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return momentum != 0.0 ? 1 : 0; }
};

// Nesterov momentum (MXNet's nag_mom_update; plain SGD without momentum).
class NAG : public OptimizerBase<NAG> {
 public:
  explicit NAG(const OptimizerOptions& o = {}, double momentum = 0.0)
      : OptimizerBase(o), momentum(momentum) {}
  double momentum;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return momentum != 0.0 ? 1 : 0; }
};

// Adam (learning rate bias-corrected by sqrt(1-beta2^t)/(1-beta1^t)).
class Adam : public OptimizerBase<Adam> {
 public:
  explicit Adam(const OptimizerOptions& o = with_lr(0.001), double beta1 = 0.9,
                double beta2 = 0.999, double epsilon = 1e-8)
      : OptimizerBase(o), beta1(beta1), beta2(beta2), epsilon(epsilon) {}
  double beta1, beta2, epsilon;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);
  static OptimizerOptions with_lr(double lr) {
    OptimizerOptions o;
    o.learning_rate = lr;
    return o;
  }

 protected:
  std::size_t state_count() const override { return 2; }
};

// AdamW (decoupled weight decay, MXNet 2.0's fused multi-tensor kernel).
class AdamW : public OptimizerBase<AdamW> {
 public:
  explicit AdamW(const OptimizerOptions& o = Adam::with_lr(0.001), double beta1 = 0.9,
                 double beta2 = 0.999, double epsilon = 1e-6, bool correct_bias = true)
      : OptimizerBase(o), beta1(beta1), beta2(beta2), epsilon(epsilon),
        correct_bias(correct_bias) {}
  double beta1, beta2, epsilon;
  bool correct_bias;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return 2; }
};

// AdaGrad (dense; float32 in MXNet, float64 accepted here).
class AdaGrad : public OptimizerBase<AdaGrad> {
 public:
  explicit AdaGrad(const OptimizerOptions& o = {}, double eps = 1e-7)
      : OptimizerBase(o), eps(eps) {}
  double eps;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return 1; }
};

// RMSProp, plain or centered, with optional weight clipping.
class RMSProp : public OptimizerBase<RMSProp> {
 public:
  explicit RMSProp(const OptimizerOptions& o = Adam::with_lr(0.001), double gamma1 = 0.9,
                   double gamma2 = 0.9, double epsilon = 1e-8, bool centered = false,
                   std::optional<double> clip_weights = std::nullopt)
      : OptimizerBase(o), gamma1(gamma1), gamma2(gamma2), epsilon(epsilon), centered(centered),
        clip_weights(clip_weights) {}
  double gamma1, gamma2, epsilon;
  bool centered;
  std::optional<double> clip_weights;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return centered ? 3 : 1; }
};

// AdaDelta (no learning rate). Like MXNet it rescales the gradient in place, so the gradient
// buffer must be writable: it is taken as const here and copied first.
class AdaDelta : public OptimizerBase<AdaDelta> {
 public:
  explicit AdaDelta(const OptimizerOptions& o = {}, double rho = 0.9, double epsilon = 1e-5)
      : OptimizerBase(o), rho(rho), epsilon(epsilon) {}
  double rho, epsilon;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return 2; }
};

// FTRL-proximal.
class Ftrl : public OptimizerBase<Ftrl> {
 public:
  explicit Ftrl(const OptimizerOptions& o = Adam::with_lr(0.1), double lamda1 = 0.01,
                double beta = 1.0)
      : OptimizerBase(o), lamda1(lamda1), beta(beta) {}
  double lamda1, beta;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return 2; }
};

// Adamax (infinity norm; no epsilon, as in MXNet).
class Adamax : public OptimizerBase<Adamax> {
 public:
  explicit Adamax(const OptimizerOptions& o = Adam::with_lr(0.002), double beta1 = 0.9,
                  double beta2 = 0.999)
      : OptimizerBase(o), beta1(beta1), beta2(beta2) {}
  double beta1, beta2;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return 2; }
};

// Nadam (the momentum schedule product is shared by all parameters, as in MXNet).
class Nadam : public OptimizerBase<Nadam> {
 public:
  explicit Nadam(const OptimizerOptions& o = Adam::with_lr(0.001), double beta1 = 0.9,
                 double beta2 = 0.999, double epsilon = 1e-8, double schedule_decay = 0.004)
      : OptimizerBase(o), beta1(beta1), beta2(beta2), epsilon(epsilon),
        schedule_decay(schedule_decay) {}
  double beta1, beta2, epsilon, schedule_decay;
  double m_schedule = 1.0;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return 2; }
};

// FTML.
class FTML : public OptimizerBase<FTML> {
 public:
  explicit FTML(const OptimizerOptions& o = {}, double beta1 = 0.6,
                double beta2 = 0.999, double epsilon = 1e-8)
      : OptimizerBase(o), beta1(beta1), beta2(beta2), epsilon(epsilon) {}
  double beta1, beta2, epsilon;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return 3; }
};

// Signum (momentum != 0) / signSGD (momentum == 0).
class Signum : public OptimizerBase<Signum> {
 public:
  explicit Signum(const OptimizerOptions& o = {}, double momentum = 0.9, double wd_lh = 0.0)
      : OptimizerBase(o), momentum(momentum), wd_lh(wd_lh) {}
  double momentum, wd_lh;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return momentum != 0.0 ? 1 : 0; }
};

// LAMB (MXNet's multi-tensor path, the one its Updater uses).
class LAMB : public OptimizerBase<LAMB> {
 public:
  explicit LAMB(const OptimizerOptions& o = Adam::with_lr(0.001), double beta1 = 0.9,
                double beta2 = 0.999, double epsilon = 1e-6,
                std::optional<double> lower_bound = std::nullopt,
                std::optional<double> upper_bound = std::nullopt, bool bias_correction = true)
      : OptimizerBase(o), beta1(beta1), beta2(beta2), epsilon(epsilon),
        lower_bound(lower_bound), upper_bound(upper_bound), bias_correction(bias_correction) {}
  double beta1, beta2, epsilon;
  std::optional<double> lower_bound, upper_bound;
  bool bias_correction;
  template <class T>
  void run(const Step& s, T* w, const T* g, T* const* st, std::size_t n);

 protected:
  std::size_t state_count() const override { return 2; }
};

}  // namespace mxopt
