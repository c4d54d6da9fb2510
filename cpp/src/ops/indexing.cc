// one_hot and Embedding (forward, dense backward, row_sparse backward) as MXNet 1.9.1 computes
// them on CPU (tensor/indexing_op.h, indexing_op.cc, mshadow's AddTakeGrad). Index conversions
// reproduce MXNet's casts on x86-64 in this build (32-bit index_t): one_hot and the dense
// Embedding gradient cast an index to int32, the Embedding forward to int64, then clip.
#include "tensor_common.h"

namespace mxopt::ops {

template <class I, class O>
void one_hot(const I* indices, std::int64_t n, std::int64_t depth, double on_value,
             double off_value, O* out) {
  if (depth < 0) throw std::invalid_argument("depth must be a non-negative integer");
  if (n == 0 || depth == 0) return;
  const O on = detail::cast_from_double<O>(on_value), off = detail::cast_from_double<O>(off_value);
  detail::parallel_chunks(n, std::max<std::int64_t>(1, 16384 / depth),
                          n * depth >= detail::kParallelElements,
                          [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      O* row = out + i * depth;
      for (std::int64_t j = 0; j < depth; ++j) row[j] = off;
      const std::int64_t j = detail::to_int32_x86(indices[i]);
      if (j >= 0 && j < depth) row[j] = on;
    }
  });
}

namespace {

void check_table(std::int64_t rows, std::int64_t dim) {
  if (rows <= 0) throw std::invalid_argument("weight must have at least one row (input_dim > 0)");
  if (dim < 0) throw std::invalid_argument("weight: negative output_dim");
}

// values[g, :] = 0 + sum over the group's sources s (in order) of src(s)[:] * scale(s).
template <class T, class Src>
void accumulate_groups(const RowGroups& g, std::int64_t dim, T* values, Src&& src) {
  const std::int64_t ng = static_cast<std::int64_t>(g.rows.size());
  const std::int64_t work = static_cast<std::int64_t>(g.sources.size()) * dim + ng * dim;
  detail::parallel_chunks(ng, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(dim, 1)),
                          work >= detail::kParallelElements, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      T* dst = values + r * dim;
      for (std::int64_t l = 0; l < dim; ++l) dst[l] = T(0);
      for (std::int64_t s = g.starts[r]; s < g.starts[r + 1]; ++s) src(g.sources[s], dst);
    }
  });
}

}  // namespace

template <class I, class T>
void embedding_forward(const I* indices, std::int64_t n, const T* weight, std::int64_t rows,
                       std::int64_t dim, T* out) {
  check_table(rows, dim);
  detail::parallel_chunks(n, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(dim, 1)),
                          n * dim >= detail::kParallelElements, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      std::int64_t j = detail::to_int64_x86(indices[i]);
      j = j <= 0 ? 0 : (j >= rows ? rows - 1 : j);
      std::copy(weight + j * dim, weight + (j + 1) * dim, out + i * dim);
    }
  });
}

template <class I, class T>
void embedding_backward(const I* indices, std::int64_t n, const T* ograd, std::int64_t rows,
                        std::int64_t dim, T* gweight, Req req) {
  check_table(rows, dim);
  if (req == Req::kNull) return;
  std::vector<std::int64_t> keys(n);
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t j = detail::to_int32_x86(indices[i]);
    keys[i] = j <= 0 ? 0 : (j >= rows ? rows - 1 : j);
  }
  if (req == Req::kWrite) {
    detail::for_each_range(rows * dim, [=](std::int64_t b, std::int64_t e) {
      std::fill(gweight + b, gweight + e, T(0));
    });
  }
  if (n * dim < detail::kParallelElements) {  // MXNet's loop as it is
    for (std::int64_t i = 0; i < n; ++i) {
      T* dst = gweight + keys[i] * dim;
      const T* src = ograd + i * dim;
      for (std::int64_t l = 0; l < dim; ++l) dst[l] += src[l];
    }
    return;
  }
  // Grouped by row: each row still adds its sources in increasing i, onto its current value.
  const RowGroups g = detail::group_by_key(keys);
  const std::int64_t ng = static_cast<std::int64_t>(g.rows.size());
  detail::parallel_chunks(ng, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(dim, 1)), true,
                          [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      T* dst = gweight + g.rows[r] * dim;
      for (std::int64_t s = g.starts[r]; s < g.starts[r + 1]; ++s) {
        const T* src = ograd + g.sources[s] * dim;
        for (std::int64_t l = 0; l < dim; ++l) dst[l] += src[l];
      }
    }
  });
}

