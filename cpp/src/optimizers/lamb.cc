// LAMB and LANS kernels (see mxopt/optimizers/lamb.h for the formulas).
#include "mxopt/optimizers/lamb.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>

#include "kernel_util.h"
#include "mxopt/optimizers/multi.h"

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

// 1 - b^t in C, as multi_lamb computes its bias corrections. A list of tensors at one step asks
// for the same two values once per tensor and pass, and a pow costs about as much as a 64-element
// tensor's whole update, so the last two (b, t) pairs are kept per thread (compared bit for bit).
template <class C>
C one_minus_pow(C b, float t) {
  struct Entry {
    C b;
    float t;
    C r;
  };
  thread_local Entry cache[2] = {{C(0), -1.0f, C(0)}, {C(0), -1.0f, C(0)}};
  thread_local int older = 0;
  for (const Entry& e : cache)
    if (std::memcmp(&e.b, &b, sizeof b) == 0 && std::memcmp(&e.t, &t, sizeof t) == 0) return e.r;
  const C r = C(1) - pow_(b, C(t));
  cache[older] = {b, t, r};
  older ^= 1;
  return r;
}

// multi_lamb_update phase 1 (MPDType = C): u into a float buffer.
template <class C, bool kClip, bool kBiasCorrection>
struct MultiLambPhase1 {
  C rg, clip, b1, b2, omb1, omb2, eps, wd, c1, c2;
  explicit MultiLambPhase1(const LAMBParams& p)
      : rg(p.rescale_grad), clip(p.clip_gradient), b1(p.beta1), b2(p.beta2),
        omb1(C(1) - C(p.beta1)), omb2(C(1) - C(p.beta2)), eps(p.epsilon), wd(p.wd),
        c1(one_minus_pow(C(p.beta1), static_cast<float>(p.t))),
        c2(one_minus_pow(C(p.beta2), static_cast<float>(p.t))) {}
  void moments(C g, C& m, C& v) const {
    C G = g * rg;
    if constexpr (kClip) G = kclip(G, clip);
    m = b1 * m + omb1 * G;
    v = b2 * v + omb2 * G * G;
  }
  // u from the UPDATED moments and the not yet updated weight (deterministic: recomputing it
  // gives the same bits, so no buffer of u is needed).
  float dir(C w, C m, C v) const {
    if constexpr (kBiasCorrection)
      return static_cast<float>(m / c1 / (sqrt_(v / c2) + eps) + wd * w);
    else
      return static_cast<float>(m / (sqrt_(v) + eps) + wd * w);
  }
  float operator()(C w, C g, C& m, C& v) const {
    moments(g, m, v);
    return dir(w, m, v);
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
      parallel_for<kEveryIsa<C>>(
          n, [op, u, w, g, m, v](std::size_t i) { u[i] = op(w[i], g[i], m[i], v[i]); });
    });
  });
  using P = promote_t<C>;
  double r1d = 0.0, r2d = 0.0;
  both(n, [&] { r1d = nrm2(sp(w), n); }, [&] { r2d = nrm2(sp(u), n); });
  const C r1 = C(static_cast<P>(r1d)), r2 = C(static_cast<P>(r2d));
  const C lr = trust_lr(C(p.lr), r1, r2, p.lower_bound, p.upper_bound);
  parallel_for<kEveryIsa<C>>(n, [w, u, lr](std::size_t i) { w[i] = w[i] - lr * u[i]; });
}

// ---- multi_lamb_update over a list (also the single-tensor aggregated form) -------------------
// Three passes, none storing u:
//   1. moments (m, v) of every slice, in parallel;
//   2. per tensor, |w|^2 (weight dtype; the float16 weight for mp) and |u|^2 as multi_sum_sq
//      computes them (sequential float32 sums, in element order): u is recomputed chunk-wise
//      into an L1 buffer by the ISA-dispatched loop, then both sums run over the chunk;
//      different tensors run on different threads;
//   3. w = w - (lr*ratio)*u of every slice, in parallel, u recomputed again.
// Every value equals the per-tensor three-loop form bit for bit (same operations, same order).
constexpr std::size_t kNormChunk = 2048;
// Below this, the two chains interleaved in one loop beat two block-exact sums (sum_sq_from):
// 1000 tensors of 64 elements take 0.39 us per tensor against 0.41.
constexpr std::size_t kBlockSumsMin = 256;

