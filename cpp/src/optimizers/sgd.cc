// SGD-family kernels (see mxopt/optimizers/sgd.h for the formulas).
#include "mxopt/optimizers/sgd.h"

#include <algorithm>

#include "kernel_util.h"
#include "mxopt/optimizers/multi.h"

namespace mxopt::kernels {
namespace {
using namespace detail;

// sgd_update: w = (1 - eta*lambda)*w - eta*K(rg*g)
template <class C, bool kClip>
struct SGDOp {
  C lr, rg, clip, decay, lr_rg;
  explicit SGDOp(const SGDParams& p)
      : lr(p.lr),
        rg(p.rescale_grad),
        clip(p.clip_gradient),
        decay(C(1) - C(p.lr) * C(p.wd)),
        lr_rg(C(p.lr) * C(p.rescale_grad)) {}
  void operator()(C& w, C g) const {
    if constexpr (kClip)
      w = decay * w - lr * kclip(rg * g, clip);
    else
      w = decay * w - lr_rg * g;
  }
};

// sgd_mom_update / multi_sgd_*: m = ((mu*mom) - (eta*lambda)*w) - eta*K(rg*g); w += m
template <class C, bool kClip>
struct SGDMomOp {
  C mu, lr, lr_wd, rg, clip, lr_rg;
  explicit SGDMomOp(const SGDParams& p)
      : mu(p.momentum),
        lr(p.lr),
        lr_wd(C(p.lr) * C(p.wd)),
        rg(p.rescale_grad),
        clip(p.clip_gradient),
        lr_rg(C(p.lr) * C(p.rescale_grad)) {}
  C step(C w, C g, C mom) const {
    if constexpr (kClip)
      return mu * mom - lr_wd * w - lr * kclip(rg * g, clip);
    else
      return mu * mom - lr_wd * w - lr_rg * g;
  }
  void operator()(C& w, C g, C& mom) const {
    const C m = step(w, g, mom);
    mom = m;
    w = w + m;
  }
  // multi_sgd_update: no momentum state, the momentum term is mu*0.
  void operator()(C& w, C g) const { w = w + step(w, g, C(0)); }
};

// preloaded_multi_sgd_*: lr and wd are float32 inside the kernel: eta*lambda is a float32
// product, and a float32 x C product is evaluated in the promoted type and rounded once to C.
template <class C, bool kClip>
struct PreloadedSGDMomOp {
  using P = promote_t<C>;
  float lr, lr_wd;
  C mu, rg, clip, lr_rg;
  explicit PreloadedSGDMomOp(const SGDParams& p)
      : lr(p.lr), lr_wd(p.lr * p.wd), mu(p.momentum), rg(p.rescale_grad),
        clip(p.clip_gradient), lr_rg(mul(p.lr, C(p.rescale_grad))) {}
  static C mul(float a, C b) { return C(static_cast<P>(a) * static_cast<P>(b)); }
  C step(C w, C g, C mom) const {
    if constexpr (kClip)
      return mu * mom - mul(lr_wd, w) - mul(lr, kclip(rg * g, clip));
    else
      return mu * mom - mul(lr_wd, w) - lr_rg * g;
  }
  void operator()(C& w, C g, C& mom) const {
    const C m = step(w, g, mom);
    mom = m;
    w = w + m;
  }
  void operator()(C& w, C g) const { w = w + step(w, g, C(0)); }
};

template <class C, bool kClip>
struct NAGMomOp {
  C mu, mu1, lr, wd, rg, clip;
  explicit NAGMomOp(const SGDParams& p)
      : mu(p.momentum),
        mu1(C(p.momentum) + C(1)),
        lr(p.lr),
        wd(p.wd),
        rg(p.rescale_grad),
        clip(p.clip_gradient) {}
  void operator()(C& w, C g, C& mom) const {
    mom = mu * mom;
    C gg = rg * g;
    if constexpr (kClip) gg = kclip(gg, clip);
    const C wn = (w - mom) + mu1 * (mom - lr * (gg + wd * w));
    mom = mom - lr * (gg + wd * wn);
    w = wn;
  }
};

bool clips(const SGDParams& p) { return p.clip_gradient >= 0.0f; }

}  // namespace

template <class T>
void sgd_update(T* weight, const T* grad, std::size_t n, const SGDParams& p) {
  using C = compute_t<T>;
  dispatch(clips(p), [&](auto k) {
    run_dense(SGDOp<C, decltype(k)::value>(p), cp(weight), cp(grad), n);
  });
}

template <class T>
void sgd_mom_update(T* weight, const T* grad, T* mom, std::size_t n, const SGDParams& p) {
  using C = compute_t<T>;
  dispatch(clips(p), [&](auto k) {
    const SGDMomOp<C, decltype(k)::value> op(p);
    if (mom)
      run_dense(op, cp(weight), cp(grad), n, cp(mom));
    else
      run_dense(op, cp(weight), cp(grad), n);
  });
}

template <class T>
void preloaded_sgd_mom_update(T* weight, const T* grad, T* mom, std::size_t n,
                              const SGDParams& p) {
  using C = compute_t<T>;
  dispatch(clips(p), [&](auto k) {
    const PreloadedSGDMomOp<C, decltype(k)::value> op(p);
    if (mom)
      run_dense(op, cp(weight), cp(grad), n, cp(mom));
    else
      run_dense(op, cp(weight), cp(grad), n);
  });
}

void mp_sgd_update(float16* weight, const float16* grad, float* weight32, std::size_t n,
                   const SGDParams& p) {
  dispatch(clips(p), [&](auto k) {
    run_dense_mp(SGDOp<float, decltype(k)::value>(p), cp(weight), cp(grad), weight32, n);
  });
}

void mp_sgd_mom_update(float16* weight, const float16* grad, float* mom, float* weight32,
                       std::size_t n, const SGDParams& p) {
  dispatch(clips(p), [&](auto k) {
    const SGDMomOp<float, decltype(k)::value> op(p);
    if (mom)
      run_dense_mp(op, cp(weight), cp(grad), weight32, n, mom);
    else
      run_dense_mp(op, cp(weight), cp(grad), weight32, n);
  });
}

template <class T>
void sgd_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, const SGDParams& p,
                    bool lazy) {
  using C = compute_t<T>;
  check_row_indices(grad.indices, grad.num_rows, rows);
  C* w = cp(weight);
  const std::size_t len = grad.row_length;
  if (lazy) {
    dispatch(clips(p), [&](auto k) {
      run_rows(SGDOp<C, decltype(k)::value>(p), w, cp(grad.data), grad.indices, grad.num_rows,
               len);
    });
    return;
  }
  // Standard update: weight decay on every row (factor computed in float32), then the
  // gradient rows without decay.
  const C decay(1.0f - p.lr * p.wd);
  parallel_for<kEveryIsa<C>>(rows * len, [&](std::size_t i) { w[i] = w[i] * decay; });
  SGDParams no_wd = p;
  no_wd.wd = 0.0f;
  dispatch(clips(p), [&](auto k) {
    run_rows(SGDOp<C, decltype(k)::value>(no_wd), w, cp(grad.data), grad.indices, grad.num_rows,
             len);
  });
}

