// CSR x dense sparse dot products as MXNet 1.9.1 computes them on CPU (tensor/dot-inl.h):
// dot(csr, dns) = dns, dot(csr.T, dns) = dns and dot(csr.T, dns) = row_sparse. Every output
// element adds its products rhs * value in CSR entry order, starting from 0 (or from the output
// with kAdd), so results match MXNet's kernels bit for bit and do not depend on the partition.
//
// Work is proportional to the stored entries: A x rhs walks the rows, A^T x rhs groups the
// entries by column through a bitmap of the columns present (cols / 64 words; MXNet's
// row_sparse kernel instead flags every one of the `cols` possible rows in a cols-long array).
#include "tensor_common.h"

#include "mxopt/optimizers/isa.h"

namespace mxopt::ops {

namespace {
constexpr std::int64_t kPrefetch = 16;  // entries ahead whose rhs row is prefetched
constexpr std::int64_t kScatterPrefetch = 32;  // entries ahead whose output row is prefetched

// Set bits of a word. The portable x86-64 baseline has no POPCNT instruction, and there
// __builtin_popcountll is a call into libgcc once per CSR entry (a tenth of A^T x rhs's time in
// a profile); this inline form is a dozen ALU operations.
inline std::int64_t popcount(std::uint64_t x) {
#if defined(__POPCNT__) || !(defined(__x86_64__) || defined(__i386__))
  return __builtin_popcountll(x);
#else
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<std::int64_t>((x * 0x0101010101010101ULL) >> 56);
#endif
}

// f(std::integral_constant<std::int64_t, K>) with K = k for the narrow right-hand sides of
// sparse linear models (k <= 4), else K = 0; axpy<K> then runs a loop of known length.
template <class F>
inline void with_small_k(std::int64_t k, const F& f) {
  switch (k) {
    case 1: return f(std::integral_constant<std::int64_t, 1>{});
    case 2: return f(std::integral_constant<std::int64_t, 2>{});
    case 3: return f(std::integral_constant<std::int64_t, 3>{});
    case 4: return f(std::integral_constant<std::int64_t, 4>{});
    default: return f(std::integral_constant<std::int64_t, 0>{});
  }
}
// dst[l] += src[l] * val for l < k (K = k, or 0 for a k known at run time only).
template <std::int64_t K, class T>
inline void axpy(T* dst, const T* src, T val, std::int64_t k) {
  const std::int64_t n = K > 0 ? K : k;
  for (std::int64_t l = 0; l < n; ++l) dst[l] += src[l] * val;
}

// The columns present in a CSR matrix: one bit per column, and per 64-bit word the number of
// columns present before it, so that a column's rank among them is one popcount away.
struct ColumnBitmap {
  std::vector<std::uint64_t> bits;
  std::vector<std::int64_t> word_rank;
  std::int64_t unique = 0;

  ColumnBitmap(const std::int64_t* indices, std::int64_t nnz, std::int64_t cols)
      : bits(static_cast<std::size_t>((cols + 63) / 64), 0), word_rank(bits.size()) {
    for (std::int64_t e = 0; e < nnz; ++e)
      bits[indices[e] >> 6] |= std::uint64_t{1} << (indices[e] & 63);
    for (std::size_t w = 0; w < bits.size(); ++w) {
      word_rank[w] = unique;
      unique += popcount(bits[w]);
    }
  }
  // The sorted distinct columns.
  std::vector<std::int64_t> columns() const {
    std::vector<std::int64_t> out(static_cast<std::size_t>(unique));
    std::int64_t pos = 0;
    for (std::size_t w = 0; w < bits.size(); ++w)
      for (std::uint64_t b = bits[w]; b; b &= b - 1)
        out[pos++] = static_cast<std::int64_t>(w) * 64 + __builtin_ctzll(b);
    return out;
  }
  std::int64_t rank(std::int64_t c) const {
    const std::uint64_t below = bits[c >> 6] & ((std::uint64_t{1} << (c & 63)) - 1);
    return word_rank[c >> 6] + popcount(below);
  }
  // ranks[e] = rank(indices[e]) for every entry, with the POPCNT instruction where the CPU has
  // it (every AVX2 CPU does; it takes a third of the portable form's time per entry).
  std::vector<std::int64_t> ranks(const std::int64_t* indices, std::int64_t nnz) const {
    std::vector<std::int64_t> out(static_cast<std::size_t>(nnz));
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    if (kernels::isa_level() != kernels::IsaLevel::kBaseline) {
      ranks_popcnt(bits.data(), word_rank.data(), indices, nnz, out.data());
      return out;
    }
#endif
    for (std::int64_t e = 0; e < nnz; ++e) out[e] = rank(indices[e]);
    return out;
  }

