// Signum / signSGD kernels (see mxopt/optimizers/signum.h).
#include "mxopt/optimizers/signum.h"

#include "kernel_util.h"

namespace mxopt::kernels {
namespace {
using namespace detail;

template <class C, bool kClip>
struct SignumOp {
  C mu, one_mu_wd, one_mu, one_mu_rg, rg, clip, lr, decay;
  explicit SignumOp(const SignumParams& p)
      : mu(p.momentum),
        one_mu_wd((C(1) - C(p.momentum)) * C(p.wd)),
        one_mu(C(1) - C(p.momentum)),
        one_mu_rg((C(1) - C(p.momentum)) * C(p.rescale_grad)),
        rg(p.rescale_grad),
        clip(p.clip_gradient),
        lr(p.lr),
        decay(C(1) - C(p.lr) * C(p.wd_lh)) {}
  void operator()(C& w, C g, C& mom) const {
    if constexpr (kClip)
      mom = mu * mom - one_mu_wd * w - one_mu * kclip(rg * g, clip);
    else
      mom = mu * mom - one_mu_wd * w - one_mu_rg * g;
    w = decay * w + lr * sign_(mom);
  }
};

template <class C>
struct SignSGDOp {
  C lr, decay;
  explicit SignSGDOp(const SignumParams& p) : lr(p.lr), decay(C(1) - C(p.lr) * C(p.wd)) {}
  void operator()(C& w, C g) const { w = decay * w - lr * sign_(g); }
};

}  // namespace

template <class T>
void signum_update(T* weight, const T* grad, T* mom, std::size_t n, const SignumParams& p) {
  using C = compute_t<T>;
  dispatch(p.clip_gradient >= 0.0f, [&](auto k) {
    run_dense(SignumOp<C, decltype(k)::value>(p), cp(weight), cp(grad), n, cp(mom));
  });
}

template <class T>
void signsgd_update(T* weight, const T* grad, std::size_t n, const SignumParams& p) {
  run_dense(SignSGDOp<compute_t<T>>(p), cp(weight), cp(grad), n);
}

#define MXOPT_INST(T)                                                                    \
  template void signum_update<T>(T*, const T*, T*, std::size_t, const SignumParams&); \
  template void signsgd_update<T>(T*, const T*, std::size_t, const SignumParams&);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
