// Forward and backward kernels of MXNet 1.9.1's training operators on raw row-major buffers:
// FullyConnected (tiled Eigen GEMM), Activation, Dropout, SoftmaxOutput, the regression
// outputs and BatchNorm. T is float or double.
//
// Gradients are written according to a Req, like MXNet's OpReqType: kNull skips the output,
// kWrite overwrites it, kAdd accumulates into it. Kernels parallelise with OpenMP only above a
// size threshold, over fixed partitions, so results never depend on the thread count.
#pragma once

#include <cstdint>
#include <vector>

namespace mxopt::ops {

enum class Req : int { kNull = 0, kWrite = 1, kAdd = 3 };

// ---- FullyConnected: Y(M,N) = X(M,K) * W(N,K)^T + b(N) ------------------------------------------
template <class T>
void fully_connected_forward(const T* x, const T* w, const T* bias, T* y, std::int64_t m,
                             std::int64_t k, std::int64_t n);
// dX = G*W, dW = G^T*X, db = sum over rows of G (each skipped when its Req is kNull).
template <class T>
void fully_connected_backward(const T* gy, const T* x, const T* w, std::int64_t m,
                              std::int64_t k, std::int64_t n, T* gx, Req gx_req, T* gw,
                              Req gw_req, T* gbias, Req gbias_req);

// The instruction set of the GEMM kernels picked for this CPU ("avx512", "avx2", "baseline").
const char* gemm_isa();

// ---- Activation --------------------------------------------------------------------------------
enum class ActType : int { kRelu = 0, kSigmoid = 1, kTanh = 2, kSoftRelu = 3, kSoftSign = 4 };
template <class T>
void activation_forward(ActType act, const T* x, T* y, std::int64_t size);
// Uses the output y (relu, sigmoid, tanh, softrelu) or the input x (softsign), as MXNet does.
template <class T>
void activation_backward(ActType act, const T* gy, const T* x, const T* y, T* gx, Req req,
                         std::int64_t size);

// ---- Dropout: y = x * mask, mask in {0, 1/(1-p)} -------------------------------------------------
// `uniform` holds `size` draws in [0, 1); an element is kept when its draw is < 1 - p.
template <class T>
void dropout_forward(float p, const float* uniform, const T* x, T* y, T* mask, std::int64_t size);
template <class T>
void dropout_backward(const T* gy, const T* mask, T* gx, Req req, std::int64_t size);

// ---- copy / accumulate (Flatten, head gradients) ------------------------------------------------
template <class T>
void assign(const T* src, T* dst, Req req, std::int64_t size);

// ---- SoftmaxOutput -------------------------------------------------------------------------------
enum class Normalization : int { kNull = 0, kBatch = 1, kValid = 2 };
struct SoftmaxOutputParam {
  float grad_scale = 1.0f;
  float ignore_label = -1.0f;
  bool multi_output = false;
  bool use_ignore = false;
  bool preserve_shape = false;
  Normalization normalization = Normalization::kNull;
  float smooth_alpha = 0.0f;
};
// Row-wise softmax: rows are the samples (data viewed as (N, size/N)), the last axis with
// preserve_shape, or axis 1 at every trailing position with multi_output.
template <class T>
void softmax_output_forward(const SoftmaxOutputParam& param, const T* x, T* y,
                            const std::vector<std::int64_t>& shape);
// dX = (p - onehot(int(label))) * grad_scale / norm (the head gradient is not used);
// probability labels (label shape == data shape): dX = (p - label) * grad_scale.
template <class T>
void softmax_output_backward(const SoftmaxOutputParam& param, const T* y, const T* label,
                             const std::vector<std::int64_t>& shape,
                             const std::vector<std::int64_t>& label_shape, T* gx, Req req);

// ---- Linear / Logistic / MAE regression outputs --------------------------------------------------
enum class RegressionType : int { kLinear = 0, kLogistic = 1, kMAE = 2 };
template <class T>
void regression_forward(RegressionType type, const T* x, T* y, std::int64_t size);
// dX = f(out - label) * grad_scale / (label_size / label_rows), f = identity or sign (MAE).
template <class T>
void regression_backward(RegressionType type, float grad_scale, const T* y, const T* label,
                         std::int64_t size, std::int64_t label_rows, T* gx, Req req);

// ---- BatchNorm ---------------------------------------------------------------------------------
// Data viewed as (outer, channels, inner): the channel axis and the axes before / after it.
// Statistics are accumulated per channel in T (MXNet's AccReal for float and double), in
// element order, as MXNet's CPU kernel does: mean = sum(x) / n, variance = sum((x - mean)^2) / n
// (biased), invstd = 1 / sqrt(variance + T(eps)) rounded from double.
struct BatchNormParam {
  double eps = 1e-3;
  float momentum = 0.9f;
  bool fix_gamma = true;  // gamma is held at 1 (forward writes 1 into it) and its gradient is
                          // 0 (under req add too for float, as MXNet's float32 oneDNN kernel)
  bool use_global_stats = false;  // normalise with the moving statistics, also in training
};
// Training (is_train and not use_global_stats): batch statistics, written to mean / invstd.
// Otherwise the moving statistics (mean = moving_mean, invstd from moving_var). y is
// ((x - mean) * invstd) * gamma + beta.
template <class T>
void batch_norm_forward(const BatchNormParam& p, bool is_train, const T* x, T* gamma,
                        const T* beta, const T* moving_mean, const T* moving_var, T* y,
                        T* mean, T* invstd, std::int64_t outer, std::int64_t channels,
                        std::int64_t inner);
// Gradients of data, gamma and beta (each skipped when its Req is kNull). In training, the
// moving statistics are updated here, as in MXNet 1.9.1 (one update per backward):
// moving = moving * momentum + batch * (1 - momentum), the batch variance recovered from
// invstd as 1 / invstd^2 - eps.
template <class T>
void batch_norm_backward(const BatchNormParam& p, bool is_train, const T* gy, const T* x,
                         const T* gamma, const T* mean, const T* invstd, T* moving_mean,
                         T* moving_var, T* gx, Req gx_req, T* ggamma, Req ggamma_req, T* gbeta,
                         Req gbeta_req, std::int64_t outer, std::int64_t channels,
                         std::int64_t inner);

}  // namespace mxopt::ops
