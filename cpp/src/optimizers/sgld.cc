// SGLD and DCASGD kernels (see mxopt/optimizers/sgld.h for the formulas).
#include "mxopt/optimizers/sgld.h"

#include "kernel_util.h"

namespace mxopt::kernels {
namespace {
using namespace detail;

template <class C>
struct SGLDOp {
  C rg, wd, neg_half_lr;
  PClip clip;
  explicit SGLDOp(const SGLDParams& p)
      : rg(scalar<C>(p.rescale_grad)), wd(scalar<C>(p.wd)), neg_half_lr(scalar<C>(p.neg_half_lr)),
        clip(p.clip) {}
  void operator()(C& w, C g, C noise) const {
    C G = g * rg;
    if (clip.active) G = pclip(G, clip.lo, clip.hi);
    w = w + (G + w * wd) * neg_half_lr;
    w = w + noise;
  }
};

template <class C>
struct DCASGDOp {
  C rg, wd, lamda, neg_lr;
  PClip clip;
  explicit DCASGDOp(const DCASGDParams& p)
      : rg(scalar<C>(p.rescale_grad)), wd(scalar<C>(p.wd)), lamda(scalar<C>(p.lamda)),
        neg_lr(scalar<C>(-p.lr)), clip(p.clip) {}
  void operator()(C& w, C g, C& w_prev) const {
    C G = g * rg;
    if (clip.active) G = pclip(G, clip.lo, clip.hi);
    const C d = ((G + w * wd) + G * lamda * G * (w - w_prev)) * neg_lr;
    w_prev = w;
    w = w + d;
  }
};

}  // namespace

template <class T>
void sgld_update(T* weight, const T* grad, const T* noise, std::size_t n, const SGLDParams& p) {
  run_dense(SGLDOp<compute_t<T>>(p), cp(weight), cp(grad), n, cp(noise));
}

template <class T>
void dcasgd_update(T* weight, const T* grad, T* weight_prev, std::size_t n,
                   const DCASGDParams& p) {
  run_dense(DCASGDOp<compute_t<T>>(p), cp(weight), cp(grad), n, cp(weight_prev));
}

#define MXOPT_INST(T)                                                                        \
  template void sgld_update<T>(T*, const T*, const T*, std::size_t, const SGLDParams&);   \
  template void dcasgd_update<T>(T*, const T*, T*, std::size_t, const DCASGDParams&);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
