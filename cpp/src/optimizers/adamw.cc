// AdamW and AdaBelief kernels, MXNet's contrib forms and their multi-tensor forms (see
// mxopt/optimizers/adam.h for the formulas).
#include "mxopt/optimizers/adam.h"

#include "kernel_util.h"
#include "mxopt/optimizers/multi.h"

namespace mxopt::kernels {
namespace {
using namespace detail;

// AdamW / AdaBelief: kAgg selects the multi-tensor kernel forms. kSameG (single form): the
// rescaled gradient rg*g is g itself (rg == 1, no clipping), so the in-place rewrite of the
// gradient is skipped (it would store the value already there; only a signaling-NaN payload
// would come back quieted), saving a quarter of the kernel's write traffic.
template <class C, bool kClip, bool kAgg, bool kSameG = false>
struct AdamWOp {
  C lr, eta, b1, b2, omb1, omb2, eps, wd, rg, clip;
  explicit AdamWOp(const AdamWParams& p)
      : lr(p.lr),
        eta(p.eta),
        b1(p.beta1),
        b2(p.beta2),
        omb1(1.0f - p.beta1),
        omb2(1.0f - p.beta2),
        eps(p.epsilon),
        wd(p.wd),
        rg(p.rescale_grad),
        clip(p.clip_gradient) {}
  void operator()(C& w, C& g, C& m, C& v) const {
    C G = rg * g;
    if constexpr (kClip) G = kclip(G, clip);
    if constexpr (kAgg) {
      m = b1 * (m - G) + G;
      const C adj = G * G;
      v = b2 * (v - adj) + adj;
    } else {
      // MXNet's single-tensor kernel rescales/clips the gradient array in place
      if constexpr (!kSameG) g = G;
      m = b1 * m + omb1 * G;
      v = b2 * v + omb2 * (G * G);
    }
    w = w - eta * (lr * m / (sqrt_(v) + eps) + wd * w);
  }
};

template <class C, bool kClip, bool kAgg>
struct AdaBeliefOp : AdamWOp<C, kClip, kAgg> {
  using AdamWOp<C, kClip, kAgg>::AdamWOp;
  void operator()(C& w, C& g, C& m, C& s) const {
    C G = this->rg * g + this->wd * w;
    if constexpr (kClip) G = kclip(G, this->clip);
    if constexpr (kAgg) {
      m = this->b1 * (m - G) + G;
      const C d = m - G;
      const C adj = d * d;
      s = this->b2 * (s - adj) + adj + this->eps;
    } else {
      g = G;
      m = this->b1 * m + this->omb1 * G;
      const C d = G - m;
      s = this->b2 * s + this->omb2 * (d * d) + this->eps;
    }
    w = w - this->eta * (this->lr * m / (sqrt_(s) + this->eps));
  }
};

template <class C>
struct StepBase {
  C lr, b1, omb1, b2, omb2, eps, wd, rg, lr_wd;
  PClip clip;
  bool decay;
  explicit StepBase(const AdamStepParams& p)
      : lr(scalar<C>(p.lr)), b1(scalar<C>(p.beta1)), omb1(scalar<C>(p.one_minus_beta1)),
        b2(scalar<C>(p.beta2)), omb2(scalar<C>(p.one_minus_beta2)), eps(scalar<C>(p.epsilon)),
        wd(scalar<C>(p.wd)), rg(scalar<C>(p.rescale_grad)), lr_wd(scalar<C>(p.lr_wd)),
        clip(p.clip), decay(p.wd > 0) {}
  C clipped(C g) const { return clip.active ? pclip(g, clip.lo, clip.hi) : g; }
};

template <class C>
struct AdamWStepOp : StepBase<C> {
  using StepBase<C>::StepBase;
  void operator()(C& w, C& g, C& m, C& v) const {
    g = g * this->rg;
    const C G = this->clipped(g);
    m = m * this->b1;
    m = m + G * this->omb1;
    v = v * this->b2;
    v = v + G * G * this->omb2;
    const C d = m / (sqrt_(v) + this->eps);
    w = w - d * this->lr;
    if (this->decay) w = w - w * this->lr_wd;
  }
};

template <class C>
struct AdaBeliefStepOp : StepBase<C> {
  using StepBase<C>::StepBase;
  void operator()(C& w, C& g, C& m, C& s) const {
    g = g * this->rg;
    g = g + w * this->wd;
    const C G = this->clipped(g);
    m = m * this->b1;
    m = m + G * this->omb1;
    s = s * this->b2;
    const C dev = G - m;
    s = s + dev * dev * this->omb2;
    s = s + this->eps;
    const C d = m / (sqrt_(s) + this->eps);
    w = w - d * this->lr;
  }
};

bool finite_nonzero(float x) { return std::isfinite(x) && x != 0.0f; }

}  // namespace

template <class T>
bool adamw_update(T* weight, T* grad, T* mean, T* var, std::size_t n, const AdamWParams& p,
                  bool aggregated) {
  if (!finite_nonzero(p.rescale_grad)) return false;
  using C = compute_t<T>;
  const bool clip = p.clip_gradient >= 0.0f;
  if (!aggregated && !clip && p.rescale_grad == 1.0f) {
    run_dense(AdamWOp<C, false, false, true>(p), cp(weight), cp(grad), n, cp(mean), cp(var));
    return true;
  }
  dispatch(clip, [&](auto k) {
    dispatch(aggregated, [&](auto a) {
      run_dense(AdamWOp<C, decltype(k)::value, decltype(a)::value>(p), cp(weight), cp(grad), n,
                cp(mean), cp(var));
    });
  });
  return true;
}

template <class T>
bool adabelief_update(T* weight, T* grad, T* mean, T* var, std::size_t n, const AdamWParams& p,
                      bool aggregated) {
  if (!finite_nonzero(p.rescale_grad)) return false;
  using C = compute_t<T>;
  dispatch(p.clip_gradient >= 0.0f, [&](auto k) {
    dispatch(aggregated, [&](auto a) {
      run_dense(AdaBeliefOp<C, decltype(k)::value, decltype(a)::value>(p), cp(weight), cp(grad),
                n, cp(mean), cp(var));
    });
  });
  return true;
}

template <class T>
void adamw_step_update(T* weight, T* grad, T* mean, T* var, std::size_t n,
                       const AdamStepParams& p) {
  run_dense(AdamWStepOp<compute_t<T>>(p), cp(weight), cp(grad), n, cp(mean), cp(var));
}

template <class T>
void adabelief_step_update(T* weight, T* grad, T* mean, T* var, std::size_t n,
                           const AdamStepParams& p) {
  run_dense(AdaBeliefStepOp<compute_t<T>>(p), cp(weight), cp(grad), n, cp(mean), cp(var));
}

// ---- multi-tensor forms: the per-tensor kernels on slices (see multi.h) ----------------------
template <class T>
bool multi_adamw_update(std::size_t count, T* const* weights, T* const* grads, T* const* means,
                        T* const* vars, const std::size_t* sizes, const AdamWParams* params,
                        bool aggregated) {
  for (std::size_t i = 0; i < count; ++i)
    if (!finite_nonzero(params[i].rescale_grad)) return false;
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    adamw_update(weights[i] + lo, grads[i] + lo, means[i] + lo, vars[i] + lo, hi - lo, params[i],
                 aggregated);
  });
  return true;
}

