// Private: broadcast binary operators as functor templates (used by broadcast.cc and, for
// PReLU, leaky_relu.cc). Forward: F::f(a, b) at every output position. Backward: the gradient
// of each operand is G::g(ograd, a, b) at every output position, element-wise when the two
// input shapes are identical (MXNet's elemwise path) and otherwise Kahan-summed over the axes
// along which that operand was broadcast (MXNet's broadcast::Reduce with red::sum).
#pragma once

#include "tensor_common.h"

namespace mxopt::ops::detail {

template <class T, class F>
inline void apply_segment(T* o, const T* l, const T* r, std::int64_t len, std::int64_t os,
                          std::int64_t ls, std::int64_t rs) {
  if (os == 1 && ls == 1 && rs == 1) {
    for (std::int64_t i = 0; i < len; ++i) o[i] = F::f(l[i], r[i]);
  } else if (os == 1 && ls == 1 && rs == 0) {
    const T b = r[0];
    for (std::int64_t i = 0; i < len; ++i) o[i] = F::f(l[i], b);
  } else if (os == 1 && ls == 0 && rs == 1) {
    const T a = l[0];
    for (std::int64_t i = 0; i < len; ++i) o[i] = F::f(a, r[i]);
  } else {
    for (std::int64_t i = 0; i < len; ++i) o[i * os] = F::f(l[i * ls], r[i * rs]);
  }
}

// Dimensions of an output of shape oshape over (out, lhs, rhs), lhs/rhs broadcast.
inline std::vector<StridedDim> broadcast_dims(const Shape& lshape, const Shape& rshape,
                                              const Shape& oshape) {
  const auto ls = broadcast_strides(lshape, oshape), rs = broadcast_strides(rshape, oshape);
  const auto os = broadcast_strides(oshape, oshape);
  std::vector<StridedDim> dims(oshape.size());
  for (std::size_t d = 0; d < oshape.size(); ++d) {
    dims[d].size = oshape[d];
    dims[d].stride[0] = os[d];
    dims[d].stride[1] = ls[d];
    dims[d].stride[2] = rs[d];
  }
  return dims;
}

template <class T, class F>
void broadcast_apply(const T* lhs, const Shape& lshape, const T* rhs, const Shape& rshape,
                     T* out, const Shape& oshape) {
  const auto dims = compact_dims(broadcast_dims(lshape, rshape, oshape));
  for_each_segment_parallel(dims, [&](std::int64_t o0, std::int64_t o1, std::int64_t o2,
                                      std::int64_t len, std::int64_t s0, std::int64_t s1,
                                      std::int64_t s2) {
    apply_segment<T, F>(out + o0, lhs + o1, rhs + o2, len, s0, s1, s2);
  });
}

// The gradient of one operand (side 1 = lhs, 2 = rhs) of a broadcast binary operator.
template <class T, class G>
void broadcast_grad_side(int side, const T* og, const T* lhs, const Shape& lshape, const T* rhs,
                         const Shape& rshape, const Shape& oshape, T* grad, Req req) {
  if (req == Req::kNull) return;
  auto dims = broadcast_dims(lshape, rshape, oshape);
  const Shape& sshape = side == 1 ? lshape : rshape;
  const std::size_t pad = oshape.size() - sshape.size();
  for (std::size_t d = 0; d < dims.size(); ++d)
    dims[d].kept = (d >= pad ? sshape[d - pad] : 1) == oshape[d];
  kahan_reduce<T>(
      dims,
      [&](std::int64_t o0, std::int64_t o1, std::int64_t o2) -> T {
        if constexpr (G::kReadsInputs) return G::g(og[o0], lhs[o1], rhs[o2]);
        else return G::g(og[o0], T(0), T(0));
      },
      [](T v) { return v; }, grad, req);
}

template <class T, class GL, class GR>
void broadcast_grad(const T* og, const T* lhs, const Shape& lshape, const T* rhs,
                    const Shape& rshape, const Shape& oshape, T* gl, Req lreq, T* gr, Req rreq) {
  if (lshape == rshape) {  // element-wise (MXNet's ElemwiseBinaryOp backward)
    const std::int64_t n = shape_size(oshape);
    for_each_range(n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        // Both values are formed before either store (a gradient may alias ograd).
        const T a = GL::kReadsInputs ? lhs[i] : T(0), c = GL::kReadsInputs ? rhs[i] : T(0);
        const T g = og[i], vl = GL::g(g, a, c), vr = GR::g(g, a, c);
        if (lreq != Req::kNull) store(gl, i, vl, lreq);
        if (rreq != Req::kNull) store(gr, i, vr, rreq);
      }
    });
    return;
  }
  broadcast_grad_side<T, GL>(1, og, lhs, lshape, rhs, rshape, oshape, gl, lreq);
  broadcast_grad_side<T, GR>(2, og, lhs, lshape, rhs, rshape, oshape, gr, rreq);
}

}  // namespace mxopt::ops::detail