template <class T>
void sgd_mom_update_rsp(T* weight, std::size_t rows, const RowSparse<T>& grad, T* mom,
                        const SGDParams& p, bool lazy) {
  using C = compute_t<T>;
  check_row_indices(grad.indices, grad.num_rows, rows);
  C* w = cp(weight);
  C* m = cp(mom);
  const C* g = cp(grad.data);
  const std::size_t len = grad.row_length;
  dispatch(clips(p), [&](auto k) {
    const SGDMomOp<C, decltype(k)::value> op(p);
    if (lazy) {
      run_rows(op, w, g, grad.indices, grad.num_rows, len, m);
      return;
    }
    const std::vector<std::int64_t> row_of = gradient_row_map(grad.indices, grad.num_rows, rows);
    parallel_rows(rows, len, [&](std::size_t i) {
      const std::int64_t r = row_of[i];
      for (std::size_t j = 0; j < len; ++j) {
        const std::size_t o = i * len + j;
        op(w[o], r >= 0 ? g[static_cast<std::size_t>(r) * len + j] : C(0), m[o]);
      }
    });
  });
}

template <class T>
void nag_mom_update(T* weight, const T* grad, T* mom, std::size_t n, const SGDParams& p) {
  using C = compute_t<T>;
  dispatch(clips(p), [&](auto k) {
    run_dense(NAGMomOp<C, decltype(k)::value>(p), cp(weight), cp(grad), n, cp(mom));
  });
}