template <class F>
void lamb_variant(const LAMBParams& p, F&& f) {
  dispatch(clips(p.clip_gradient), [&](auto k) {
    dispatch(p.bias_correction, [&](auto bc) { f(k, bc); });
  });
}

// Continues the sequential float32 sums s_w += wn[i]^2 (if want_w) and s_u += u[i]^2 (if
// want_u) over i in [0, n), u = op.dir(w, m, v): multi_sum_sq's order and rounding.
template <class Op, class C, class WN>
void lamb_sums(const Op& op, const C* w, const WN* wn, const C* m, const C* v, std::size_t n,
               bool want_w, bool want_u, float& s_w, float& s_u) {
  using P = promote_t<WN>;
  alignas(64) float u[kNormChunk];
  float a = s_w, b = s_u;
  for (std::size_t lo = 0; lo < n; lo += kNormChunk) {
    const std::size_t len = std::min(kNormChunk, n - lo);
    if (want_u) {
      float* ub = u;
      const C* wl = w + lo;
      const C* ml = m + lo;
      const C* vl = v + lo;
      run_range<kEveryIsa<C>>(0, static_cast<std::int64_t>(len),
                [op, ub, wl, ml, vl](std::size_t j) { ub[j] = op.dir(wl[j], ml[j], vl[j]); });
    }
    const WN* x = wn + lo;
    if constexpr (std::is_same_v<WN, half>) {
      if (want_w) {  // a float16 square is rounded to float16: x*x is exact in float32
        alignas(64) float sq[kNormChunk];
        alignas(64) half sqh[kNormChunk];
        const std::int64_t l = static_cast<std::int64_t>(len);
        half_to_float(x, sq, l);
        for (std::size_t j = 0; j < len; ++j) sq[j] = sq[j] * sq[j];
        float_to_half(sq, sqh, l);
        half_to_float(sqh, sq, l);
        if (want_u) {
          for (std::size_t j = 0; j < len; ++j) {
            a = a + sq[j];
            const float uq = u[j] * u[j];
            b = b + uq;
          }
        } else {
          for (std::size_t j = 0; j < len; ++j) a = a + sq[j];
        }
      } else {
        b = sum_sq_from(b, u, len);
      }
      continue;
    }
    if constexpr (std::is_same_v<WN, float>) {
      // The block-exact sums (memory speed); short tensors interleave the two chains below.
      if (len >= kBlockSumsMin) {
        if (want_w) a = sum_sq_from(a, x, len);
        if (want_u) b = sum_sq_from(b, u, len);
        continue;
      }
    }
    if (want_w && want_u) {
      for (std::size_t j = 0; j < len; ++j) {  // two independent chains in one loop
        const WN sq = x[j] * x[j];
        a = static_cast<float>(static_cast<P>(a) + static_cast<P>(sq));
        const float uq = u[j] * u[j];
        b = b + uq;
      }
    } else if (want_w) {
      for (std::size_t j = 0; j < len; ++j) {
        const WN sq = x[j] * x[j];
        a = static_cast<float>(static_cast<P>(a) + static_cast<P>(sq));
      }
    } else if (want_u) {
      for (std::size_t j = 0; j < len; ++j) {
        const float uq = u[j] * u[j];
        b = b + uq;
      }
    }
  }
  if (want_w) s_w = a;
  if (want_u) s_u = b;
}

// The moments of elements [lo, hi) (at most kMultiChunk): a float16 gradient read by float32
// arithmetic (the mp form) is converted in a block first (exact).
template <class Op, class C, class G>
void lamb_moments_range(const Op& op, const G* g, C* m, C* v, std::size_t lo, std::size_t hi) {
  if constexpr (std::is_same_v<G, half> && std::is_same_v<C, float>) {
    alignas(64) float gbuf[kMultiChunk];
    const std::int64_t n = static_cast<std::int64_t>(hi - lo);
    half_to_float(g + lo, gbuf, n);
    const float* gb = gbuf;
    float* ml = m + lo;
    float* vl = v + lo;
    run_range(0, n, [op, gb, ml, vl](std::size_t j) { op.moments(gb[j], ml[j], vl[j]); });
  } else {
    run_range<kEveryIsa<C>>(static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi),
              [op, g, m, v](std::size_t j) { op.moments(static_cast<C>(g[j]), m[j], v[j]); });
  }
}