bool multi_mp_adamw_update(std::size_t count, float16* const* weights,
                           const float16* const* grads, float* const* means, float* const* vars,
                           float* const* weights32, const std::size_t* sizes,
                           const AdamWParams* params, bool aggregated) {
  for (std::size_t i = 0; i < count; ++i)
    if (!finite_nonzero(params[i].rescale_grad)) return false;
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    dispatch(params[i].clip_gradient >= 0.0f, [&](auto k) {
      dispatch(aggregated, [&](auto a) {
        const AdamWOp<float, decltype(k)::value, decltype(a)::value> op(params[i]);
        // The float32 gradient copy of the per-tensor path (the single form rewrites it; it is
        // discarded), then the op on the master and the float16 rounding, in blocks.
        const std::int64_t n = static_cast<std::int64_t>(hi - lo);
        alignas(64) float gbuf[kMultiChunk];
        half_to_float(cp(grads[i] + lo), gbuf, n);
        float* gb = gbuf;
        float* w32 = weights32[i] + lo;
        float* m = means[i] + lo;
        float* v = vars[i] + lo;
        run_range(0, n, [op, gb, w32, m, v](std::size_t j) {
          apply_in_registers(op, w32[j], gb[j], m[j], v[j]);
        });
        float_to_half(w32, cp(weights[i] + lo), n);
      });
    });
  });
  return true;
}

#define MXOPT_INST(T)                                                                          \
  template bool adamw_update<T>(T*, T*, T*, T*, std::size_t, const AdamWParams&, bool);        \
  template bool adabelief_update<T>(T*, T*, T*, T*, std::size_t, const AdamWParams&, bool);    \
  template void adamw_step_update<T>(T*, T*, T*, T*, std::size_t, const AdamStepParams&);     \
  template void adabelief_step_update<T>(T*, T*, T*, T*, std::size_t, const AdamStepParams&); \
  template bool multi_adamw_update<T>(std::size_t, T* const*, T* const*, T* const*,             \
                                      T* const*, const std::size_t*, const AdamWParams*, bool);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