 private:
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __attribute__((target("popcnt"), noinline)) static void ranks_popcnt(
      const std::uint64_t* bits, const std::int64_t* word_rank, const std::int64_t* indices,
      std::int64_t nnz, std::int64_t* out) {
    for (std::int64_t e = 0; e < nnz; ++e) {
      const std::int64_t c = indices[e];
      const std::uint64_t below = bits[c >> 6] & ((std::uint64_t{1} << (c & 63)) - 1);
      out[e] = word_rank[c >> 6] + __builtin_popcountll(below);
    }
  }
#endif
};
}  // namespace

void validate_csr(const std::int64_t* indices, const std::int64_t* indptr, std::int64_t rows,
                  std::int64_t cols, std::int64_t nnz) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("csr_shape must be non-negative");
  if (indptr[0] != 0)
    throw std::invalid_argument("indptr[0] must be 0, got " + std::to_string(indptr[0]));
  for (std::int64_t r = 0; r < rows; ++r)
    if (indptr[r + 1] < indptr[r])
      throw std::invalid_argument("indptr must be non-decreasing: indptr[" + std::to_string(r + 1) +
                                  "] = " + std::to_string(indptr[r + 1]) + " < indptr[" +
                                  std::to_string(r) + "] = " + std::to_string(indptr[r]));
  if (indptr[rows] != nnz)
    throw std::invalid_argument("indptr[-1] = " + std::to_string(indptr[rows]) +
                                " must equal the number of stored entries (len(indices) = " +
                                std::to_string(nnz) + ")");
  for (std::int64_t e = 0; e < nnz; ++e)
    if (indices[e] < 0 || indices[e] >= cols)
      throw std::invalid_argument("indices[" + std::to_string(e) + "] = " +
                                  std::to_string(indices[e]) + " is out of range for " +
                                  std::to_string(cols) + " columns");
}

template <class T>
void csr_dot(const CsrMatrix<T>& a, const T* rhs, std::int64_t k, bool transpose_a, T* out,
             Req req) {
  validate_csr(a.indices, a.indptr, a.rows, a.cols, a.nnz);
  if (req == Req::kNull) return;
  const std::int64_t out_rows = transpose_a ? a.cols : a.rows;
  if (!transpose_a) {
    // Row j of out: its entries in order (MXNet's DotCsrDnsDnsByRowBlocks).
    const std::int64_t work = a.nnz * k + a.rows * k;
    detail::parallel_chunks(a.rows, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(k, 1)),
                            work >= detail::kParallelElements, [&](std::int64_t b, std::int64_t e) {
      with_small_k(k, [&](auto K) {
        for (std::int64_t j = b; j < e; ++j) {
          T* dst = out + j * k;
          if (req == Req::kWrite)
            for (std::int64_t l = 0; l < k; ++l) dst[l] = T(0);
          const std::int64_t end = a.indptr[j + 1];
          for (std::int64_t p = a.indptr[j]; p < end; ++p) {
            // the rows of rhs are gathered at random: fetch a few entries ahead
            if (p + kPrefetch < a.nnz) __builtin_prefetch(rhs + a.indices[p + kPrefetch] * k);
            axpy<decltype(K)::value>(dst, rhs + a.indices[p] * k, a.data[p], k);
          }
        }
      });
    });
    return;
  }
  // A^T x rhs: output row c gathers the entries of column c in CSR order
  // (MXNet's DotCsrTransDnsDnsByRowBlocks).
  const RowGroups g = csr_column_groups(a);
  if (req == Req::kWrite)
    detail::for_each_range(out_rows * k, [=](std::int64_t b, std::int64_t e) {
      std::fill(out + b, out + e, T(0));
    });
  const std::int64_t ng = static_cast<std::int64_t>(g.rows.size());
  detail::parallel_chunks(ng, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(k, 1)),
                          a.nnz * k >= detail::kParallelElements, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      T* dst = out + g.rows[r] * k;
      for (std::int64_t s = g.starts[r]; s < g.starts[r + 1]; ++s) {
        const T val = a.data[g.sources[s]];
        const T* src = rhs + g.source_rows[s] * k;
        for (std::int64_t l = 0; l < k; ++l) dst[l] += src[l] * val;
      }
    }
  });
}

// Groups the entries by column: a bitmap of the columns present (one bit per column), each
// word's rank prefix, then a counting sort of the entries by their column's rank, which keeps them
// in CSR order within a column; or, for a feature space much larger than the entries, a radix
// sort of the entries by column.
// A bitmap of the columns is worth it while it is small next to the entries; beyond that (a
// huge feature space, a small batch) the entries are radix-sorted instead: O(nnz) either way.
inline bool use_bitmap(std::int64_t cols, std::int64_t nnz) {
  return (cols + 63) / 64 <= 8 * nnz + 4096;
}