// Pass 1: the moments of every slice (G: the gradient storage, converted to C; the mp form
// reads float16 gradients as float).
template <class C, class G>
void lamb_moments(std::size_t count, const G* const* g, C* const* m, C* const* v,
                  const std::size_t* sizes, const LAMBParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    lamb_variant(params[i], [&](auto k, auto bc) {
      const MultiLambPhase1<C, decltype(k)::value, decltype(bc)::value> op(params[i]);
      lamb_moments_range(op, g[i], m[i], v[i], lo, hi);
    });
  });
}

#if defined(MXOPT_HAVE_OPENMP)
// Passes 1 and 2 of ONE large tensor, pipelined: every thread computes the moments of slices
// (claimed in order from a counter) while thread 0 also runs the two norm sums over the slices
// that are ready, in element order. The sums are exactly the sequential ones; the elementwise
// moments do not depend on which thread computes them. Returns the trust ratio.
template <class Op, class C, class WN, class G>
float lamb_pipelined(const Op& op, const C* w, const WN* wn, const G* g, C* m, C* v,
                     std::size_t n, const LAMBParams& p) {
  const std::size_t ns = (n + kMultiChunk - 1) / kMultiChunk;
  std::unique_ptr<std::atomic<unsigned char>[]> ready(new std::atomic<unsigned char>[ns]);
  for (std::size_t s = 0; s < ns; ++s) ready[s].store(0, std::memory_order_relaxed);
  std::atomic<std::size_t> next{0};
  auto produce = [&](std::size_t s) {
    const std::int64_t lo = static_cast<std::int64_t>(s * kMultiChunk);
    const std::int64_t hi = static_cast<std::int64_t>(std::min(n, (s + 1) * kMultiChunk));
    lamb_moments_range(op, g, m, v, static_cast<std::size_t>(lo), static_cast<std::size_t>(hi));
    ready[s].store(1, std::memory_order_release);
  };
  float s_w = 0.0f, s_u = 0.0f;
#pragma omp parallel
  {
    if (omp_get_thread_num() == 0) {
      for (std::size_t r = 0; r < ns;) {
        if (ready[r].load(std::memory_order_acquire)) {
          const std::size_t lo = r * kMultiChunk, len = std::min(n - lo, kMultiChunk);
          lamb_sums(op, w + lo, wn + lo, m + lo, v + lo, len, true, true, s_w, s_u);
          ++r;
          continue;
        }
        const std::size_t s = next.fetch_add(1, std::memory_order_relaxed);
        if (s < ns)
          produce(s);
        else
          std::this_thread::yield();  // slice r is being computed by another thread
      }
    } else {
      for (;;) {
        const std::size_t s = next.fetch_add(1, std::memory_order_relaxed);
        if (s >= ns) break;
        produce(s);
      }
    }
  }
  return trust_lr(1.0f, std::sqrt(s_w), std::sqrt(s_u), p.lower_bound, p.upper_bound);
}

#endif  // MXOPT_HAVE_OPENMP

// The three passes over a list. w: the weights u is computed from (C); wn: the weights whose
// norm is r1 (== w, or the float16 weights of the mp form); g: the gradients (G, read as C);
// apply(i, lo, hi, op, ratio) is pass 3.
template <class C, class WN, class G, class Apply>
void lamb_passes(std::size_t count, C* const* w, const WN* const* wn, const G* const* g,
                 C* const* m, C* const* v, const std::size_t* sizes, const LAMBParams* params,
                 Apply&& apply) {
  std::vector<float> ratio(count, 1.0f);
#if defined(MXOPT_HAVE_OPENMP)
  const bool pipeline = count == 1 && use_threads(sizes[0]);
#else
  const bool pipeline = false;
#endif
  if (pipeline) {
#if defined(MXOPT_HAVE_OPENMP)
    lamb_variant(params[0], [&](auto k, auto bc) {
      const MultiLambPhase1<C, decltype(k)::value, decltype(bc)::value> op(params[0]);
      ratio[0] = lamb_pipelined(op, w[0], wn[0], g[0], m[0], v[0], sizes[0], params[0]);
    });
#endif
  } else {
    lamb_moments(count, g, m, v, sizes, params);
    for_each_tensor(count, sizes, [&](std::size_t i) {
      lamb_variant(params[i], [&](auto k, auto bc) {
        const MultiLambPhase1<C, decltype(k)::value, decltype(bc)::value> op(params[i]);
        float s_w = 0.0f, s_u = 0.0f;
        lamb_sums(op, w[i], wn[i], m[i], v[i], sizes[i], true, true, s_w, s_u);
        ratio[i] = trust_lr(1.0f, std::sqrt(s_w), std::sqrt(s_u), params[i].lower_bound,
                            params[i].upper_bound);
      });
    });
  }
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    lamb_variant(params[i], [&](auto k, auto bc) {
      const MultiLambPhase1<C, decltype(k)::value, decltype(bc)::value> op(params[i]);
      apply(i, lo, hi, op, ratio[i]);
    });
  });
}

