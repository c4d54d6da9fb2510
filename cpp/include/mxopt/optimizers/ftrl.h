// Follow-the-regularized-leader kernels: Ftrl (MXNet ftrl_update, dense and row_sparse) and
// FTML (ftml_update). Ftrl's states are float32 in MXNet.
#pragma once

#include <cstddef>

#include "mxopt/optimizers/common.h"

namespace mxopt::kernels {

struct FtrlParams {
  float lr = 0.1f;
  float lamda1 = 0.01f;
  float beta = 1.0f;
  float wd = 0.0f;
  float rescale_grad = 1.0f;
  float clip_gradient = kNoClip;
};

// G = K(rg*g); z = z + (G - ((sqrt(n + G*G) - sqrt(n))*w)/eta); n = n + G*G;
// w = (sign(z)*lamda1 - z)/((beta + sqrt(n))/eta + lambda) * (|z| > lamda1 ? 1 : 0)
template <class T>
void ftrl_update(T* weight, const T* grad, T* z, T* n, std::size_t count, const FtrlParams& p);

// Lazy row_sparse Ftrl (MXNet does this only for a row_sparse weight): gradient rows only.
template <class T>
void ftrl_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* z, T* n,
                     const FtrlParams& p);

struct FTMLParams {
  float lr = 0.0025f;
  float beta1 = 0.6f;
  float beta2 = 0.999f;
  double epsilon = 1e-8f;  // a double field in MXNet's FTMLParam (others are float32)
  float wd = 0.0f;
  float rescale_grad = 1.0f;
  float clip_gradient = kNoClip;
  int t = 1;  // the update count of this parameter
};

// G = K(rg*g + lambda*w); v = b2*v + (1-b2)*(G*G);
// d_t = ((1 - b1^t)/eta)*(sqrt(v/(1 - b2^t)) + eps)   (b^t: pow in the element type)
// z = (b1*z + (1-b1)*G) - (d_t - b1*d)*w; d = d_t; w = -z/d_t
template <class T>
void ftml_update(T* weight, const T* grad, T* d, T* v, T* z, std::size_t count,
                 const FTMLParams& p);

}  // namespace mxopt::kernels
