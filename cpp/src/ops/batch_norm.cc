// BatchNorm forward and backward, in the evaluation order of MXNet 1.9.1's CPU kernel: per
// channel, sequential sums over (outer, inner) in memory order, arithmetic in T (MXNet's AccReal
// is float for float data and double for double data), the inverse standard deviation computed
// in double from the float variance and rounded to T. Channels run in parallel (each channel's
// sums stay sequential, so results do not depend on the thread count).
#include <cmath>

#include "mxopt/ops.h"
#include "parallel.h"

namespace mxopt::ops {
namespace {

// MXNet: 1.0 / std::sqrt(variance + DType(eps)), stored to AccReal.
template <class T>
inline T to_invstd(T variance, double eps) {
  return static_cast<T>(1.0 / std::sqrt(variance + static_cast<T>(eps)));
}

// MXNet: (1.0 / (invstd * invstd)) - eps, stored to AccReal.
template <class T>
inline T to_variance(T invstd, double eps) {
  return static_cast<T>((1.0 / static_cast<double>(invstd * invstd)) - eps);
}

// Calls fn(offset) for every element of `channel`, in memory order.
template <class Fn>
inline void each(std::int64_t outer, std::int64_t channels, std::int64_t inner,
                 std::int64_t channel, Fn&& fn) {
  for (std::int64_t o = 0; o < outer; ++o) {
    const std::int64_t base = (o * channels + channel) * inner;
    for (std::int64_t i = 0; i < inner; ++i) fn(base + i);
  }
}

template <class T>
inline void store(T* dst, T v, Req req) {
  if (req == Req::kAdd) *dst += v;
  else if (req == Req::kWrite) *dst = v;
}

bool parallel_channels(std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  return channels > 1 && outer * channels * inner >= detail::kParallelElements;
}

}  // namespace

template <class T>
void batch_norm_forward(const BatchNormParam& p, bool is_train, const T* x, T* gamma,
                        const T* beta, const T* moving_mean, const T* moving_var, T* y,
                        T* mean, T* invstd, std::int64_t outer, std::int64_t channels,
                        std::int64_t inner) {
  const std::int64_t n = outer * inner;
  const bool batch_stats = is_train && !p.use_global_stats;
  detail::parallel_chunks(channels, 1, parallel_channels(outer, channels, inner),
                          [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      if (batch_stats) {
        T sum = T(0);
        each(outer, channels, inner, c, [&](std::int64_t k) { sum += x[k]; });
        const T m = sum / static_cast<T>(n);
        T sq = T(0);
        each(outer, channels, inner, c, [&](std::int64_t k) {
          const T d = x[k] - m;
          sq += d * d;
        });
        mean[c] = m;
        invstd[c] = (sq == T(0) && p.eps == 0.0) ? T(0) : to_invstd(sq / static_cast<T>(n), p.eps);
      } else {
        mean[c] = moving_mean[c];
        invstd[c] = to_invstd(moving_var[c], p.eps);
      }
      if (p.fix_gamma) gamma[c] = T(1);
      const T m = mean[c], s = invstd[c], w = gamma[c], b = beta[c];
      if (p.fix_gamma)
        each(outer, channels, inner, c, [&](std::int64_t k) { y[k] = ((x[k] - m) * s) + b; });
      else
        each(outer, channels, inner, c, [&](std::int64_t k) { y[k] = ((x[k] - m) * s) * w + b; });
    }
  });
}

template <class T>
void batch_norm_backward(const BatchNormParam& p, bool is_train, const T* gy, const T* x,
                         const T* gamma, const T* mean, const T* invstd, T* moving_mean,
                         T* moving_var, T* gx, Req gx_req, T* ggamma, Req ggamma_req, T* gbeta,
                         Req gbeta_req, std::int64_t outer, std::int64_t channels,
                         std::int64_t inner) {
  const std::int64_t n = outer * inner;
  const bool batch_stats = is_train && !p.use_global_stats;
  const T momentum = static_cast<T>(p.momentum);
  detail::parallel_chunks(channels, 1, parallel_channels(outer, channels, inner),
                          [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      const T w = p.fix_gamma ? T(1) : gamma[c];
      T m, s;
      if (batch_stats) {
        m = mean[c];
        s = invstd[c];
        const T variance = to_variance(s, p.eps);
        moving_mean[c] = moving_mean[c] * momentum + m * (T(1) - momentum);
        moving_var[c] = moving_var[c] * momentum + variance * (T(1) - momentum);
      } else {
        m = moving_mean[c];
        s = to_invstd(moving_var[c], p.eps);
      }
      T sum_gy = T(0);
      each(outer, channels, inner, c, [&](std::int64_t k) { sum_gy += gy[k]; });
      T dotp = T(0);
      each(outer, channels, inner, c, [&](std::int64_t k) { dotp += (x[k] - m) * gy[k]; });
      if (gx_req != Req::kNull) {
        const T iw = s * w;
        if (batch_stats) {
          const T k_proj = dotp * s * s / static_cast<T>(n);
          const T grad_mean = sum_gy / static_cast<T>(n);
          if (gx_req == Req::kAdd) {
            each(outer, channels, inner, c, [&](std::int64_t k) {
              const T normal = (x[k] - m) * k_proj;
              gx[k] += (gy[k] - grad_mean - normal) * iw;
            });
          } else {
            each(outer, channels, inner, c, [&](std::int64_t k) {
              const T normal = (x[k] - m) * k_proj;
              gx[k] = (gy[k] - grad_mean - normal) * iw;
            });
          }
        } else if (gx_req == Req::kAdd) {
          each(outer, channels, inner, c, [&](std::int64_t k) { gx[k] += gy[k] * iw; });
        } else {
          each(outer, channels, inner, c, [&](std::int64_t k) { gx[k] = gy[k] * iw; });
        }
      }
      if (ggamma_req != Req::kNull) {
        if (!p.fix_gamma) store(ggamma + c, T(1) * dotp * s, ggamma_req);
        else if (ggamma_req == Req::kWrite || sizeof(T) == 4)
          ggamma[c] = T(0);  // MXNet's float32 kernel (oneDNN) zeroes it under 'add' too
      }
      if (gbeta_req != Req::kNull) store(gbeta + c, T(1) * sum_gy, gbeta_req);
    }
  });
}

#define MXOPT_INSTANTIATE_BN(T)                                                                 \
  template void batch_norm_forward<T>(const BatchNormParam&, bool, const T*, T*, const T*,     \
                                      const T*, const T*, T*, T*, T*, std::int64_t,            \
                                      std::int64_t, std::int64_t);                             \
  template void batch_norm_backward<T>(const BatchNormParam&, bool, const T*, const T*,        \
                                       const T*, const T*, const T*, T*, T*, T*, Req, T*, Req, \
                                       T*, Req, std::int64_t, std::int64_t, std::int64_t);
MXOPT_INSTANTIATE_BN(float)
MXOPT_INSTANTIATE_BN(double)
#undef MXOPT_INSTANTIATE_BN

}  // namespace mxopt::ops
