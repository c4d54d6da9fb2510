// Adam, Adamax and Nadam kernels (see mxopt/optimizers/adam.h for the formulas; AdamW and
// AdaBelief are in adamw.cc).
#include "mxopt/optimizers/adam.h"

#include "kernel_util.h"
#include "mxopt/optimizers/multi.h"

namespace mxopt::kernels {
namespace {
using namespace detail;

// adam_update (dense and lazy row_sparse). kSquareFirst: variance increment (1-b2)*(G*G)
// (row_sparse kernels) instead of ((1-b2)*G)*G.
template <class C, bool kClip, bool kSquareFirst>
struct AdamOp {
  C lr, b1, b2, omb1, omb2, eps, wd, rg, clip;
  explicit AdamOp(const AdamParams& p)
      : lr(p.lr),
        b1(p.beta1),
        b2(p.beta2),
        omb1(C(1) - C(p.beta1)),
        omb2(C(1) - C(p.beta2)),
        eps(p.epsilon),
        wd(p.wd),
        rg(p.rescale_grad),
        clip(p.clip_gradient) {}
  // G for a present gradient element / for a row absent from a row_sparse gradient.
  C grad(C w, C g) const { return g * rg + w * wd; }
  void apply(C& w, C G, C& m, C& v) const {
    if constexpr (kClip) G = kclip(G, clip);
    m = b1 * m + omb1 * G;
    if constexpr (kSquareFirst)
      v = b2 * v + omb2 * (G * G);
    else
      v = b2 * v + omb2 * G * G;
    w = w - lr * m / (sqrt_(v) + eps);
  }
  void operator()(C& w, C g, C& m, C& v) const { apply(w, grad(w, g), m, v); }
};

template <class C>
struct AdamaxOp {
  C lr, b1, omb1, b2, wd, rg;
  PClip clip;
  explicit AdamaxOp(const AdamaxParams& p)
      : lr(scalar<C>(p.lr)),
        b1(scalar<C>(p.beta1)),
        omb1(scalar<C>(p.one_minus_beta1)),
        b2(scalar<C>(p.beta2)),
        wd(scalar<C>(p.wd)),
        rg(scalar<C>(p.rescale_grad)),
        clip(p.clip) {}
  void operator()(C& w, C g, C& m, C& u) const {
    C G = g * rg + w * wd;
    if (clip.active) G = pclip(G, clip.lo, clip.hi);
    m = m * b1;
    m = m + G * omb1;
    u = maximum_(u * b2, abs_(G));
    w = w - m * lr / u;
  }
};

template <class C>
struct NadamOp {
  C lr, b1, omb1, b2, omb2, eps, wd, rg, omt, mt1, oms, omsn, omb2t;
  PClip clip;
  explicit NadamOp(const NadamParams& p)
      : lr(scalar<C>(p.lr)),
        b1(scalar<C>(p.beta1)),
        omb1(scalar<C>(p.one_minus_beta1)),
        b2(scalar<C>(p.beta2)),
        omb2(scalar<C>(p.one_minus_beta2)),
        eps(scalar<C>(p.epsilon)),
        wd(scalar<C>(p.wd)),
        rg(scalar<C>(p.rescale_grad)),
        omt(scalar<C>(p.one_minus_momentum_t)),
        mt1(scalar<C>(p.momentum_t1)),
        oms(scalar<C>(p.one_minus_m_schedule)),
        omsn(scalar<C>(p.one_minus_m_schedule_next)),
        omb2t(scalar<C>(p.one_minus_beta2_t)),
        clip(p.clip) {}
  void operator()(C& w, C g, C& m, C& v) const {
    C G = g * rg + w * wd;
    if (clip.active) G = pclip(G, clip.lo, clip.hi);
    m = m * b1;
    m = m + G * omb1;
    v = v * b2;
    v = v + G * omb2 * G;
    const C gp = G / oms;
    const C mp = m / omsn;
    const C vp = v / omb2t;
    const C mbar = gp * omt + mp * mt1;
    w = w - mbar * lr / (sqrt_(vp) + eps);
  }
};

}  // namespace

template <class T>
void adam_update(T* weight, const T* grad, T* mean, T* var, std::size_t n, const AdamParams& p) {
  using C = compute_t<T>;
  dispatch(p.clip_gradient >= 0.0f, [&](auto k) {
    run_dense(AdamOp<C, decltype(k)::value, false>(p), cp(weight), cp(grad), n, cp(mean),
              cp(var));
  });
}

template <class T>
void adam_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* mean, T* var,
                     const AdamParams& p, bool lazy) {
  using C = compute_t<T>;
  check_row_indices(grad.indices, grad.num_rows, rows);
  C* w = cp(weight);
  C* m = cp(mean);
  C* v = cp(var);
  const C* g = cp(grad.data);
  const std::size_t len = grad.row_length;
  const bool clip = p.clip_gradient >= 0.0f;
  if (lazy) {
    // MXNet's lazy kernel squares first only when it clips.
    dispatch(clip, [&](auto k) {
      constexpr bool kClip = decltype(k)::value;
      run_rows(AdamOp<C, kClip, kClip>(p), w, g, grad.indices, grad.num_rows, len, m, v);
    });
    return;
  }
  const std::vector<std::int64_t> row_of = gradient_row_map(grad.indices, grad.num_rows, rows);
  dispatch(clip, [&](auto k) {
    const AdamOp<C, decltype(k)::value, true> op(p);
    parallel_rows(rows, len, [&](std::size_t i) {
      const std::int64_t r = row_of[i];
      for (std::size_t j = 0; j < len; ++j) {
        const std::size_t o = i * len + j;
        const C G = r >= 0 ? op.grad(w[o], g[static_cast<std::size_t>(r) * len + j]) : w[o] * op.wd;
        op.apply(w[o], G, m[o], v[o]);
      }
    });
  });
}

