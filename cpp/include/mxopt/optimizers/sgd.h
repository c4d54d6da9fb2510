// SGD-family kernels: SGD / ccSGD, NAG, LBSGD and LARS (MXNet 1.9.1 sgd_update,
// sgd_mom_update, multi_sgd_*, nag_mom_update, their mp_* and row_sparse forms, multi_lars).
//
// Notation: eta = lr, lambda = wd, rg = rescale_grad, mu = momentum, K = K-clip (common.h).
// Momentum states hold the NEGATIVE, lr-scaled velocity (mom = -eta*g after one step from 0).
#pragma once

#include <cstddef>

#include "mxopt/optimizers/common.h"

namespace mxopt::kernels {

struct SGDParams {
  float lr = 0.01f;
  float wd = 0.0f;
  float rescale_grad = 1.0f;
  float clip_gradient = kNoClip;  // clip iff >= 0
  float momentum = 0.0f;
};

// MXNet's single-tensor sgd_update (no momentum state):
//   w = (1 - eta*lambda)*w - eta*K(rg*g)        [no clip: w = (1 - eta*lambda)*w - (eta*rg)*g]
template <class T>
void sgd_update(T* weight, const T* grad, std::size_t n, const SGDParams& p);

// sgd_mom_update and the multi-tensor multi_sgd_[mom_]update (the dense path of the SGD class):
//   m = ((mu*mom) - (eta*lambda)*w) - eta*K(rg*g)   [no clip: ... - (eta*rg)*g]
//   mom = m (if mom != nullptr), w = w + m
// mom == nullptr is multi_sgd_update: the momentum term is mu*0 and nothing is stored.
template <class T>
void sgd_mom_update(T* weight, const T* grad, T* mom, std::size_t n, const SGDParams& p);

// preloaded_multi_sgd_[mom_]update (LARS' kernels, learning rates and weight decays read from
// float32 arrays): as sgd_mom_update, but eta and lambda stay float32 inside the kernel:
// eta*lambda is a float32 product, and each float32 x element product is rounded once to the
// element type (float16: from float; float64: eta*lambda is rounded to float32 first).
template <class T>
void preloaded_sgd_mom_update(T* weight, const T* grad, T* mom, std::size_t n,
                              const SGDParams& p);

// Multi-precision forms (float16 weight, float32 master copy weight32 and momentum): the same
// formulas evaluated in float32 on weight32 with float(g); then weight = float16(weight32).
void mp_sgd_update(float16* weight, const float16* grad, float* weight32, std::size_t n,
                   const SGDParams& p);
void mp_sgd_mom_update(float16* weight, const float16* grad, float* mom, float* weight32,
                       std::size_t n, const SGDParams& p);

// row_sparse gradient, dense weight with `rows` rows of grad.row_length elements.
// lazy: only rows present in the gradient change, with the formula of sgd_update.
// not lazy: every row w *= float32(1 - eta*lambda) first, then the gradient rows get
//   w = w - eta*K(rg*g)  [no clip: w - (eta*rg)*g].
template <class T>
void sgd_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, const SGDParams& p,
                    bool lazy);

// row_sparse gradient with momentum (dense weight and momentum).
// lazy: only gradient rows, with the formula of sgd_mom_update.
// not lazy: the dense update with zero gradient rows (momentum decays and wd applies on every row).
template <class T>
void sgd_mom_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* mom,
                        const SGDParams& p, bool lazy);

// NAG with momentum (MXNet nag_mom_update, in place):
//   mom = mu*mom
//   w'  = (w - mom) + (mu + 1)*(mom - eta*(K(rg*g) + lambda*w))
//   mom = mom - eta*(K(rg*g) + lambda*w')     <- uses the UPDATED weight (MXNet quirk)
//   w   = w'
// NAG without momentum is sgd_update.
template <class T>
void nag_mom_update(T* weight, const T* grad, T* mom, std::size_t n, const SGDParams& p);
void mp_nag_mom_update(float16* weight, const float16* grad, float* mom, float* weight32,
                       std::size_t n, const SGDParams& p);

