// SGLD and DCASGD kernels: MXNet's NDArray arithmetic ("P-ops": Python scalars are doubles
// rounded to the array dtype, nd.clip with float32 bounds).
#pragma once

#include <cstddef>

#include "mxopt/optimizers/adam.h"  // PClip
#include "mxopt/optimizers/common.h"

namespace mxopt::kernels {

struct SGLDParams {
  double neg_half_lr = -0.005;  // -lr/2
  double wd = 0.0;
  double rescale_grad = 1.0;
  PClip clip;
};

// SGLD: G = P(g*rg); w = w + (G + w*lambda)*(-eta/2); w = w + noise, where noise holds
// N(0, sqrt(eta)) samples in the weight dtype (drawn by the caller).
template <class T>
void sgld_update(T* weight, const T* grad, const T* noise, std::size_t n, const SGLDParams& p);

struct DCASGDParams {
  double lr = 0.01;
  double wd = 0.0;
  double lamda = 0.04;
  double rescale_grad = 1.0;
  PClip clip;
};

// DCASGD (momentum 0; MXNet 1.9.1 cannot run it with momentum):
//   G = P(g*rg); d = ((G + w*lambda) + ((G*lamda)*G)*(w - w_prev))*(-eta); w_prev = w; w = w + d
template <class T>
void dcasgd_update(T* weight, const T* grad, T* weight_prev, std::size_t n,
                   const DCASGDParams& p);

}  // namespace mxopt::kernels