void mp_nag_mom_update(float16* weight, const float16* grad, float* mom, float* weight32,
                       std::size_t n, const SGDParams& p) {
  dispatch(clips(p), [&](auto k) {
    run_dense_mp(NAGMomOp<float, decltype(k)::value>(p), cp(weight), cp(grad), weight32, n, mom);
  });
}

// ---- multi-tensor forms: the per-tensor kernels on slices (see multi.h) ----------------------
template <class T>
void multi_sgd_mom_update(std::size_t count, T* const* weights, const T* const* grads,
                          T* const* moms, const std::size_t* sizes, const SGDParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    sgd_mom_update(weights[i] + lo, grads[i] + lo, moms ? moms[i] + lo : nullptr, hi - lo,
                   params[i]);
  });
}

template <class T>
void multi_sgd_update(std::size_t count, T* const* weights, const T* const* grads,
                      const std::size_t* sizes, const SGDParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    sgd_update(weights[i] + lo, grads[i] + lo, hi - lo, params[i]);
  });
}

template <class T>
void multi_nag_mom_update(std::size_t count, T* const* weights, const T* const* grads,
                          T* const* moms, const std::size_t* sizes, const SGDParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    nag_mom_update(weights[i] + lo, grads[i] + lo, moms[i] + lo, hi - lo, params[i]);
  });
}

void multi_mp_sgd_mom_update(std::size_t count, float16* const* weights,
                             const float16* const* grads, float* const* moms,
                             float* const* weights32, const std::size_t* sizes,
                             const SGDParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    mp_sgd_mom_update(weights[i] + lo, grads[i] + lo, moms ? moms[i] + lo : nullptr,
                      weights32[i] + lo, hi - lo, params[i]);
  });
}

void multi_mp_sgd_update(std::size_t count, float16* const* weights, const float16* const* grads,
                         float* const* weights32, const std::size_t* sizes,
                         const SGDParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    mp_sgd_update(weights[i] + lo, grads[i] + lo, weights32[i] + lo, hi - lo, params[i]);
  });
}

void multi_mp_nag_mom_update(std::size_t count, float16* const* weights,
                             const float16* const* grads, float* const* moms,
                             float* const* weights32, const std::size_t* sizes,
                             const SGDParams* params) {
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    mp_nag_mom_update(weights[i] + lo, grads[i] + lo, moms[i] + lo, weights32[i] + lo, hi - lo,
                      params[i]);
  });
}

float lars_lr(float lr, float w_sum_sq, float g_sum_sq, float wd, float eta, float eps,
              float rescale_grad) {
  const float w_norm = std::sqrt(w_sum_sq);
  if (!(w_norm > 0.0f && g_sum_sq > 0.0f)) return lr;
  return lr * eta * w_norm / (std::sqrt(g_sum_sq) * rescale_grad + wd * w_norm + eps);
}