template <class T>
RowGroups csr_column_groups(const CsrMatrix<T>& a) {
  validate_csr(a.indices, a.indptr, a.rows, a.cols, a.nnz);
  if (!use_bitmap(a.cols, a.nnz)) {
    std::vector<std::int64_t> keys(a.indices, a.indices + a.nnz);
    RowGroups g = detail::group_by_key(keys);
    std::vector<std::int64_t> row_of(static_cast<std::size_t>(a.nnz));
    for (std::int64_t r = 0; r < a.rows; ++r)
      for (std::int64_t p = a.indptr[r]; p < a.indptr[r + 1]; ++p) row_of[p] = r;
    g.source_rows.resize(g.sources.size());
    for (std::size_t s = 0; s < g.sources.size(); ++s) g.source_rows[s] = row_of[g.sources[s]];
    return g;
  }
  const ColumnBitmap cb(a.indices, a.nnz, a.cols);
  const std::int64_t unique = cb.unique;
  RowGroups g;
  g.rows = cb.columns();
  const std::vector<std::int64_t> rank = cb.ranks(a.indices, a.nnz);
  g.starts.assign(static_cast<std::size_t>(unique) + 1, 0);
  for (std::int64_t e = 0; e < a.nnz; ++e) ++g.starts[rank[e] + 1];
  for (std::int64_t r = 0; r < unique; ++r) g.starts[r + 1] += g.starts[r];
  std::vector<std::int64_t> next(g.starts.begin(), g.starts.end() - 1);
  g.sources.resize(static_cast<std::size_t>(a.nnz));
  g.source_rows.resize(static_cast<std::size_t>(a.nnz));
  for (std::int64_t r = 0; r < a.rows; ++r)
    for (std::int64_t p = a.indptr[r]; p < a.indptr[r + 1]; ++p) {
      const std::int64_t s = next[rank[p]]++;
      g.sources[s] = p;
      g.source_rows[s] = r;
    }
  return g;
}

template <class T>
void csr_t_dot_rsp(const CsrMatrix<T>& a, const RowGroups& groups, const T* rhs, std::int64_t k,
                   T* values) {
  if (groups.source_rows.size() != groups.sources.size())
    throw std::invalid_argument("csr_t_dot_rsp: groups must come from csr_column_groups");
  // Each group's sources are CSR entries; source_rows holds their rows.
  const std::int64_t ng = static_cast<std::int64_t>(groups.rows.size());
  detail::parallel_chunks(ng, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(k, 1)),
                          a.nnz * k + ng * k >= detail::kParallelElements,
                          [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      T* dst = values + r * k;
      for (std::int64_t l = 0; l < k; ++l) dst[l] = T(0);
      for (std::int64_t s = groups.starts[r]; s < groups.starts[r + 1]; ++s) {
        const T val = a.data[groups.sources[s]];
        const T* src = rhs + groups.source_rows[s] * k;
        for (std::int64_t l = 0; l < k; ++l) dst[l] += src[l] * val;
      }
    }
  });
}

template <class T>
void csr_t_dot_rsp_direct(const CsrMatrix<T>& a, const T* rhs, std::int64_t k,
                          std::vector<std::int64_t>* rows, std::vector<T>* values) {
  validate_csr(a.indices, a.indptr, a.rows, a.cols, a.nnz);
  if (!use_bitmap(a.cols, a.nnz)) {
    const RowGroups g = csr_column_groups(a);
    *rows = g.rows;
    values->assign(g.rows.size() * static_cast<std::size_t>(k), T(0));
    csr_t_dot_rsp(a, g, rhs, k, values->data());
    return;
  }
  const ColumnBitmap cb(a.indices, a.nnz, a.cols);
  *rows = cb.columns();
  values->assign(static_cast<std::size_t>(cb.unique * k), T(0));
  T* out = values->data();
  const std::vector<std::int64_t> rank = cb.ranks(a.indices, a.nnz);
  // Row by row, entry by entry: each output row receives its products in CSR order. The output
  // rows are hit at random, so the row a few entries ahead is prefetched (a fifth of the time).
  with_small_k(k, [&](auto K) {
    for (std::int64_t r = 0; r < a.rows; ++r) {
      const T* src = rhs + r * k;
      const std::int64_t end = a.indptr[r + 1];
      for (std::int64_t p = a.indptr[r]; p < end; ++p) {
        if (p + kScatterPrefetch < a.nnz)
          __builtin_prefetch(out + rank[p + kScatterPrefetch] * k, 1);
        axpy<decltype(K)::value>(out + rank[p] * k, src, a.data[p], k);
      }
    }
  });
}

#define MXOPT_INSTANTIATE(T)                                                                     \
  template void csr_dot<T>(const CsrMatrix<T>&, const T*, std::int64_t, bool, T*, Req);          \
  template RowGroups csr_column_groups<T>(const CsrMatrix<T>&);                                 \
  template void csr_t_dot_rsp<T>(const CsrMatrix<T>&, const RowGroups&, const T*, std::int64_t, \
                                 T*);                                                           \
  template void csr_t_dot_rsp_direct<T>(const CsrMatrix<T>&, const T*, std::int64_t,             \
                                        std::vector<std::int64_t>*, std::vector<T>*);
MXOPT_INSTANTIATE(float)
MXOPT_INSTANTIATE(double)
#undef MXOPT_INSTANTIATE

}  // namespace mxopt::ops
