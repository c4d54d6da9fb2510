// Signum and signSGD kernels (MXNet 1.9.1 signum_update, signsgd_update).
#pragma once

#include <cstddef>

#include "mxopt/optimizers/common.h"

namespace mxopt::kernels {

struct SignumParams {
  float lr = 0.01f;
  float wd = 0.0f;
  float rescale_grad = 1.0f;
  float clip_gradient = kNoClip;  // clip iff >= 0
  float momentum = 0.0f;
  float wd_lh = 0.0f;
};

// Signum (momentum state, negative convention):
//   mom = ((mu*mom) - ((1-mu)*lambda)*w) - (1-mu)*K(rg*g)   [no clip: ... - ((1-mu)*rg)*g]
//   w   = (1 - eta*wd_lh)*w + eta*sign(mom)
template <class T>
void signum_update(T* weight, const T* grad, T* mom, std::size_t n, const SignumParams& p);

// signSGD (Signum with momentum 0): w = (1 - eta*lambda)*w - eta*sign(g).
// rescale_grad, clip_gradient, momentum and wd_lh are ignored.
template <class T>
void signsgd_update(T* weight, const T* grad, std::size_t n, const SignumParams& p);

}  // namespace mxopt::kernels