template <class I>
RowGroups embedding_rsp_groups(const I* indices, std::int64_t n, std::int64_t rows) {
  if (rows <= 0) throw std::invalid_argument("weight must have at least one row (input_dim > 0)");
  // MXNet checks every index against [0, rows - 1] in the index type before anything else.
  const I lo = I(0), hi = static_cast<I>(rows - 1);
  std::vector<std::int64_t> keys(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const I v = indices[i];
    bool ok = !(v > hi || v < lo);
    if constexpr (std::is_floating_point_v<I>) ok = ok && !std::isnan(v);
    if (!ok)
      throw std::invalid_argument("indices: Embedding input contains data out of bound (index " +
                                  std::to_string(static_cast<double>(v)) + " at position " +
                                  std::to_string(i) + ", input_dim " + std::to_string(rows) + ")");
    const std::int64_t k = detail::to_int64_x86(v);
    keys[i] = k >= rows ? rows - 1 : k;  // a float hi may round above rows - 1
  }
  return detail::group_by_key(keys);
}

template <class T>
void embedding_backward_rsp(const RowGroups& groups, const T* ograd, std::int64_t dim, T* values) {
  accumulate_groups<T>(groups, dim, values, [&](std::int64_t i, T* dst) {
    const T* src = ograd + i * dim;
    for (std::int64_t l = 0; l < dim; ++l) dst[l] += src[l];
  });
}

#define MXOPT_ONE_HOT(I, O) \
  template void one_hot<I, O>(const I*, std::int64_t, std::int64_t, double, double, O*);
#define MXOPT_ONE_HOT_ALL(I)            \
  MXOPT_ONE_HOT(I, float)               \
  MXOPT_ONE_HOT(I, double)              \
  MXOPT_ONE_HOT(I, std::int32_t)        \
  MXOPT_ONE_HOT(I, std::int64_t)
#define MXOPT_EMBEDDING(I, T)                                                                    \
  template void embedding_forward<I, T>(const I*, std::int64_t, const T*, std::int64_t,          \
                                        std::int64_t, T*);                                       \
  template void embedding_backward<I, T>(const I*, std::int64_t, const T*, std::int64_t,         \
                                         std::int64_t, T*, Req);
#define MXOPT_INDEX_TYPE(I)                                                                      \
  MXOPT_ONE_HOT_ALL(I)                                                                           \
  MXOPT_EMBEDDING(I, float)                                                                      \
  MXOPT_EMBEDDING(I, double)                                                                     \
  template RowGroups embedding_rsp_groups<I>(const I*, std::int64_t, std::int64_t);
MXOPT_INDEX_TYPE(float)
MXOPT_INDEX_TYPE(double)
MXOPT_INDEX_TYPE(std::int8_t)
MXOPT_INDEX_TYPE(std::uint8_t)
MXOPT_INDEX_TYPE(std::int32_t)
MXOPT_INDEX_TYPE(std::int64_t)
#undef MXOPT_INDEX_TYPE
#undef MXOPT_EMBEDDING
#undef MXOPT_ONE_HOT_ALL
#undef MXOPT_ONE_HOT

template void embedding_backward_rsp<float>(const RowGroups&, const float*, std::int64_t, float*);
template void embedding_backward_rsp<double>(const RowGroups&, const double*, std::int64_t,
                                             double*);

}  // namespace mxopt::ops
