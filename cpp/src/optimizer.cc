// The embeddable optimizer classes (mxopt/optimizer.h): MXNet's bookkeeping around the kernels.
#include "mxopt/optimizer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "mxopt/optimizers.h"

namespace mxopt {
namespace {

namespace k = kernels;

// A value MXNet reads from a float tuple/array: the nearest float.
float f32(double x) { return static_cast<float>(x); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

k::PClip pclip(const std::optional<double>& c) {
  k::PClip p;
  if (c) {
    p.active = true;
    p.hi = mxnet_float(*c);
    p.lo = -p.hi;
  }
  return p;
}

}  // namespace

Optimizer::Optimizer(const OptimizerOptions& o)
    : wd(o.wd),
      rescale_grad(o.rescale_grad),
      clip_gradient(o.clip_gradient),
      lr_scheduler(o.lr_scheduler),
      lr_(o.learning_rate),
      begin_num_update_(o.begin_num_update),
      num_update_(o.begin_num_update) {}

double Optimizer::learning_rate() const {
  return lr_scheduler ? (*lr_scheduler)(num_update_) : lr_;
}

void Optimizer::set_learning_rate(double lr) {
  if (lr_scheduler)
    throw std::logic_error(
        "LRScheduler of the optimizer has already been defined; set_learning_rate can only "
        "change the rate of an optimizer without a scheduler");
  lr_ = lr;
}

std::int64_t Optimizer::update_count(int index) const {
  const auto it = counts_.find(index);
  return it == counts_.end() ? begin_num_update_ : it->second;
}

double Optimizer::mult(const std::map<int, double>& by_index,
                       const std::map<std::string, double>& by_name, int index, bool is_wd) const {
  if (const auto it = by_index.find(index); it != by_index.end()) return it->second;
  const auto nit = idx2name_.find(index);
  if (nit == idx2name_.end()) return 1.0;
  if (const auto it = by_name.find(nit->second); it != by_name.end()) return it->second;
  // MXNet's default: no weight decay for named parameters that are not weights/gammas.
  if (is_wd && !(ends_with(nit->second, "_weight") || ends_with(nit->second, "_gamma")))
    return 0.0;
  return 1.0;
}

double Optimizer::effective_lr(int index) const {
  return learning_rate() * mult(lr_mult_, lr_mult_by_name_, index, false);
}

double Optimizer::effective_wd(int index) const {
  return wd * mult(wd_mult_, wd_mult_by_name_, index, true);
}

Optimizer::Step Optimizer::begin_step(int index) {
  auto it = counts_.find(index);
  if (it == counts_.end()) it = counts_.emplace(index, begin_num_update_).first;
  ++it->second;
  num_update_ = std::max(num_update_, it->second);
  return Step{effective_lr(index), effective_wd(index), it->second};
}

float Optimizer::kernel_clip() const {
  return (clip_gradient && *clip_gradient != 0.0) ? mxnet_float(*clip_gradient) : k::kNoClip;
}

template <class T>
void Optimizer::update_impl(int index, T* weight, const T* grad, std::size_t n,
                            std::map<int, std::vector<std::vector<T>>>& states) {
  const auto known = sizes_.find(index);
  if (known != sizes_.end() && known->second != n)
    throw std::invalid_argument("Optimizer::update: parameter " + std::to_string(index) +
                                " has " + std::to_string(n) + " elements but was first updated " +
                                "with " + std::to_string(known->second));
  sizes_[index] = n;
  auto& st = states[index];
  if (st.empty()) st.assign(state_count(), std::vector<T>(n, T(0)));
  std::vector<T*> ptrs;
  for (auto& v : st) ptrs.push_back(v.data());
  const Step s = begin_step(index);
  apply(s, weight, grad, ptrs.data(), n);
}

void Optimizer::update(int index, float* weight, const float* grad, std::size_t n) {
  update_impl(index, weight, grad, n, f32_);
}

void Optimizer::update(int index, double* weight, const double* grad, std::size_t n) {
  update_impl(index, weight, grad, n, f64_);
}

// ---- the optimizers ------------------------------------------------------------------------------
template <class T>
void SGD::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::SGDParams p;
  p.lr = f32(s.lr);  // multi_sgd_update reads lr/wd from float tuples
  p.wd = f32(s.wd);
  p.rescale_grad = mxnet_float(rescale_grad);
  p.clip_gradient = kernel_clip();
  p.momentum = momentum > 0 ? mxnet_float(momentum) : 0.0f;
  k::sgd_mom_update(w, g, momentum > 0 ? st[0] : nullptr, n, p);
}

template <class T>
void NAG::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::SGDParams p;
  p.lr = mxnet_float(s.lr);
  p.wd = mxnet_float(s.wd);
  p.rescale_grad = mxnet_float(rescale_grad);
  p.clip_gradient = kernel_clip();
  p.momentum = momentum > 0 ? mxnet_float(momentum) : 0.0f;
  if (momentum != 0.0)
    k::nag_mom_update(w, g, st[0], n, p);
  else
    k::sgd_update(w, g, n, p);
}