namespace {
// The LARS rates of a list: sum_sq(w) and sum_sq(g) of every LARS tensor (all of these sequential
// recurrences interleaved and spread over threads by sum_sq_many).
template <class T>
std::vector<float> lars_rates(std::size_t count, const T* const* w, const T* const* g,
                              const std::size_t* sizes, const SGDParams* params,
                              const bool* use_lars, float eta, float eps) {
  std::vector<const T*> arrays;
  std::vector<std::size_t> lengths;
  for (std::size_t i = 0; i < count; ++i) {
    if (!use_lars[i]) continue;
    arrays.insert(arrays.end(), {w[i], g[i]});
    lengths.insert(lengths.end(), {sizes[i], sizes[i]});
  }
  std::vector<float> sums(arrays.size());
  sum_sq_many(arrays.size(), arrays.data(), lengths.data(), sums.data());
  std::vector<float> lr(count);
  for (std::size_t i = 0, k = 0; i < count; ++i) {
    if (!use_lars[i]) {
      lr[i] = params[i].lr;
      continue;
    }
    lr[i] = lars_lr(params[i].lr, sums[k], sums[k + 1], params[i].wd, eta, eps,
                    params[i].rescale_grad);
    k += 2;
  }
  return lr;
}

// float32 LARS over a list (with AVX2) with each tensor's norms and update back to back: the
// update finds w and g still in cache, so a parameter costs 20 B of memory traffic instead of 28
// when every norm comes first. The values are the same (a tensor's rate depends only on its
// own w and g). Whole tensors are spread over the threads by for_each_tensor (longest first),
// except tensors that would hold one thread up (more than a thread's share of the list, and at
// least kLarsSharedMin elements): those are done first, one at a time by all the threads (the
// norms of w and g side by side, then the update split).
constexpr std::size_t kLarsSharedMin = std::size_t{1} << 18;

// The momentum step of elements [lo, hi) at rate lr, on the calling thread (slices of
// kMultiChunk never start threads).
void lars_apply(float* w, const float* g, float* m, std::size_t lo, std::size_t hi,
                SGDParams p, float lr) {
  p.lr = lr;
  for (std::size_t a = lo; a < hi; a += kMultiChunk)
    preloaded_sgd_mom_update(w + a, g + a, m ? m + a : nullptr, std::min(kMultiChunk, hi - a), p);
}

void multi_lars_fused(std::size_t count, float* const* w, const float* const* g,
                      float* const* m, const std::size_t* sizes, const SGDParams* params,
                      const bool* use_lars, float eta, float eps) {
  auto rate = [&](std::size_t i, float sw, float sg) {
    const SGDParams& p = params[i];
    return use_lars[i] ? lars_lr(p.lr, sw, sg, p.wd, eta, eps, p.rescale_grad) : p.lr;
  };
  // A whole tensor on the calling thread.
  auto one = [&](std::size_t i) {
    const std::size_t n = sizes[i];
    float sw = 0.0f, sg = 0.0f;
    if (use_lars[i]) {
      sw = sum_sq_from(0.0f, w[i], n);
      sg = sum_sq_from(0.0f, g[i], n);
    }
    lars_apply(w[i], g[i], m ? m[i] : nullptr, 0, n, params[i], rate(i, sw, sg));
  };
  std::size_t total = 0;
  for (std::size_t i = 0; i < count; ++i) total += sizes[i];
  std::vector<std::size_t> shared, whole, whole_sizes;
#if defined(MXOPT_HAVE_OPENMP)
  const std::size_t threads = multi_threads(count, total)
                                  ? static_cast<std::size_t>(omp_get_max_threads())
                                  : 1;
#else
  const std::size_t threads = 1;
#endif
  for (std::size_t i = 0; i < count; ++i) {
    if (threads > 1 && sizes[i] >= kLarsSharedMin && sizes[i] * threads > total) {
      shared.push_back(i);
    } else {
      whole.push_back(i);
      whole_sizes.push_back(sizes[i]);
    }
  }
#if defined(MXOPT_HAVE_OPENMP)
  if (!shared.empty()) {
    float sw = 0.0f, sg = 0.0f;
#pragma omp parallel
    {
      const std::size_t nt = static_cast<std::size_t>(omp_get_num_threads());
      const std::size_t th = static_cast<std::size_t>(omp_get_thread_num());
      for (std::size_t i : shared) {
        const std::size_t n = sizes[i];
        if (use_lars[i]) {
          if (th == 0) sw = sum_sq_from(0.0f, w[i], n);
          if (th == 1 % nt) sg = sum_sq_from(0.0f, g[i], n);
        }
#pragma omp barrier
        const float lr = rate(i, sw, sg);
        // Thread th updates [n*th/nt, n*(th+1)/nt), bounds rounded to 16 elements.
        auto bound = [&](std::size_t k) {
          return k == nt ? n : (n * k / nt) & ~std::size_t{15};
        };
        lars_apply(w[i], g[i], m ? m[i] : nullptr, bound(th), bound(th + 1), params[i], lr);
#pragma omp barrier  // (sw and sg are read before the next tensor writes them)
      }
    }
  }
#endif
  for_each_tensor(whole.size(), whole_sizes.data(), [&](std::size_t k) { one(whole[k]); });
}
}  // namespace

