// Adam-family kernels: Adam (adam_update, dense and row_sparse), AdamW and AdaBelief (MXNet 2.0
// fused kernels; AdamW's are also 1.9.1's contrib.adamw_update / multi_adamw_update), Adamax and
// Nadam (MXNet's NDArray arithmetic, "P-ops": Python scalars are doubles, nd.clip bounds float).
#pragma once

#include <cstddef>

#include "mxopt/optimizers/common.h"

namespace mxopt::kernels {

struct AdamParams {
  float lr = 0.001f;  // already bias-corrected by the caller: eta*sqrt(1-b2^t)/(1-b1^t)
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float wd = 0.0f;
  float rescale_grad = 1.0f;
  float clip_gradient = kNoClip;
};

// Adam (wd added to the gradient before clipping):
//   G = K(g*rg + w*lambda);  m = b1*m + (1-b1)*G;  v = b2*v + ((1-b2)*G)*G
//   w = w - (eta*m)/(sqrt(v) + eps)
template <class T>
void adam_update(T* weight, const T* grad, T* mean, T* var, std::size_t n, const AdamParams& p);

// Adam with a row_sparse gradient. lazy: only gradient rows (variance increment
// (1-b2)*(G*G) when clipping, ((1-b2)*G)*G otherwise). not lazy: every row, G = K(w*lambda) for
// rows absent from the gradient, increment (1-b2)*(G*G).
template <class T>
void adam_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* mean, T* var,
                     const AdamParams& p, bool lazy);

struct AdamWParams {
  float lr = 1.0f;   // MXNet's `lr` argument (the 2.0 optimizer passes 1)
  float eta = 0.001f;  // the bias-corrected learning rate
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-6f;
  float wd = 0.0f;
  float rescale_grad = 1.0f;  // 0 or non-finite: the update is skipped entirely
  float clip_gradient = kNoClip;
};

// AdamW, decoupled weight decay. Returns false (and writes nothing) when rescale_grad is 0 or
// not finite.
// single form (adamw_update):
//   G = K(rg*g) (written back into grad, as MXNet does; with rg == 1 and no clipping G is g
//   and the store is skipped); m = b1*m + (1-b1)*G;
//   v = b2*v + (1-b2)*(G*G); w = w - eta*((lr*m)/(sqrt(v) + eps) + lambda*w)
// aggregated form (multi_adamw_update, aggregated=true; grad untouched):
//   m = b1*(m - G) + G;  v = b2*(v - G*G) + G*G;  same weight update.
template <class T>
bool adamw_update(T* weight, T* grad, T* mean, T* var, std::size_t n, const AdamWParams& p,
                  bool aggregated);

// AdaBelief (MXNet 2.0 fused kernels; same parameters as AdamW, wd coupled before clipping):
// single form:  G = K(rg*g + lambda*w) (written back into grad); m = b1*m + (1-b1)*G;
//               s = (b2*s + (1-b2)*(G - m)^2) + eps; w = w - eta*((lr*m)/(sqrt(s) + eps))
// aggregated:   m = b1*(m - G) + G; s = (b2*(s - (m-G)^2) + (m-G)^2) + eps; same weight update.
// Returns false (nothing written) when rescale_grad is 0 or not finite.
template <class T>
bool adabelief_update(T* weight, T* grad, T* mean, T* var, std::size_t n, const AdamWParams& p,
                      bool aggregated);

// Adamax and Nadam run MXNet's NDArray arithmetic: scalars are Python doubles (rounded to the
// array dtype when applied), clipping is nd.clip with float32 bounds (P-clip, active iff
// `clip` is true; clip_gradient 0 zeroes the gradient, a negative value maps to +-|c|).
struct PClip {
  bool active = false;
  float lo = 0.0f;  // -clip_gradient (float32)
  float hi = 0.0f;  //  clip_gradient (float32)
};

// Scalars of MXNet's NDArray arithmetic are given exactly as MXNet receives them (each one the
// double that Python computed, passed through mxnet_double): no scalar is derived in C++.
struct AdamStepParams {
  double lr = 0.001;  // bias-corrected
  double lr_wd = 0.0;  // lr*wd (AdamW)
  double wd = 0.0;
  double beta1 = 0.9;
  double one_minus_beta1 = 0.1;
  double beta2 = 0.999;
  double one_minus_beta2 = 0.001;
  double epsilon = 1e-6;
  double rescale_grad = 1.0;
  PClip clip;
};