// LARS trust ratio of one tensor (MXNet multi_lars, float32):
//   lr * eta * |w| / (sqrt(g_sum_sq) * rg + wd * |w| + eps)  if |w| > 0 and g_sum_sq > 0, else lr
// with |w| = sqrt(w_sum_sq); the sums come from sum_sq (common.h).
float lars_lr(float lr, float w_sum_sq, float g_sum_sq, float wd, float eta, float eps,
              float rescale_grad);

// ---- Multi-tensor forms (one call over `count` tensors, see multi.h) --------------------------
// Tensor i has sizes[i] elements at weights[i], grads[i] (moms[i], weights32[i]) and its own
// params[i] (per-tensor lr/wd); each tensor ends bit-identical to the per-tensor kernel above.
// Slices of the tensors run in parallel; results do not depend on the thread count.
// multi_sgd_mom_update: sgd_mom_update per tensor (moms == nullptr: no momentum state).
template <class T>
void multi_sgd_mom_update(std::size_t count, T* const* weights, const T* const* grads,
                          T* const* moms, const std::size_t* sizes, const SGDParams* params);
// multi_sgd_update: the single form sgd_update per tensor (NAG without momentum).
template <class T>
void multi_sgd_update(std::size_t count, T* const* weights, const T* const* grads,
                      const std::size_t* sizes, const SGDParams* params);
// multi_nag_mom_update: nag_mom_update per tensor.
template <class T>
void multi_nag_mom_update(std::size_t count, T* const* weights, const T* const* grads,
                          T* const* moms, const std::size_t* sizes, const SGDParams* params);
// Multi-precision lists (MXNet multi_mp_sgd_[mom_]update; moms == nullptr: no momentum):
// mp_sgd_mom_update / mp_sgd_update / mp_nag_mom_update per tensor.
void multi_mp_sgd_mom_update(std::size_t count, float16* const* weights,
                             const float16* const* grads, float* const* moms,
                             float* const* weights32, const std::size_t* sizes,
                             const SGDParams* params);
void multi_mp_sgd_update(std::size_t count, float16* const* weights, const float16* const* grads,
                         float* const* weights32, const std::size_t* sizes,
                         const SGDParams* params);
void multi_mp_nag_mom_update(std::size_t count, float16* const* weights,
                             const float16* const* grads, float* const* moms,
                             float* const* weights32, const std::size_t* sizes,
                             const SGDParams* params);

// LARS over a list in one call (MXNet's dense LARS path: multi_sum_sq, multi_lars, then
// preloaded_multi_sgd_[mom_]update): for every tensor i with use_lars[i],
//   lr_i = lars_lr(params[i].lr, sum_sq(w_i), sum_sq(g_i), params[i].wd, eta, eps,
//                  params[i].rescale_grad)
// (per-tensor sequential float32 sums of w_i before it changes; float32 lists take each
// tensor's sums and update back to back so that w_i and g_i are still in cache, different
// tensors on different threads), else lr_i = params[i].lr; then preloaded_sgd_mom_update of
// tensor i with lr_i (moms == nullptr: no momentum state). Bit-identical to those calls, as
// long as the tensors do not share memory.
template <class T>
void multi_lars_update(std::size_t count, T* const* weights, const T* const* grads,
                       T* const* moms, const std::size_t* sizes, const SGDParams* params,
                       const bool* use_lars, float eta, float eps);
// Multi-precision LARS: sums of the float16 weights and gradients, then mp_sgd_mom_update.
void multi_mp_lars_update(std::size_t count, float16* const* weights,
                          const float16* const* grads, float* const* moms,
                          float* const* weights32, const std::size_t* sizes,
                          const SGDParams* params, const bool* use_lars, float eta, float eps);

}  // namespace mxopt::kernels