template <class C>
void lamb_multi(std::size_t count, C* const* w, const C* const* g, C* const* m, C* const* v,
                const std::size_t* sizes, const LAMBParams* params) {
  lamb_passes(count, w, w, g, m, v, sizes, params,
                   [&](std::size_t i, std::size_t lo, std::size_t hi, const auto& op,
                       float ratio) {
                     const C lr = C(params[i].lr) * C(ratio);
                     C* wi = w[i];
                     const C* mi = m[i];
                     const C* vi = v[i];
                     run_range<kEveryIsa<C>>(static_cast<std::int64_t>(lo),
                                             static_cast<std::int64_t>(hi),
                                             [op, lr, wi, mi, vi](std::size_t j) {
                                               wi[j] = wi[j] - lr * C(op.dir(wi[j], mi[j], vi[j]));
                                             });
                   });
}

// mp: u from the float32 master and float(g), r1 = |float16 weight|; master -= lr*u, then
// weight = half(master).
void mp_lamb_multi(std::size_t count, half* const* w16, const half* const* g16, float* const* m,
                   float* const* v, float* const* w32, const std::size_t* sizes,
                   const LAMBParams* params) {
  lamb_passes(count, w32, w16, g16, m, v, sizes, params,
                   [&](std::size_t i, std::size_t lo, std::size_t hi, const auto& op,
                       float ratio) {
                     const float lr = params[i].lr * ratio;
                     float* wi = w32[i];
                     half* wh = w16[i];
                     const float* mi = m[i];
                     const float* vi = v[i];
                     run_range(static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi),
                               [op, lr, wi, mi, vi](std::size_t j) {
                                 wi[j] = wi[j] - lr * op.dir(wi[j], mi[j], vi[j]);
                               });
                     float_to_half(wi + lo, wh + lo, static_cast<std::int64_t>(hi - lo));
                   });
}

}  // namespace

template <class T>
void lamb_update(T* weight, const T* grad, T* mean, T* var, std::size_t n, const LAMBParams& p,
                 bool aggregated) {
  if (aggregated) {
    compute_t<T>* w = cp(weight);
    const compute_t<T>* g = cp(grad);
    compute_t<T>* m = cp(mean);
    compute_t<T>* v = cp(var);
    lamb_multi<compute_t<T>>(1, &w, &g, &m, &v, &n, &p);
  } else
    lamb_single(cp(weight), cp(grad), cp(mean), cp(var), n, p);
}

void mp_lamb_update(float16* weight, const float16* grad, float* mean, float* var,
                    float* weight32, std::size_t n, const LAMBParams& p, bool aggregated) {
  half* w = cp(weight);
  const half* g = cp(grad);
  if (aggregated) {
    mp_lamb_multi(1, &w, &g, &mean, &var, &weight32, &n, &p);
    return;
  }
  float* u = scratch<float>(n);
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
void multi_lamb_update(std::size_t count, T* const* weights, const T* const* grads,
                       T* const* means, T* const* vars, const std::size_t* sizes,
                       const LAMBParams* params) {
  using C = compute_t<T>;
  lamb_multi<C>(count, reinterpret_cast<C* const*>(weights),
                reinterpret_cast<const C* const*>(grads), reinterpret_cast<C* const*>(means),
                reinterpret_cast<C* const*>(vars), sizes, params);
}

void multi_mp_lamb_update(std::size_t count, float16* const* weights,
                          const float16* const* grads, float* const* means, float* const* vars,
                          float* const* weights32, const std::size_t* sizes,
                          const LAMBParams* params) {
  mp_lamb_multi(count, reinterpret_cast<half* const*>(weights),
                reinterpret_cast<const half* const*>(grads), means, vars, weights32, sizes,
                params);
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
  template void multi_lamb_update<T>(std::size_t, T* const*, const T* const*, T* const*,    \
                                     T* const*, const std::size_t*, const LAMBParams*);     \
  template void lans_update<T>(T*, const T*, T*, T*, std::size_t, const LANSParams&, bool, \
                               const float16*);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
