// Multi-tensor driver (see mxopt/optimizers/multi.h).
#include "mxopt/optimizers/multi.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "kernel_util.h"

namespace mxopt::kernels {
namespace {

struct Slice {
  std::size_t t, lo, hi;
  std::size_t end_cost;  // cumulative cost up to and including this slice
};

// Per-slice overhead in element-equivalents (call + dispatch), so that lists of tiny tensors
// are balanced by count rather than by elements only.
constexpr std::size_t kSliceOverhead = 256;

// Threads' shares of the work are cut at element offsets that are multiples of this (64 bytes
// of float32) from a slice's start.
constexpr std::size_t kSplitAlign = 16;

}  // namespace

bool multi_threads(std::size_t count, std::size_t elements) {
  // Below kMultiParallelMin: only when the tensors' elements outweigh their per-tensor
  // overhead (priced like a slice's), i.e. tensors of kSliceOverhead elements on average.
  const bool enough =
      elements >= kMultiParallelMin ||
      (elements >= detail::kParallelThreshold && count * kSliceOverhead <= elements);
  return enough && detail::use_threads(elements, 0);
}

void for_each_slice(std::size_t count, const std::size_t* sizes,
                    const std::function<void(std::size_t, std::size_t, std::size_t)>& body) {
  std::size_t elements = 0;
  for (std::size_t t = 0; t < count; ++t) elements += sizes[t];
#if defined(MXOPT_HAVE_OPENMP)
  if (multi_threads(count, elements)) {
    // One lookup of the thread-local list: from a dlopen'ed library each access to it is a
    // __tls_get_addr call, which otherwise happens once per slice.
    static thread_local std::vector<Slice> tls_work;
    std::vector<Slice>& work = tls_work;
    work.clear();
    std::size_t cost = 0;
    for (std::size_t t = 0; t < count; ++t) {
      const std::size_t n = sizes[t];
      for (std::size_t lo = 0; lo < n; lo += kMultiChunk) {
        const std::size_t hi = std::min(n, lo + kMultiChunk);
        cost += (hi - lo) + kSliceOverhead;
        work.push_back({t, lo, hi, cost});
      }
    }
    const std::int64_t items = static_cast<std::int64_t>(work.size());
    if (items > 1) {
      const Slice* w = work.data();
      // Where cumulative cost c falls: (slice, element offset in it), the offset rounded down
      // to kSplitAlign elements (a cost inside a slice's overhead is its first element).
      auto locate = [w, items, cost](std::size_t c) -> std::pair<std::int64_t, std::size_t> {
        if (c >= cost) return {items, 0};
        const std::int64_t s =
            std::upper_bound(w, w + items, c,
                             [](std::size_t v, const Slice& x) { return v < x.end_cost; }) -
            w;
        const std::size_t len = w[s].hi - w[s].lo;
        const std::size_t first = w[s].end_cost - len;  // cost of the slice's first element
        const std::size_t e = c > first ? std::min(c - first, len) : 0;
        return {s, e / kSplitAlign * kSplitAlign};
      };
#pragma omp parallel
      {
        const std::size_t nt = static_cast<std::size_t>(omp_get_num_threads());
        const std::size_t th = static_cast<std::size_t>(omp_get_thread_num());
        // Thread th runs the cost range [cost*th/nt, cost*(th+1)/nt), cut inside slices where
        // the boundaries fall: every thread gets the same share of elements, also when the
        // list is one mid-size tensor of a few slices.
        const auto [s0, e0] = locate(cost * th / nt);
        const auto [s1, e1] = locate(cost * (th + 1) / nt);
        for (std::int64_t i = s0; i <= s1 && i < items; ++i) {
          const std::size_t lo = w[i].lo + (i == s0 ? e0 : 0);
          const std::size_t hi = i == s1 ? w[i].lo + e1 : w[i].hi;
          if (lo < hi) body(w[i].t, lo, hi);
        }
      }
      return;
    }
  }
#endif
  // The same slices in the same order on the calling thread.
  for (std::size_t t = 0; t < count; ++t)
    for (std::size_t lo = 0; lo < sizes[t]; lo += kMultiChunk)
      body(t, lo, std::min(sizes[t], lo + kMultiChunk));
}

void for_each_tensor(std::size_t count, const std::size_t* sizes,
                     const std::function<void(std::size_t)>& body) {
  std::size_t elements = 0;
  for (std::size_t t = 0; t < count; ++t) elements += sizes[t];
#if defined(MXOPT_HAVE_OPENMP)
  if (count > 1 && multi_threads(count, elements)) {
    thread_local std::vector<std::size_t> order;
    order.resize(count);
    for (std::size_t t = 0; t < count; ++t) order[t] = t;
    std::stable_sort(order.begin(), order.end(),
                     [sizes](std::size_t a, std::size_t b) { return sizes[a] > sizes[b]; });
    const std::size_t* o = order.data();
    const std::int64_t n = static_cast<std::int64_t>(count);
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t i = 0; i < n; ++i) body(o[i]);
    return;
  }
#endif
  for (std::size_t t = 0; t < count; ++t) body(t);
}

}  // namespace mxopt::kernels