template <class T>
void Adam::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  const double coef1 = 1.0 - std::pow(beta1, static_cast<double>(s.t));
  const double coef2 = 1.0 - std::pow(beta2, static_cast<double>(s.t));
  const double lr = s.lr * (std::sqrt(coef2) / coef1);
  const k::AdamParams p{mxnet_float(lr),         mxnet_float(beta1),
                        mxnet_float(beta2),      mxnet_float(epsilon),
                        mxnet_float(s.wd),       mxnet_float(rescale_grad),
                        kernel_clip()};
  k::adam_update(w, g, st[0], st[1], n, p);
}

template <class T>
void AdamW::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  double eta = s.lr;
  if (correct_bias) {
    const double coef1 = 1.0 - std::pow(beta1, static_cast<double>(s.t));
    const double coef2 = 1.0 - std::pow(beta2, static_cast<double>(s.t));
    eta = s.lr * std::sqrt(coef2) / coef1;
  }
  const k::AdamWParams p{1.0f,
                         f32(eta),
                         mxnet_float(beta1),
                         mxnet_float(beta2),
                         mxnet_float(epsilon),
                         f32(s.wd),
                         f32(mxnet_double(rescale_grad)),
                         kernel_clip()};
  // The aggregated kernel leaves the gradient untouched.
  k::adamw_update(w, const_cast<T*>(g), st[0], st[1], n, p, /*aggregated=*/true);
}

template <class T>
void AdaGrad::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::AdaGradParams p;
  p.lr = mxnet_double(s.lr);
  p.wd = mxnet_double(s.wd);
  p.rescale_grad = mxnet_double(rescale_grad);
  p.epsilon = mxnet_double(eps);
  p.clip = pclip(clip_gradient);
  k::adagrad_update(w, g, st[0], n, p);
}

template <class T>
void RMSProp::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::RMSPropParams p;
  p.lr = mxnet_float(s.lr);
  p.gamma1 = mxnet_float(gamma1);
  p.gamma2 = mxnet_float(gamma2);
  p.epsilon = mxnet_float(epsilon);
  p.wd = mxnet_float(s.wd);
  p.rescale_grad = mxnet_float(rescale_grad);
  p.clip_gradient = kernel_clip();
  p.clip_weights = (clip_weights && *clip_weights != 0.0) ? mxnet_float(*clip_weights) : k::kNoClip;
  if (centered)
    k::rmspropalex_update(w, g, st[0], st[1], st[2], n, p);
  else
    k::rmsprop_update(w, g, st[0], n, p);
}

template <class T>
void AdaDelta::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::AdaDeltaParams p;
  p.rho = mxnet_double(rho);
  p.one_minus_rho = mxnet_double(1.0 - rho);
  p.epsilon = mxnet_double(epsilon);
  p.wd = mxnet_double(s.wd);
  p.rescale_grad = mxnet_double(rescale_grad);
  p.clip = pclip(clip_gradient);
  std::vector<T> scratch(g, g + n);  // the kernel rescales its gradient in place
  k::adadelta_update(w, scratch.data(), st[0], st[1], n, p);
}

template <class T>
void Ftrl::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::FtrlParams p;
  p.lr = mxnet_float(s.lr);
  p.lamda1 = mxnet_float(lamda1);
  p.beta = mxnet_float(beta);
  p.wd = mxnet_float(s.wd);
  p.rescale_grad = mxnet_float(rescale_grad);
  p.clip_gradient = kernel_clip();
  k::ftrl_update(w, g, st[0], st[1], n, p);
}

template <class T>
void Adamax::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::AdamaxParams p;
  p.lr = mxnet_double(s.lr / (1.0 - std::pow(beta1, static_cast<double>(s.t))));
  p.beta1 = mxnet_double(beta1);
  p.one_minus_beta1 = mxnet_double(1.0 - beta1);
  p.beta2 = mxnet_double(beta2);
  p.wd = mxnet_double(s.wd);
  p.rescale_grad = mxnet_double(rescale_grad);
  p.clip = pclip(clip_gradient);
  k::adamax_update(w, g, st[0], st[1], n, p);
}