template <class T>
void multi_lars_update(std::size_t count, T* const* weights, const T* const* grads,
                       T* const* moms, const std::size_t* sizes, const SGDParams* params,
                       const bool* use_lars, float eta, float eps) {
  if constexpr (std::is_same_v<T, float>) {
    // (without AVX2 a lone sum runs at add latency: the interleaved norms-first form is faster)
    if (isa_level() != IsaLevel::kBaseline)
      return multi_lars_fused(count, weights, grads, moms, sizes, params, use_lars, eta, eps);
  }
  const std::vector<float> lr =
      lars_rates(count, weights, grads, sizes, params, use_lars, eta, eps);
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    SGDParams p = params[i];
    p.lr = lr[i];
    preloaded_sgd_mom_update(weights[i] + lo, grads[i] + lo, moms ? moms[i] + lo : nullptr,
                             hi - lo, p);
  });
}

void multi_mp_lars_update(std::size_t count, float16* const* weights,
                          const float16* const* grads, float* const* moms,
                          float* const* weights32, const std::size_t* sizes,
                          const SGDParams* params, const bool* use_lars, float eta, float eps) {
  const std::vector<float> lr =
      lars_rates(count, weights, grads, sizes, params, use_lars, eta, eps);
  for_each_slice(count, sizes, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    SGDParams p = params[i];
    p.lr = lr[i];
    mp_sgd_mom_update(weights[i] + lo, grads[i] + lo, moms ? moms[i] + lo : nullptr,
                      weights32[i] + lo, hi - lo, p);
  });
}

#define MXOPT_INST(T)                                                                          \
  template void sgd_update<T>(T*, const T*, std::size_t, const SGDParams&);                  \
  template void sgd_mom_update<T>(T*, const T*, T*, std::size_t, const SGDParams&);          \
  template void preloaded_sgd_mom_update<T>(T*, const T*, T*, std::size_t, const SGDParams&); \
  template void sgd_update_rsp<T>(T*, std::size_t, const RowSparse<T>&, const SGDParams&,    \
                                  bool);                                                     \
  template void sgd_mom_update_rsp<T>(T*, std::size_t, const RowSparse<T>&, T*,              \
                                      const SGDParams&, bool);                               \
  template void nag_mom_update<T>(T*, const T*, T*, std::size_t, const SGDParams&);          \
  template void multi_sgd_mom_update<T>(std::size_t, T* const*, const T* const*, T* const*,  \
                                        const std::size_t*, const SGDParams*);               \
  template void multi_sgd_update<T>(std::size_t, T* const*, const T* const*,                 \
                                    const std::size_t*, const SGDParams*);                   \
  template void multi_nag_mom_update<T>(std::size_t, T* const*, const T* const*, T* const*,  \
                                        const std::size_t*, const SGDParams*);               \
  template void multi_lars_update<T>(std::size_t, T* const*, const T* const*, T* const*,     \
                                     const std::size_t*, const SGDParams*, const bool*, float, \
                                     float);
MXOPT_INSTANTIATE_FLOATS(MXOPT_INST)
#undef MXOPT_INST

}  // namespace mxopt::kernels
