// Ftrl and FTML kernels (see mxopt/optimizers/ftrl.h for the formulas).
#include "mxopt/optimizers/ftrl.h"

#include "kernel_util.h"

namespace mxopt::kernels {
namespace {
using namespace detail;

template <class C, bool kClip>
struct FtrlOp {
  C lr, l1, beta, wd, rg, clip;
  explicit FtrlOp(const FtrlParams& p)
      : lr(p.lr), l1(p.lamda1), beta(p.beta), wd(p.wd), rg(p.rescale_grad),
        clip(p.clip_gradient) {}
  void operator()(C& w, C g, C& z, C& n) const {
    C G = g * rg;
    if constexpr (kClip) G = kclip(G, clip);
    z = z + (G - (sqrt_(n + G * G) - sqrt_(n)) * w / lr);
    n = n + G * G;
    w = (sign_(z) * l1 - z) / ((beta + sqrt_(n)) / lr + wd) * C(abs_(z) > l1 ? 1 : 0);
  }
};

template <class C, bool kClip>
struct FTMLOp {
  C lr, b1, omb1, b2, omb2, eps, wd, rg, clip, omb1t, omb2t;
  explicit FTMLOp(const FTMLParams& p)
      : lr(p.lr), b1(p.beta1), omb1(C(1) - C(p.beta1)), b2(p.beta2), omb2(C(1) - C(p.beta2)),
        eps(p.epsilon), wd(p.wd), rg(p.rescale_grad), clip(p.clip_gradient),
        omb1t(C(1) - pow_(C(p.beta1), C(static_cast<float>(p.t)))),
        omb2t(C(1) - pow_(C(p.beta2), C(static_cast<float>(p.t)))) {}
  void operator()(C& w, C g, C& d, C& v, C& z) const {
    C G = rg * g + wd * w;
    if constexpr (kClip) G = kclip(G, clip);
    v = b2 * v + omb2 * (G * G);
    const C d_t = omb1t / lr * (sqrt_(v / omb2t) + eps);
    z = b1 * z + omb1 * G - (d_t - b1 * d) * w;
    d = d_t;
    w = -z / d_t;
  }
};

}  // namespace

template <class T>
void ftrl_update(T* weight, const T* grad, T* z, T* n, std::size_t count, const FtrlParams& p) {
  dispatch(p.clip_gradient >= 0.0f, [&](auto k) {
    run_dense(FtrlOp<compute_t<T>, decltype(k)::value>(p), cp(weight), cp(grad), count, cp(z),
              cp(n));
  });
}

template <class T>
void ftrl_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* z, T* n,
                     const FtrlParams& p) {
  check_row_indices(grad.indices, grad.num_rows, rows);
  dispatch(p.clip_gradient >= 0.0f, [&](auto k) {
    run_rows(FtrlOp<compute_t<T>, decltype(k)::value>(p), cp(weight), cp(grad.data),
             grad.indices, grad.num_rows, grad.row_length, cp(z), cp(n));
  });
}

template <class T>
void ftml_update(T* weight, const T* grad, T* d, T* v, T* z, std::size_t count,
                 const FTMLParams& p) {
  dispatch(p.clip_gradient >= 0.0f, [&](auto k) {
    run_dense(FTMLOp<compute_t<T>, decltype(k)::value>(p), cp(weight), cp(grad), count, cp(d),
              cp(v), cp(z));
  });
}

#define MXOPT_INST(T)                                                                       \
  template void ftrl_update<T>(T*, const T*, T*, T*, std::size_t, const FtrlParams&);     \
  template void ftrl_update_rsp<T>(T*, std::size_t, const RowSparse<T>&, T*, T*,          \
                                   const FtrlParams&);                                    \
  template void ftml_update<T>(T*, const T*, T*, T*, T*, std::size_t, const FTMLParams&);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
