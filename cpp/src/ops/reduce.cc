// sum and mean over axes (MXNet 1.9.1's ReduceAxesCompute with mshadow::red::sum, safe_acc off):
// for every output element, the Kahan-compensated sum in the input's type over the reduced
// positions in row-major order; mean then divides by the number of reduced elements. Backward
// broadcasts the head gradient back (ReduceAxesBackwardUseNone), divided by that number for mean.
#include "tensor_common.h"

namespace mxopt::ops {

std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim) {
  std::vector<int> out;
  out.reserve(axes.size());
  for (int a : axes) {
    const int n = a < 0 ? a + ndim : a;
    if (n < 0 || n >= ndim)
      throw std::invalid_argument("axes: reduction axis " + std::to_string(a) +
                                  " exceeds the input dimensions (ndim " + std::to_string(ndim) + ")");
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i] == out[i - 1])
      throw std::invalid_argument("axes: reduction axes have duplicates (axis " +
                                  std::to_string(out[i]) + ")");
  return out;
}

namespace {

// Dimensions of x over (x, out): out's strides are those of x's shape with the axes set to 1.
std::vector<detail::StridedDim> reduce_dims(const Shape& xshape, const std::vector<int>& axes) {
  const int nd = static_cast<int>(xshape.size());
  std::vector<bool> reduced(nd, false);
  for (int a : axes) reduced[a] = true;
  std::vector<detail::StridedDim> dims(nd);
  std::int64_t sx = 1, so = 1;
  for (int d = nd; d-- > 0;) {
    dims[d].size = xshape[d];
    dims[d].kept = !reduced[d];
    dims[d].stride[0] = sx;
    dims[d].stride[1] = reduced[d] ? 0 : so;
    sx *= xshape[d];
    if (!reduced[d]) so *= xshape[d];
  }
  return dims;
}

std::int64_t reduced_count(const Shape& xshape, const std::vector<int>& axes) {
  std::int64_t m = 1;
  for (int a : axes) m *= xshape[a];
  return m;
}

void check_op(ReduceOp op) {
  if (op != ReduceOp::kSum && op != ReduceOp::kMean)
    throw std::invalid_argument("unknown reduce operator " + std::to_string(static_cast<int>(op)));
}

}  // namespace

template <class T>
void reduce_forward(ReduceOp op, const T* x, const Shape& xshape, const std::vector<int>& axes_in,
                    T* out) {
  check_op(op);
  const auto axes = normalize_axes(axes_in, static_cast<int>(xshape.size()));
  const auto dims = reduce_dims(xshape, axes);
  if (op == ReduceOp::kSum) {
    detail::kahan_reduce<T>(
        dims, [x](std::int64_t o0, std::int64_t, std::int64_t) { return x[o0]; },
        [](T v) { return v; }, out, Req::kWrite);
  } else {
    // MXNet divides by scalar<DType>(size / out_size), an integer converted to T.
    const T m = static_cast<T>(reduced_count(xshape, axes));
    detail::kahan_reduce<T>(
        dims, [x](std::int64_t o0, std::int64_t, std::int64_t) { return x[o0]; },
        [m](T v) { return v / m; }, out, Req::kWrite);
  }
}

template <class T>
void reduce_backward(ReduceOp op, const T* gy, const Shape& xshape, const std::vector<int>& axes_in,
                     T* gx, Req req, bool mean_scales_accumulated) {
  check_op(op);
  const auto axes = normalize_axes(axes_in, static_cast<int>(xshape.size()));
  if (req == Req::kNull) return;
  const auto dims = detail::compact_dims(reduce_dims(xshape, axes));
  const bool mean = op == ReduceOp::kMean;
  const T m = static_cast<T>(reduced_count(xshape, axes));
  const bool add = req == Req::kAdd;
  detail::for_each_segment_parallel(dims, [&](std::int64_t o0, std::int64_t o1, std::int64_t,
                                               std::int64_t len, std::int64_t s0, std::int64_t s1,
                                               std::int64_t) {
    T* g = gx + o0;
    const T* src = gy + o1;
    for (std::int64_t i = 0; i < len; ++i) {
      const T v = src[i * s1];
      T& dst = g[i * s0];
      if (!mean) dst = add ? dst + v : v;
      else if (!add) dst = v / m;
      else if (mean_scales_accumulated) dst = (dst + v) / m;  // MXNet: igrad += ograd; igrad /= M
      else dst = dst + v / m;
    }
  });
}

#define MXOPT_INSTANTIATE(T)                                                                   \
  template void reduce_forward<T>(ReduceOp, const T*, const Shape&, const std::vector<int>&,   \
                                  T*);                                                         \
  template void reduce_backward<T>(ReduceOp, const T*, const Shape&, const std::vector<int>&,  \
                                   T*, Req, bool);
MXOPT_INSTANTIATE(float)
MXOPT_INSTANTIATE(double)
#undef MXOPT_INSTANTIATE

}  // namespace mxopt::ops