template <class T>
void adamax_update(T* weight, const T* grad, T* mean, T* u, std::size_t n,
                   const AdamaxParams& p) {
  run_dense(AdamaxOp<compute_t<T>>(p), cp(weight), cp(grad), n, cp(mean), cp(u));
}

template <class T>
void nadam_update(T* weight, const T* grad, T* mean, T* var, std::size_t n,
                  const NadamParams& p) {
  run_dense(NadamOp<compute_t<T>>(p), cp(weight), cp(grad), n, cp(mean), cp(var));
}

// ---- multi-tensor forms: the per-tensor kernels on slices (see multi.h) ----------------------
template <class T>
void multi_adam_update(std::size_t count, T* const* weights, const T* const* grads,
                       T* const* means, T* const* vars, const std::size_t* sizes,
                       const AdamParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    adam_update(weights[i] + lo, grads[i] + lo, means[i] + lo, vars[i] + lo, hi - lo, params[i]);
  });
}

void multi_mp_adam_update(std::size_t count, float16* const* weights, const float16* const* grads,
                          float* const* means, float* const* vars, float* const* weights32,
                          const std::size_t* sizes, const AdamParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    dispatch(params[i].clip_gradient >= 0.0f, [&](auto k) {
      run_dense_mp(AdamOp<float, decltype(k)::value, false>(params[i]), cp(weights[i] + lo),
                   cp(grads[i] + lo), weights32[i] + lo, hi - lo, means[i] + lo, vars[i] + lo);
    });
  });
}

#define MXOPT_INST(T)                                                                       \
  template void adam_update<T>(T*, const T*, T*, T*, std::size_t, const AdamParams&);     \
  template void adam_update_rsp<T>(T*, std::size_t, const RowSparse<T>&, T*, T*,          \
                                   const AdamParams&, bool);                              \
  template void adamax_update<T>(T*, const T*, T*, T*, std::size_t, const AdamaxParams&); \
  template void nadam_update<T>(T*, const T*, T*, T*, std::size_t, const NadamParams&);   \
  template void multi_adam_update<T>(std::size_t, T* const*, const T* const*, T* const*,   \
                                     T* const*, const std::size_t*, const AdamParams*);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