template <class T>
void Nadam::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  const double t = static_cast<double>(s.t);
  const double mt = beta1 * (1.0 - 0.5 * std::pow(0.96, t * schedule_decay));
  const double mt1 = beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1) * schedule_decay));
  m_schedule = m_schedule * mt;
  const double m_next = m_schedule * mt1;
  k::NadamParams p;
  p.lr = mxnet_double(s.lr);
  p.beta1 = mxnet_double(beta1);
  p.one_minus_beta1 = mxnet_double(1.0 - beta1);
  p.beta2 = mxnet_double(beta2);
  p.one_minus_beta2 = mxnet_double(1.0 - beta2);
  p.epsilon = mxnet_double(epsilon);
  p.wd = mxnet_double(s.wd);
  p.rescale_grad = mxnet_double(rescale_grad);
  p.one_minus_momentum_t = mxnet_double(1.0 - mt);
  p.momentum_t1 = mxnet_double(mt1);
  p.one_minus_m_schedule = mxnet_double(1.0 - m_schedule);
  p.one_minus_m_schedule_next = mxnet_double(1.0 - m_next);
  p.one_minus_beta2_t = mxnet_double(1.0 - std::pow(beta2, t));
  p.clip = pclip(clip_gradient);
  k::nadam_update(w, g, st[0], st[1], n, p);
}

template <class T>
void FTML::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::FTMLParams p;
  p.lr = mxnet_float(s.lr);
  p.beta1 = mxnet_float(beta1);
  p.beta2 = mxnet_float(beta2);
  p.epsilon = mxnet_double(epsilon);
  p.wd = mxnet_float(s.wd);
  p.rescale_grad = mxnet_float(rescale_grad);
  p.clip_gradient = kernel_clip();
  p.t = static_cast<int>(s.t);
  k::ftml_update(w, g, st[0], st[1], st[2], n, p);
}

template <class T>
void Signum::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::SignumParams p;
  p.lr = mxnet_float(s.lr);
  p.wd = mxnet_float(s.wd);
  if (momentum == 0.0) {
    if (wd_lh != 0.0)
      throw std::invalid_argument("signSGD (Signum with momentum 0) has no wd_lh (MXNet rejects it)");
    k::signsgd_update(w, g, n, p);
    return;
  }
  p.rescale_grad = mxnet_float(rescale_grad);
  p.clip_gradient = kernel_clip();
  p.momentum = momentum > 0 ? mxnet_float(momentum) : 0.0f;
  p.wd_lh = wd_lh != 0.0 ? mxnet_float(wd_lh) : 0.0f;
  k::signum_update(w, g, st[0], n, p);
}

template <class T>
void LAMB::run(const Step& s, T* w, const T* g, T* const* st, std::size_t n) {
  k::LAMBParams p;
  p.lr = f32(s.lr);  // multi_lamb_update reads lr/wd from float tuples
  p.wd = f32(s.wd);
  p.beta1 = mxnet_float(beta1);
  p.beta2 = mxnet_float(beta2);
  p.epsilon = mxnet_float(epsilon);
  p.rescale_grad = mxnet_float(rescale_grad);
  p.clip_gradient = kernel_clip();
  p.lower_bound = (lower_bound && *lower_bound != 0.0) ? mxnet_float(*lower_bound) : -1.0f;
  p.upper_bound = (upper_bound && *upper_bound != 0.0) ? mxnet_float(*upper_bound) : -1.0f;
  p.t = static_cast<int>(s.t);
  p.bias_correction = bias_correction;
  k::lamb_update(w, g, st[0], st[1], n, p, /*aggregated=*/true);
}

#define MXOPT_RUN(CLASS)                                                                      \
  template void CLASS::run<float>(const Step&, float*, const float*, float* const*,           \
                                  std::size_t);                                               \
  template void CLASS::run<double>(const Step&, double*, const double*, double* const*,       \
                                   std::size_t);
MXOPT_RUN(SGD)
MXOPT_RUN(NAG)
MXOPT_RUN(Adam)
MXOPT_RUN(AdamW)
MXOPT_RUN(AdaGrad)
MXOPT_RUN(RMSProp)
MXOPT_RUN(AdaDelta)
MXOPT_RUN(Ftrl)
MXOPT_RUN(Adamax)
MXOPT_RUN(Nadam)
MXOPT_RUN(FTML)
MXOPT_RUN(Signum)
MXOPT_RUN(LAMB)
#undef MXOPT_RUN

}  // namespace mxopt
