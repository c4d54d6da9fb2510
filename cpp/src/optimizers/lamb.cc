// LAMB and LANS kernels (see mxopt/optimizers/lamb.h for the formulas).
#include "mxopt/optimizers/lamb.h"

#include "kernel_util.h"

namespace mxopt::kernels {
namespace {
using namespace detail;

// Ratio r1/r2 with MXNet's bounds and zero rules, in the compute type C.
template <class C>
C trust_lr(C lr, C r1, C r2, float lower, float upper) {
  if (lower >= 0.0f) r1 = maximum_(r1, C(lower));
  if (upper >= 0.0f) r1 = (r1 < C(upper)) ? r1 : C(upper);
  if (r1 == C(0) || r2 == C(0)) return lr * C(1);
  return lr * r1 / r2;
}

// multi_lamb_update phase 1 (MPDType = C): u into a float buffer.
template <class C, bool kClip, bool kBiasCorrection>
struct MultiLambPhase1 {
  C rg, clip, b1, b2, omb1, omb2, eps, wd, c1, c2;
  explicit MultiLambPhase1(const LAMBParams& p)
      : rg(p.rescale_grad), clip(p.clip_gradient), b1(p.beta1), b2(p.beta2),
        omb1(C(1) - C(p.beta1)), omb2(C(1) - C(p.beta2)), eps(p.epsilon), wd(p.wd),
        c1(C(1) - pow_(C(p.beta1), C(static_cast<float>(p.t)))),
        c2(C(1) - pow_(C(p.beta2), C(static_cast<float>(p.t)))) {}
  float operator()(C w, C g, C& m, C& v) const {
    C G = g * rg;
    if constexpr (kClip) G = kclip(G, clip);
    m = b1 * m + omb1 * G;
    v = b2 * v + omb2 * G * G;
    if constexpr (kBiasCorrection)
      return static_cast<float>(m / c1 / (sqrt_(v / c2) + eps) + wd * w);
    else
      return static_cast<float>(m / (sqrt_(v) + eps) + wd * w);
  }
};

// lamb_update_phase1 (single tensor, DType = C): b^t = DType(std::pow(float, int)) (a double
// power); the mean is divided by the double (1 - b1^t) (in float for half, as mshadow does).
template <class C, bool kClip, bool kBiasCorrection>
struct SingleLambPhase1 {
  C rg, clip, b1, b2, omb1, omb2, eps, wd, b1t, b2t;
  explicit SingleLambPhase1(const LAMBParams& p)
      : rg(p.rescale_grad), clip(p.clip_gradient), b1(p.beta1), b2(p.beta2),
        omb1(C(1) - C(p.beta1)), omb2(C(1) - C(p.beta2)), eps(p.epsilon), wd(p.wd),
        b1t(scalar<C>(std::pow(static_cast<double>(p.beta1), p.t))),
        b2t(scalar<C>(std::pow(static_cast<double>(p.beta2), p.t))) {}
  C operator()(C w, C g, C& m, C& v) const {
    C G = g * rg;
    if constexpr (kClip) G = kclip(G, clip);
    m = b1 * m + omb1 * G;
    v = b2 * v + omb2 * G * G;
    if constexpr (!kBiasCorrection) return m / (sqrt_(v) + eps) + wd * w;
    C mh;
    if constexpr (std::is_same_v<C, half>)
      mh = half(static_cast<float>(m) /
                static_cast<float>(1.0 - static_cast<double>(static_cast<float>(b1t))));
    else
      mh = static_cast<C>(static_cast<double>(m) / (1.0 - static_cast<double>(b1t)));
    const C vh = v / (C(1) - b2t);
    return mh / (sqrt_(vh) + eps) + wd * w;
  }
};

bool clips(float c) { return c >= 0.0f; }

// A per-thread scratch buffer for the update direction u (kept between calls: no page faults
// or zero-fill for every tensor).
template <class U>
U* scratch(std::size_t n) {
  thread_local std::vector<U> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// Two independent sequential reductions, on two threads when that pays off (each result is the
// same sequential sum as on one thread).
template <class F1, class F2>
void both(std::size_t n, F1&& a, F2&& b) {
#if defined(MXOPT_HAVE_OPENMP)
  if (use_threads(n)) {
#pragma omp parallel sections num_threads(2)
    {
#pragma omp section
      a();
#pragma omp section
      b();
    }
    return;
  }
#endif
  a();
  b();
}

template <class C>
void lamb_single(C* w, const C* g, C* m, C* v, std::size_t n, const LAMBParams& p) {
  C* u = scratch<C>(n);
  dispatch(clips(p.clip_gradient), [&](auto k) {
    dispatch(p.bias_correction, [&](auto bc) {
      const SingleLambPhase1<C, decltype(k)::value, decltype(bc)::value> op(p);
      parallel_for(n, [op, u, w, g, m, v](std::size_t i) { u[i] = op(w[i], g[i], m[i], v[i]); });
    });
  });
  using P = promote_t<C>;
  double r1d = 0.0, r2d = 0.0;
  both(n, [&] { r1d = nrm2(sp(w), n); }, [&] { r2d = nrm2(sp(u), n); });
  const C r1 = C(static_cast<P>(r1d)), r2 = C(static_cast<P>(r2d));
  const C lr = trust_lr(C(p.lr), r1, r2, p.lower_bound, p.upper_bound);
  parallel_for(n, [w, u, lr](std::size_t i) { w[i] = w[i] - lr * u[i]; });
}

template <class C>
void lamb_multi(C* w, const C* g, C* m, C* v, std::size_t n, const LAMBParams& p) {
  float* u = scratch<float>(n);
  dispatch(clips(p.clip_gradient), [&](auto k) {
    dispatch(p.bias_correction, [&](auto bc) {
      const MultiLambPhase1<C, decltype(k)::value, decltype(bc)::value> op(p);
      parallel_for(n, [op, u, w, g, m, v](std::size_t i) { u[i] = op(w[i], g[i], m[i], v[i]); });
    });
  });
  float s1 = 0.0f, s2 = 0.0f;
  both(n, [&] { s1 = sum_sq(sp(w), n); }, [&] { s2 = sum_sq(u, n); });
  const float r1 = std::sqrt(s1), r2 = std::sqrt(s2);
  const C lr = C(p.lr) * C(trust_lr(1.0f, r1, r2, p.lower_bound, p.upper_bound));
  parallel_for(n, [w, u, lr](std::size_t i) { w[i] = w[i] - lr * C(u[i]); });
}

}  // namespace

template <class T>
void lamb_update(T* weight, const T* grad, T* mean, T* var, std::size_t n, const LAMBParams& p,
                 bool aggregated) {
  if (aggregated)
    lamb_multi(cp(weight), cp(grad), cp(mean), cp(var), n, p);
  else
    lamb_single(cp(weight), cp(grad), cp(mean), cp(var), n, p);
}

void mp_lamb_update(float16* weight, const float16* grad, float* mean, float* var,
                    float* weight32, std::size_t n, const LAMBParams& p, bool aggregated) {
  half* w = cp(weight);
  const half* g = cp(grad);
  float* u = scratch<float>(n);
  if (aggregated) {
    dispatch(clips(p.clip_gradient), [&](auto k) {
      dispatch(p.bias_correction, [&](auto bc) {
        const MultiLambPhase1<float, decltype(k)::value, decltype(bc)::value> op(p);
        parallel_for(n, [op, u, weight32, g, mean, var](std::size_t i) {
          u[i] = op(weight32[i], static_cast<float>(g[i]), mean[i], var[i]);
        });
      });
    });
    float s1 = 0.0f, s2 = 0.0f;
    both(n, [&] { s1 = sum_sq(weight, n); }, [&] { s2 = sum_sq(u, n); });
    const float r1 = std::sqrt(s1), r2 = std::sqrt(s2);
    const float lr = p.lr * trust_lr(1.0f, r1, r2, p.lower_bound, p.upper_bound);
    parallel_for(n, [&](std::size_t i) {
      weight32[i] = weight32[i] - lr * u[i];
      w[i] = half(weight32[i]);
    });
    return;
  }
  // mp_lamb_update_phase1: the float16 gradient times the float rescale is rounded to half
  // (mshadow's half_t * float), then everything runs in float32 on the master copy.
  LAMBParams unit = p;
  unit.rescale_grad = 1.0f;
  dispatch(clips(p.clip_gradient), [&](auto k) {
    dispatch(p.bias_correction, [&](auto bc) {
      const SingleLambPhase1<float, decltype(k)::value, decltype(bc)::value> op(unit);
      parallel_for(n, [&](std::size_t i) {
        const float G = static_cast<float>(half(static_cast<float>(g[i]) * p.rescale_grad));
        u[i] = op(weight32[i], G, mean[i], var[i]);
      });
    });
  });
  double r1d = 0.0, r2d = 0.0;
  both(n, [&] { r1d = nrm2(weight32, n); }, [&] { r2d = nrm2(u, n); });
  const float r1 = static_cast<float>(r1d), r2 = static_cast<float>(r2d);
  const float lr = trust_lr(p.lr, r1, r2, p.lower_bound, p.upper_bound);
  parallel_for(n, [&](std::size_t i) { w[i] = half(weight32[i] - lr * u[i]); });
}

template <class T>
void lans_update(T* weight, const T* grad, T* mean, T* var, std::size_t n, const LANSParams& p,
                 bool fused, const float16* norm_weight) {
  using C = compute_t<T>;
  using P = promote_t<C>;
  C* w = cp(weight);
  const C* g = cp(grad);
  C* m = cp(mean);
  C* v = cp(var);
  const C rg(p.rescale_grad), b1(p.beta1), b2(p.beta2), eps(p.epsilon), wd(p.wd);
  const C omb1 = fused ? C(1) - b1 : scalar<C>(p.one_minus_beta1);
  const C omb2 = fused ? C(1) - b2 : scalar<C>(p.one_minus_beta2);
  const C c1 = C(1) - pow_(b1, C(static_cast<float>(p.t)));
  const C c2 = C(1) - pow_(b2, C(static_cast<float>(p.t)));
  // |rg*g|, accumulated like multi_sum_sq.
  float gss = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const C x = g[i] * rg;
    const C sq = x * x;
    gss = static_cast<float>(static_cast<P>(gss) + static_cast<P>(sq));
  }
  const C gnorm(std::sqrt(gss));
  std::vector<float> G(n), um(n), ug(n);
  const C clip(p.clip_gradient);
  for (std::size_t i = 0; i < n; ++i) {
    C x = g[i] * rg / gnorm;
    if (fused) {
      if (p.clip_gradient >= 0.0f) x = kclip(x, clip);
    } else if (p.p_clip) {
      x = pclip(x, -p.clip_gradient, p.clip_gradient);
    }
    m[i] = b1 * m[i] + omb1 * x;
    v[i] = b2 * v[i] + omb2 * x * x;
    const C d = sqrt_(v[i] / c2) + eps;
    um[i] = static_cast<float>(m[i] / c1 / d + wd * w[i]);
    G[i] = static_cast<float>(x / d);  // ug without the weight-decay term
  }
  float r1 = std::sqrt(norm_weight ? sum_sq(norm_weight, n) : sum_sq(sp(w), n));
  if (p.lower_bound >= 0.0f) r1 = std::max(r1, p.lower_bound);
  if (p.upper_bound >= 0.0f) r1 = std::min(r1, p.upper_bound);
  auto ratio = [&](float r2) { return (r1 == 0.0f || r2 == 0.0f) ? 1.0f : r1 / r2; };
  const float rm = ratio(std::sqrt(sum_sq(um.data(), n)));
  const C lr(p.lr);
  const C lr_m = lr * (C(rm) * b1);
  if (fused) {
    for (std::size_t i = 0; i < n; ++i) ug[i] = static_cast<float>(C(G[i]) + wd * w[i]);
    const C lr_g = lr * C(static_cast<float>(static_cast<double>(ratio(std::sqrt(sum_sq(ug.data(), n)))) *
                                             (1.0 - static_cast<double>(static_cast<P>(b1)))));
    for (std::size_t i = 0; i < n; ++i) w[i] = w[i] - (lr_m * C(um[i]) + lr_g * C(ug[i]));
    return;
  }
  for (std::size_t i = 0; i < n; ++i) w[i] = w[i] - lr_m * C(um[i]);
  for (std::size_t i = 0; i < n; ++i) ug[i] = static_cast<float>(C(G[i]) + wd * w[i]);
  const C lr_g = lr * (C(ratio(std::sqrt(sum_sq(ug.data(), n)))) * omb1);
  for (std::size_t i = 0; i < n; ++i) w[i] = w[i] - lr_g * C(ug[i]);
}

#define MXOPT_INST(T)                                                                        \
  template void lamb_update<T>(T*, const T*, T*, T*, std::size_t, const LAMBParams&, bool); \
  template void lans_update<T>(T*, const T*, T*, T*, std::size_t, const LANSParams&, bool, \
                               const float16*);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