// MXNet 2.0's non-fused step() of AdamW / AdaBelief (NDArray arithmetic, P-clip; like MXNet
// they rescale the caller's gradient in place):
// AdamW:     g *= rg; G = P(g); m = m*b1 + G*(1-b1); v = v*b2 + (G*G)*(1-b2);
//            w = w - (m/(sqrt(v) + eps))*eta_t; then if lambda > 0: w = w - w*(eta_t*lambda)
// AdaBelief: g = g*rg + w*lambda (stored); G = P(g); m = m*b1 + G*(1-b1);
//            s = (s*b2 + ((G-m)^2)*(1-b2)) + eps; w = w - (m/(sqrt(s) + eps))*eta_t
template <class T>
void adamw_step_update(T* weight, T* grad, T* mean, T* var, std::size_t n,
                       const AdamStepParams& p);
template <class T>
void adabelief_step_update(T* weight, T* grad, T* mean, T* var, std::size_t n,
                           const AdamStepParams& p);

struct AdamaxParams {
  double lr = 0.002;  // eta / (1 - b1^t)
  double beta1 = 0.9;
  double one_minus_beta1 = 0.1;
  double beta2 = 0.999;
  double wd = 0.0;
  double rescale_grad = 1.0;
  PClip clip;
};

// Adamax: G = P(g*rg + w*lambda); m = m*b1 + G*(1-b1); u = max(u*b2, |G|); w = w - (m*eta)/u.
// No epsilon: an element with u == 0 becomes NaN (as in MXNet).
template <class T>
void adamax_update(T* weight, const T* grad, T* mean, T* u, std::size_t n, const AdamaxParams& p);

struct NadamParams {
  double lr = 0.001;
  double beta1 = 0.9;
  double one_minus_beta1 = 0.1;
  double beta2 = 0.999;
  double one_minus_beta2 = 0.001;
  double epsilon = 1e-8;
  double wd = 0.0;
  double rescale_grad = 1.0;
  double one_minus_momentum_t = 1.0;  // 1 - mu_t
  double momentum_t1 = 0.0;           // mu_{t+1}
  double one_minus_m_schedule = 1.0;       // 1 - M        (M = product of mu_1..mu_t)
  double one_minus_m_schedule_next = 1.0;  // 1 - M*mu_{t+1}
  double one_minus_beta2_t = 1.0;          // 1 - b2^t
  PClip clip;
};

// Nadam: G = P(g*rg + w*lambda); m = m*b1 + G*(1-b1); v = v*b2 + (G*(1-b2))*G;
//   g' = G/(1-M); m' = m/(1-M_next); v' = v/(1-b2^t); mbar = g'*(1-mu_t) + m'*mu_t1;
//   w = w - (mbar*eta)/(sqrt(v') + eps)
template <class T>
void nadam_update(T* weight, const T* grad, T* mean, T* var, std::size_t n, const NadamParams& p);

// ---- Multi-tensor forms (one call over `count` tensors, see multi.h) --------------------------
// Tensor i has sizes[i] elements and its own params[i]; each tensor ends bit-identical to the
// per-tensor kernel. Slices run in parallel; results do not depend on the thread count.
// multi_adam_update: adam_update per tensor.
template <class T>
void multi_adam_update(std::size_t count, T* const* weights, const T* const* grads,
                       T* const* means, T* const* vars, const std::size_t* sizes,
                       const AdamParams* params);
// multi_mp_adam_update: float16 weights with float32 master copies and moments: adam_update on
// the master with float(g), then weight = float16(master).
void multi_mp_adam_update(std::size_t count, float16* const* weights, const float16* const* grads,
                          float* const* means, float* const* vars, float* const* weights32,
                          const std::size_t* sizes, const AdamParams* params);
// multi_adamw_update: adamw_update per tensor (aggregated: MXNet's multi form). Returns false and
// writes nothing when any params[i].rescale_grad is 0 or not finite.
template <class T>
bool multi_adamw_update(std::size_t count, T* const* weights, T* const* grads, T* const* means,
                        T* const* vars, const std::size_t* sizes, const AdamWParams* params,
                        bool aggregated);
// multi_mp_adamw_update (MXNet multi_mp_adamw_update): adamw_update on the float32 master with
// float(g) (grads are never written), then weight = float16(master).
bool multi_mp_adamw_update(std::size_t count, float16* const* weights,
                           const float16* const* grads, float* const* means, float* const* vars,
                           float* const* weights32, const std::size_t* sizes,
                           const AdamWParams* params, bool aggregated);

}  // namespace mxopt::kernels
