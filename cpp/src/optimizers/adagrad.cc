// AdaGrad-family kernels (see mxopt/optimizers/adagrad.h for the formulas).
#include "mxopt/optimizers/adagrad.h"

#include "kernel_util.h"
#include "mxopt/optimizers/multi.h"

namespace mxopt::kernels {
namespace {
using namespace detail;

template <class C>
struct AdaGradDenseOp {
  C rg, eps, wd, neg_lr;
  PClip clip;
  explicit AdaGradDenseOp(const AdaGradParams& p)
      : rg(scalar<C>(p.rescale_grad)),
        eps(scalar<C>(p.epsilon)),
        wd(scalar<C>(p.wd)),
        neg_lr(scalar<C>(-p.lr)),
        clip(p.clip) {}
  void operator()(C& w, C g, C& h) const {
    C G = g * rg;
    if (clip.active) G = pclip(G, clip.lo, clip.hi);
    h = h + G * G;
    const C div = G / sqrt_(h + eps);
    w = w + (div + w * wd) * neg_lr;
  }
};

template <class C, bool kClip>
struct AdaGradSparseOp {
  C rg, eps, lr, clip;
  explicit AdaGradSparseOp(const AdaGradParams& p)
      : rg(static_cast<float>(p.rescale_grad)),
        eps(static_cast<float>(p.epsilon)),
        lr(static_cast<float>(p.lr)),
        clip(p.clip_gradient) {}
  C grad(C g) const {
    C G = g * rg;
    if constexpr (kClip) G = kclip(G, clip);
    return G;
  }
  void operator()(C& w, C g, C& h) const {
    const C G = grad(g);
    h = h + G * G;
    w = w - G / sqrt_(h + eps) * lr;
  }
};

template <class C>
struct AdaDeltaOp {
  C rg, rho, omr, eps, wd;
  PClip clip;
  explicit AdaDeltaOp(const AdaDeltaParams& p)
      : rg(scalar<C>(p.rescale_grad)),
        rho(scalar<C>(p.rho)),
        omr(scalar<C>(p.one_minus_rho)),
        eps(scalar<C>(p.epsilon)),
        wd(scalar<C>(p.wd)),
        clip(p.clip) {}
  void operator()(C& w, C& g, C& acc_g, C& acc_d) const {
    g = g * rg;
    C G = g;
    if (clip.active) G = pclip(G, clip.lo, clip.hi);
    acc_g = acc_g * rho;
    acc_g = acc_g + G * omr * G;
    const C d = sqrt_(acc_d + eps) / sqrt_(acc_g + eps) * G;
    acc_d = acc_d * rho;
    acc_d = acc_d + d * omr * d;
    w = w - (d + w * wd);
  }
};

}  // namespace

template <class T>
void adagrad_update(T* weight, const T* grad, T* history, std::size_t n,
                    const AdaGradParams& p) {
  run_dense(AdaGradDenseOp<compute_t<T>>(p), cp(weight), cp(grad), n, cp(history));
}

template <class T>
void adagrad_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* history,
                        const AdaGradParams& p) {
  check_row_indices(grad.indices, grad.num_rows, rows);
  dispatch(p.clip_gradient >= 0.0f, [&](auto k) {
    run_rows(AdaGradSparseOp<compute_t<T>, decltype(k)::value>(p), cp(weight), cp(grad.data),
             grad.indices, grad.num_rows, grad.row_length, cp(history));
  });
}

template <class T>
void group_adagrad_update(T* weight, const T* grad, T* history, std::size_t rows,
                          std::size_t cols, const AdaGradParams& p) {
  using C = compute_t<T>;
  C* w = cp(weight);
  const C* g = cp(grad);
  C* h = cp(history);
  const C rg = scalar<C>(p.rescale_grad), eps = scalar<C>(p.epsilon), lr = scalar<C>(p.lr);
  const C ncols = C(static_cast<float>(cols));
  auto G = [&](std::size_t o) {
    C x = g[o] * rg;
    if (p.clip.active) x = pclip(x, p.clip.lo, p.clip.hi);
    return x;
  };
  parallel_rows(rows, cols, [&](std::size_t r) {
    const std::size_t base = r * cols;
    // mean(square(G), axis=1): MXNet's reduction sums with Kahan compensation.
    C sum(0), residual(0);
    for (std::size_t j = 0; j < cols; ++j) {
      const C x = G(base + j);
      const C y = x * x - residual;
      const C t = sum + y;
      residual = (t - sum) - y;
      sum = t;
    }
    h[r] = h[r] + sum / ncols;
    const C denom = sqrt_(h[r] + eps);
    for (std::size_t j = 0; j < cols; ++j) w[base + j] = w[base + j] - G(base + j) * lr / denom;
  });
}

template <class T>
void group_adagrad_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* history,
                              const AdaGradParams& p) {
  using C = compute_t<T>;
  check_row_indices(grad.indices, grad.num_rows, rows);
  C* w = cp(weight);
  C* h = cp(history);
  const C* g = cp(grad.data);
  const std::size_t len = grad.row_length;
  const C ncols = C(static_cast<float>(len));
  dispatch(p.clip_gradient >= 0.0f, [&](auto k) {
    const AdaGradSparseOp<C, decltype(k)::value> op(p);
    parallel_rows(grad.num_rows, len, [&](std::size_t r) {
      const std::size_t row = static_cast<std::size_t>(grad.indices[r]);
      C ssq(0);
      for (std::size_t j = 0; j < len; ++j) {
        const C G = op.grad(g[r * len + j]);
        ssq = ssq + G * G;
      }
      h[row] = h[row] + ssq / ncols;
      const C denom = sqrt_(h[row] + op.eps);
      for (std::size_t j = 0; j < len; ++j) {
        const std::size_t o = row * len + j;
        w[o] = w[o] - op.lr * op.grad(g[r * len + j]) / denom;
      }
    });
  });
}

template <class T>
void adadelta_update(T* weight, T* grad, T* acc_g, T* acc_delta, std::size_t n,
                     const AdaDeltaParams& p) {
  run_dense(AdaDeltaOp<compute_t<T>>(p), cp(weight), cp(grad), n, cp(acc_g), cp(acc_delta));
}

template <class T>
void multi_adagrad_update(std::size_t count, T* const* weights, const T* const* grads,
                          T* const* histories, const std::size_t* sizes,
                          const AdaGradParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    adagrad_update(weights[i] + lo, grads[i] + lo, histories[i] + lo, hi - lo, params[i]);
  });
}

#define MXOPT_INST(T)                                                                          \
  template void adagrad_update<T>(T*, const T*, T*, std::size_t, const AdaGradParams&);      \
  template void adagrad_update_rsp<T>(T*, std::size_t, const RowSparse<T>&, T*,              \
                                      const AdaGradParams&);                                 \
  template void group_adagrad_update<T>(T*, const T*, T*, std::size_t, std::size_t,          \
                                        const AdaGradParams&);                               \
  template void group_adagrad_update_rsp<T>(T*, std::size_t, const RowSparse<T>&, T*,        \
                                            const AdaGradParams&);                           \
  template void adadelta_update<T>(T*, T*, T*, T*, std::size_t, const AdaDeltaParams&);     \
  template void multi_adagrad_update<T>(std::size_t, T* const*, const T* const*, T* const*,  \
                                        const std::size_t*, const AdaGradParams*);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
