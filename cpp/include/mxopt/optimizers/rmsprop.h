// RMSProp kernels (MXNet 1.9.1 rmsprop_update and rmspropalex_update = centered RMSProp).
// MXNet keeps RMSProp states in float32.
#pragma once

#include <cstddef>

#include "mxopt/optimizers/common.h"

namespace mxopt::kernels {

struct RMSPropParams {
  float lr = 0.001f;
  float gamma1 = 0.9f;
  float gamma2 = 0.9f;  // centered only
  float epsilon = 1e-8f;
  float wd = 0.0f;
  float rescale_grad = 1.0f;
  float clip_gradient = kNoClip;
  float clip_weights = kNoClip;  // weights clipped to [-c, c] iff >= 0
};

// G = K(rg*g + lambda*w); n = (1-g1)*(G*G) + g1*n; w = clipw(w - eta*(G/sqrt(n + eps))).
template <class T>
void rmsprop_update(T* weight, const T* grad, T* n, std::size_t count, const RMSPropParams& p);

// Centered: G = K(rg*g + lambda*w); n = ((1-g1)*G)*G + g1*n; gbar = (1-g1)*G + g1*gbar;
//   delta = g2*delta - (eta*G)/sqrt((n - gbar*gbar) + eps); w = clipw(w + delta).
template <class T>
void rmspropalex_update(T* weight, const T* grad, T* n, T* gbar, T* delta, std::size_t count,
                        const RMSPropParams& p);

// Multi-tensor forms (one call over `count` tensors, see multi.h): rmsprop_update /
// rmspropalex_update per tensor i (sizes[i] elements, params[i]), bit-identical to them.
template <class T>
void multi_rmsprop_update(std::size_t count, T* const* weights, const T* const* grads,
                          T* const* ns, const std::size_t* sizes, const RMSPropParams* params);
template <class T>
void multi_rmspropalex_update(std::size_t count, T* const* weights, const T* const* grads,
                              T* const* ns, T* const* gbars, T* const* deltas,
                              const std::size_t* sizes, const RMSPropParams* params);

}  // namespace mxopt::kernels
