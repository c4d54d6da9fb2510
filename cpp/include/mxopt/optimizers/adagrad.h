// AdaGrad-family kernels: AdaGrad, GroupAdaGrad, AdaDelta.
//
// The dense updates are MXNet's NDArray arithmetic ("P-ops": Python scalars are doubles rounded
// to the array dtype, nd.clip with float32 bounds, see PClip); the row_sparse updates are MXNet's
// fused kernels (float32 parameters, K-clip). MXNet keeps these states in float32, so the
// Python layer only accepts float32 weights (or float16 through multi-precision).
#pragma once

#include <cstddef>

#include "mxopt/optimizers/adam.h"  // PClip
#include "mxopt/optimizers/common.h"

namespace mxopt::kernels {

struct AdaGradParams {
  double lr = 0.01;
  double wd = 0.0;
  double rescale_grad = 1.0;
  double epsilon = 1e-7;
  PClip clip;                      // dense path
  float clip_gradient = kNoClip;   // row_sparse path (K-clip)
};

// Dense AdaGrad: G = P(g*rg); h = h + G*G; w = w + (G/sqrt(h + eps) + w*lambda)*(-eta).
template <class T>
void adagrad_update(T* weight, const T* grad, T* history, std::size_t n, const AdaGradParams& p);

// Lazy row_sparse AdaGrad (MXNet requires wd == 0; the caller checks): for gradient rows only,
//   G = K(g*rg); h = h + G*G; w = w - (G/sqrt(h + eps))*eta.
template <class T>
void adagrad_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* history,
                        const AdaGradParams& p);

// Dense GroupAdaGrad on a (rows, cols) weight, history of shape (rows, 1):
//   G = P(g*rg); h_r = h_r + mean_j(G*G) (Kahan-summed, then divided by cols);
//   w = w - (G*eta)/sqrt(h_r + eps).
template <class T>
void group_adagrad_update(T* weight, const T* grad, T* history, std::size_t rows,
                          std::size_t cols, const AdaGradParams& p);

// Lazy row_sparse GroupAdaGrad: gradient rows only, G = K(g*rg);
//   h_r = h_r + (sum_j G_j*G_j)/cols; w = w - (eta*G)/sqrt(h_r + eps).
template <class T>
void group_adagrad_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* history,
                              const AdaGradParams& p);

struct AdaDeltaParams {
  double rho = 0.9;
  double one_minus_rho = 0.1;
  double epsilon = 1e-5;
  double wd = 0.0;
  double rescale_grad = 1.0;
  PClip clip;
};

// AdaDelta (ignores the learning rate; MXNet multiplies the caller's gradient in place):
//   g = g*rg (stored back); G = P(g); acc_g = acc_g*rho + (G*(1-rho))*G;
//   d = (sqrt(acc_d + eps)/sqrt(acc_g + eps))*G; acc_d = acc_d*rho + (d*(1-rho))*d;
//   w = w - (d + w*lambda)
template <class T>
void adadelta_update(T* weight, T* grad, T* acc_g, T* acc_delta, std::size_t n,
                     const AdaDeltaParams& p);

// Multi-tensor dense AdaGrad (one call over `count` tensors, see multi.h): adagrad_update per
// tensor i (sizes[i] elements, params[i]), bit-identical to it.
template <class T>
void multi_adagrad_update(std::size_t count, T* const* weights, const T* const* grads,
                          T* const* histories, const std::size_t* sizes,
                          const AdaGradParams* params);

}  // namespace mxopt::kernels
