// Concat along an axis and its gradient (MXNet 1.9.1's ConcatOp: every array viewed as
// (leading, size along axis, trailing); the backward splits the head gradient with each
// input's req). Pure copies (and additions for kAdd).
#include <cstring>

#include "tensor_common.h"

namespace mxopt::ops {

Shape concat_shape(const std::vector<Shape>& shapes, int axis) {
  if (shapes.empty()) throw std::invalid_argument("Concat needs at least one input");
  const Shape& first = shapes[0];
  const int nd = static_cast<int>(first.size());
  if (nd == 0) throw std::invalid_argument("inputs[0]: Concat inputs must have at least one dimension");
  if (axis < -nd || axis >= nd)
    throw std::invalid_argument("axis " + std::to_string(axis) +
                                " exceeds the input dimension of " + std::to_string(nd));
  const int a = axis < 0 ? axis + nd : axis;
  Shape out = first;
  out[a] = 0;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const Shape& s = shapes[i];
    bool ok = static_cast<int>(s.size()) == nd;
    for (int d = 0; ok && d < nd; ++d) ok = d == a || s[d] == first[d];
    if (!ok)
      throw std::invalid_argument("inputs[" + std::to_string(i) + "] has shape " + shape_str(s) +
                                  ", incompatible with inputs[0] " + shape_str(first) +
                                  " for concatenation along axis " + std::to_string(a));
    out[a] += s[a];
  }
  return out;
}

namespace {

struct Layout {
  int axis = 0;
  std::int64_t leading = 1, trailing = 1, out_mid = 0;
  std::vector<std::int64_t> mids, offsets;  // per input: size along axis, offset in the output
};

Layout layout(const std::vector<Shape>& shapes, int axis) {
  const Shape out = concat_shape(shapes, axis);
  Layout l;
  const int nd = static_cast<int>(out.size());
  l.axis = axis < 0 ? axis + nd : axis;
  for (int d = 0; d < l.axis; ++d) l.leading *= out[d];
  for (int d = l.axis + 1; d < nd; ++d) l.trailing *= out[d];
  l.out_mid = out[l.axis];
  std::int64_t off = 0;
  for (const auto& s : shapes) {
    l.mids.push_back(s[l.axis]);
    l.offsets.push_back(off);
    off += s[l.axis];
  }
  return l;
}

// fn(input i, leading index r, out offset, input offset, count) over all blocks.
template <class Fn>
void for_blocks(const Layout& l, Fn&& fn) {
  const std::int64_t n_in = static_cast<std::int64_t>(l.mids.size());
  const std::int64_t total = l.leading * l.out_mid * l.trailing;
  detail::parallel_chunks(l.leading * n_in, 1, total >= detail::kParallelElements,
                          [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      const std::int64_t r = t / n_in, i = t % n_in;
      const std::int64_t cnt = l.mids[i] * l.trailing;
      if (cnt == 0) continue;
      fn(i, (r * l.out_mid + l.offsets[i]) * l.trailing, r * cnt, cnt);
    }
  });
}

}  // namespace

template <class T>
void concat_forward(const std::vector<const T*>& inputs, const std::vector<Shape>& shapes,
                    int axis, T* out) {
  if (inputs.size() != shapes.size())
    throw std::invalid_argument("Concat: one shape per input");
  const Layout l = layout(shapes, axis);
  for_blocks(l, [&](std::int64_t i, std::int64_t oo, std::int64_t io, std::int64_t cnt) {
    std::memcpy(out + oo, inputs[i] + io, static_cast<std::size_t>(cnt) * sizeof(T));
  });
}

template <class T>
void concat_backward(const T* ograd, const std::vector<Shape>& shapes, int axis,
                     const std::vector<T*>& grads, const std::vector<Req>& reqs) {
  if (grads.size() != shapes.size() || reqs.size() != shapes.size())
    throw std::invalid_argument("Concat backward: one gradient and one req per input");
  const Layout l = layout(shapes, axis);
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (reqs[i] != Req::kNull && !grads[i] && l.mids[i] * l.leading * l.trailing > 0)
      throw std::invalid_argument("grads[" + std::to_string(i) + "] is missing for a non-null req");
  for_blocks(l, [&](std::int64_t i, std::int64_t oo, std::int64_t io, std::int64_t cnt) {
    if (reqs[i] == Req::kNull) return;
    T* dst = grads[i] + io;
    const T* src = ograd + oo;
    if (reqs[i] == Req::kWrite) std::memcpy(dst, src, static_cast<std::size_t>(cnt) * sizeof(T));
    else
      for (std::int64_t j = 0; j < cnt; ++j) dst[j] += src[j];
  });
}

#define MXOPT_INSTANTIATE(T)                                                                    \
  template void concat_forward<T>(const std::vector<const T*>&, const std::vector<Shape>&, int, \
                                  T*);                                                          \
  template void concat_backward<T>(const T*, const std::vector<Shape>&, int,                    \
                                   const std::vector<T*>&, const std::vector<Req>&);
MXOPT_INSTANTIATE(float)
MXOPT_INSTANTIATE(double)
#undef MXOPT_INSTANTIATE

}  // namespace mxopt::ops
