// RMSProp kernels (see mxopt/optimizers/rmsprop.h for the formulas).
#include "mxopt/optimizers/rmsprop.h"

#include "kernel_util.h"
#include "mxopt/optimizers/multi.h"

namespace mxopt::kernels {
namespace {
using namespace detail;

template <class C>
struct RMSPropBase {
  C lr, g1, omg1, g2, eps, wd, rg, clip, clipw;
  bool clip_g, clip_w;
  explicit RMSPropBase(const RMSPropParams& p)
      : lr(p.lr),
        g1(p.gamma1),
        omg1(C(1) - C(p.gamma1)),
        g2(p.gamma2),
        eps(p.epsilon),
        wd(p.wd),
        rg(p.rescale_grad),
        clip(p.clip_gradient),
        clipw(p.clip_weights),
        clip_g(p.clip_gradient >= 0.0f),
        clip_w(p.clip_weights >= 0.0f) {}
  C grad(C w, C g) const {
    C G = rg * g + wd * w;
    return clip_g ? kclip(G, clip) : G;
  }
  C weight(C w) const { return clip_w ? kclip(w, clipw) : w; }
};

template <class C>
struct RMSPropOp : RMSPropBase<C> {
  using RMSPropBase<C>::RMSPropBase;
  void operator()(C& w, C g, C& n) const {
    const C G = this->grad(w, g);
    n = this->omg1 * (G * G) + this->g1 * n;
    w = this->weight(w - this->lr * (G / sqrt_(n + this->eps)));
  }
};

template <class C>
struct RMSPropAlexOp : RMSPropBase<C> {
  using RMSPropBase<C>::RMSPropBase;
  void operator()(C& w, C g, C& n, C& gbar, C& delta) const {
    const C G = this->grad(w, g);
    n = this->omg1 * G * G + this->g1 * n;
    gbar = this->omg1 * G + this->g1 * gbar;
    delta = this->g2 * delta - this->lr * G / sqrt_(n - gbar * gbar + this->eps);
    w = this->weight(w + delta);
  }
};

}  // namespace

template <class T>
void rmsprop_update(T* weight, const T* grad, T* n, std::size_t count, const RMSPropParams& p) {
  run_dense(RMSPropOp<compute_t<T>>(p), cp(weight), cp(grad), count, cp(n));
}

template <class T>
void rmspropalex_update(T* weight, const T* grad, T* n, T* gbar, T* delta, std::size_t count,
                        const RMSPropParams& p) {
  run_dense(RMSPropAlexOp<compute_t<T>>(p), cp(weight), cp(grad), count, cp(n), cp(gbar),
            cp(delta));
}

template <class T>
void multi_rmsprop_update(std::size_t count, T* const* weights, const T* const* grads,
                          T* const* ns, const std::size_t* sizes, const RMSPropParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    rmsprop_update(weights[i] + lo, grads[i] + lo, ns[i] + lo, hi - lo, params[i]);
  });
}

template <class T>
void multi_rmspropalex_update(std::size_t count, T* const* weights, const T* const* grads,
                              T* const* ns, T* const* gbars, T* const* deltas,
                              const std::size_t* sizes, const RMSPropParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    rmspropalex_update(weights[i] + lo, grads[i] + lo, ns[i] + lo, gbars[i] + lo, deltas[i] + lo,
                       hi - lo, params[i]);
  });
}

#define MXOPT_INST(T)                                                                      \
  template void rmsprop_update<T>(T*, const T*, T*, std::size_t, const RMSPropParams&); \
  template void rmspropalex_update<T>(T*, const T*, T*, T*, T*, std::size_t,             \
                                      const RMSPropParams&);                    \
  template void multi_rmsprop_update<T>(std::size_t, T* const*, const T* const*, T* const*, \
                                        const std::size_t*, const RMSPropParams*);          \
  template void multi_rmspropalex_update<T>(std::size_t, T* const*, const T* const*,        \
                                            T* const*, T* const*, T* const*,                \
                                            const std::size_t*, const RMSPropParams*);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
