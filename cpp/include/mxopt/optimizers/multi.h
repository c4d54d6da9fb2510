// Multi-tensor driver: one call updates a list of tensors, parallel across tensors and within
// large ones. The element-wise kernels give the same result on any slice of a tensor, so each
// tensor is cut into slices of at most kMultiChunk elements and the flattened (tensor, slice)
// work list is split between the threads in contiguous runs of equal cost (elements plus a
// per-slice overhead), cut inside a slice where a share ends. The result does not depend on the
// thread count, and equals the per-tensor kernels bit for bit.
#pragma once

#include <cstddef>
#include <functional>

namespace mxopt::kernels {

// Slice length (below the kernels' own threading threshold, so slices never spawn threads).
inline constexpr std::size_t kMultiChunk = 16384;

// Lists with fewer elements in total run on one thread: such a step takes < ~0.1 ms serially,
// less than what waking a second thread can cost on a busy machine (1000 tensors of 64
// elements: 0.2 ms serial, 7-14 ms with 2 threads at load 6 on 2 cores).
inline constexpr std::size_t kMultiParallelMin = std::size_t{1} << 17;

// Whether a multi-tensor call over `count` tensors of `elements` in total uses the OpenMP
// threads: from kMultiParallelMin elements; below that, from the single-tensor kernels'
// threshold if the tensors average at least 256 elements. A list of a few mid-size tensors
// then runs like one tensor of that size (a 1e5-element list of one: 10 -> 6 us at 2
// threads), while lists of tiny tensors (1000 x 64) stay on one thread.
bool multi_threads(std::size_t count, std::size_t elements);

// Calls body(t, lo, hi) for every tensor t in [0, count) and slices [lo, hi) covering
// [0, sizes[t]); slices run on the OpenMP threads when the total is large enough. Reuses a
// thread-local work list: no allocation once it has grown to the largest list seen.
void for_each_slice(std::size_t count, const std::size_t* sizes,
                    const std::function<void(std::size_t, std::size_t, std::size_t)>& body);

// Calls body(t) once for every tensor t in [0, count) (per-tensor reductions): the largest
// tensors first, spread over the OpenMP threads (dynamic) when multi_threads says so. Each
// call must touch only its own tensor's outputs, so the results do not depend on the threads.
void for_each_tensor(std::size_t count, const std::size_t* sizes,
                     const std::function<void(std::size_t)>& body);

}  // namespace mxopt::kernels
