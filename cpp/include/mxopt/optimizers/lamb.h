// Layer-wise adaptive kernels: LAMB (MXNet 1.9.1 lamb_update_phase1/2 and multi_lamb_update,
// with their mp_ forms) and LANS (MXNet 2.0 multi_lans_update; step() variant).
// Each call updates one tensor completely: moments, update direction, norms, trust ratio, weight.
#pragma once

#include <cstddef>

#include "mxopt/optimizers/common.h"

namespace mxopt::kernels {

struct LAMBParams {
  float lr = 0.001f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-6f;
  float wd = 0.0f;
  float rescale_grad = 1.0f;
  float clip_gradient = kNoClip;
  float lower_bound = -1.0f;  // applied to |w| iff >= 0
  float upper_bound = -1.0f;  // applied to |w| iff >= 0
  int t = 1;                  // this parameter's update count
  bool bias_correction = true;
};

// LAMB:  G = K(rg*g); m = b1*m + (1-b1)*G; v = b2*v + ((1-b2)*G)*G;
//        u = m^/(sqrt(v^) + eps) + lambda*w   (m^ = m/(1-b1^t), v^ = v/(1-b2^t) if bias_correction)
//        r1 = clamp(|w|, lower, upper); r2 = |u|; w = w - eta*(r1/r2)*u  (ratio 1 if r1 or r2 is 0)
// aggregated = false: MXNet's single-tensor path (lamb_update_phase1/2, norms by NDArray.norm in
//   the weight dtype, see nrm2); true: multi_lamb_update (norms by multi_sum_sq, u kept in float32).
template <class T>
void lamb_update(T* weight, const T* grad, T* mean, T* var, std::size_t n, const LAMBParams& p,
                 bool aggregated);

// float16 weight with float32 master copy and moments. aggregated = true: u uses the master,
// r1 = |float16 weight|, the master is updated and the weight set to its rounding.
// aggregated = false (MXNet's mp_lamb_update_phase1/2): r1 = |master|, and the float16 weight is
// set to master - eta*ratio*u but THE MASTER IS NOT WRITTEN BACK (an MXNet 1.9.1 bug kept for
// parity: every step restarts from the same master copy).
void mp_lamb_update(float16* weight, const float16* grad, float* mean, float* var,
                    float* weight32, std::size_t n, const LAMBParams& p, bool aggregated);

// Multi-tensor multi_lamb_update (the aggregated form above) over `count` tensors in one call:
// tensor i has sizes[i] elements and params[i] (its own lr, wd, t); every tensor ends
// bit-identical to lamb_update(..., aggregated=true) / mp_lamb_update(..., aggregated=true).
// Phase 1 (moments) and the weight update run over slices in parallel; the per-tensor norms
// are sequential float32 sums (multi_sum_sq order), different tensors on different threads.
template <class T>
void multi_lamb_update(std::size_t count, T* const* weights, const T* const* grads,
                       T* const* means, T* const* vars, const std::size_t* sizes,
                       const LAMBParams* params);
void multi_mp_lamb_update(std::size_t count, float16* const* weights,
                          const float16* const* grads, float* const* means, float* const* vars,
                          float* const* weights32, const std::size_t* sizes,
                          const LAMBParams* params);

// LANS (MXNet 2.0), always bias-corrected. fused (multi_lans_update):
//   G = K((rg*g)/|rg*g|)  (a zero gradient gives NaN); m = b1*m + (1-b1)*G; v = b2*v + ((1-b2)*G)*G
//   D = sqrt(v/(1-b2^t)) + eps; um = (m/(1-b1^t))/D + lambda*w; ug = G/D + lambda*w
//   r1 = clamp(|w|); rm = r1/|um|, rg = r1/|ug| (1 if a norm is 0)
//   w = w - (eta*(rm*b1)*um + eta*(rg*(1-b1))*ug)
// fused = false (2.0 step()): P-clip (clip_gradient < 0 => no clip is NOT implied: see
// `p_clip`), the momentum term is applied first and ug's lambda*w uses the updated weight.
struct LANSParams {
  float lr = 0.001f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-6f;
  float wd = 0.0f;
  float rescale_grad = 1.0f;
  float clip_gradient = kNoClip;  // fused: K-clip iff >= 0
  bool p_clip = false;            // step(): nd.clip(G, -clip_gradient, clip_gradient) iff true
  float lower_bound = -1.0f;
  float upper_bound = -1.0f;
  int t = 1;
  // step() only: the Python scalars 1 - beta1, 1 - beta2 (doubles, rounded to the dtype);
  // the fused kernel computes them in the element type.
  double one_minus_beta1 = 0.1;
  double one_minus_beta2 = 0.001;
};
// norm_weight: when given (the float16 weight of a multi-precision update whose `weight` is the
// float32 master), r1 is computed from it, as MXNet 2.0's multi_mp_lans_update does.
template <class T>
void lans_update(T* weight, const T* grad, T* mean, T* var, std::size_t n, const LANSParams& p,
                 bool fused, const float16* norm_weight = nullptr);

}  // namespace mxopt::kernels
