// Types shared by the optimizer kernels (mxopt/optimizers/*.h).
//
// Every kernel updates caller-owned memory in place: raw pointers + an element count (dense) or a
// RowSparse gradient (row indices + row length). Kernels are templated on the element type and
// explicitly instantiated for float, double and mxopt::float16:
//   * float / double: IEEE arithmetic in the element type, in MXNet 1.9.1's evaluation order;
//   * float16: every elementary operation is rounded to half precision (MXNet's half_t);
// Hyper-parameters are float32 fields (as in MXNet's operator parameters), converted to the
// element type inside the kernel: double weights see float32-rounded hyper-parameters.
// Kernels never allocate per element, never throw after they started writing, and use OpenMP
// above a size threshold (results do not depend on the number of threads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "mxopt/mxnet_params.h"

namespace mxopt {

// IEEE binary16 storage (bit-compatible with numpy.float16 and Eigen::half). Convert with
// kernels::cast (round to nearest even).
struct float16 {
  std::uint16_t bits;
};
static_assert(sizeof(float16) == 2, "float16 must be 2 bytes");

// MXNet's hyper-parameter round trip (python_repr, parse_mxnet_float, mxnet_float, ...):
// mxopt/mxnet_params.h, included above.

namespace kernels {

// The "K-clip" of MXNet's fused kernels: active iff clip_gradient >= 0, then
// K(x) = c if x > c, -c if x < -c, x otherwise (NaN passes through).
// Kernels receive clip_gradient = kNoClip when the Python layer did not forward it.
inline constexpr float kNoClip = -1.0f;

// A row_sparse gradient: `num_rows` rows of `row_length` elements stored contiguously in `data`;
// row r of `data` is row indices[r] of the dense gradient. Indices must be strictly increasing
// and < the weight's number of rows (kernels check this before writing and throw
// std::invalid_argument otherwise).
template <class T>
struct RowSparse {
  const T* data;
  const std::int64_t* indices;
  std::size_t num_rows;
  std::size_t row_length;
};

// Throws std::invalid_argument unless indices[0..k) are strictly increasing and in [0, rows).
void check_row_indices(const std::int64_t* indices, std::size_t k, std::size_t rows);

// Copies with conversion (round to nearest even): the casts of the multi-precision wrappers.
void cast(const float* src, float16* dst, std::size_t n);
void cast(const float16* src, float* dst, std::size_t n);

// Sum of squares with MXNet's multi_sum_sq semantics: each element is squared in its own dtype
// (a float16 square is rounded to float16), then accumulated SEQUENTIALLY in float32.
template <class T>
float sum_sq(const T* x, std::size_t n);

// The float32 recurrence of sum_sq continued from acc: acc <- fl(acc + fl(x[i]^2)) for i < n,
// so that sum_sq(x, n) == sum_sq_from(sum_sq_from(0, x, k), x + k, n - k). With AVX2, blocks of
// elements are summed exactly as integers and run at memory speed (common.cc).
float sum_sq_from(float acc, const float* x, std::size_t n);

// out[i] = sum_sq(x[i], n[i]) for i < count, bit for bit. Long float32 arrays take sum_sq_from's
// block form; the sequential recurrences of the others run interleaved (up to 16 per core) so
// a core works at its add throughput instead of the add latency of one recurrence; arrays are
// spread over threads as multi_threads (multi.h) says. x[i] may be null
// when n[i] == 0.
template <class T>
void sum_sq_many(std::size_t count, const T* const* x, const std::size_t* n, float* out);

// L2 norm with MXNet's NDArray.norm() semantics (CPU): sequential scaled sum of squares
// (BLAS nrm2 recurrence) evaluated in T (float16: rounded to half at every step).
// Returned widened to double.
template <class T>
double nrm2(const T* x, std::size_t n);

// L2 norm of a row_sparse array's stored values as MXNet computes it (BLAS dot of the data
// with itself, then sqrt): products in T accumulated sequentially in double, rounded to T,
// sqrt in T. This is OpenBLAS's dot for fewer than 32 elements; for longer vectors OpenBLAS
// switches to a CPU-specific SIMD kernel, so agreement there is ~1e-7 relative, not exact.
template <class T>
double dot_norm(const T* x, std::size_t n);

}  // namespace kernels
}  // namespace mxopt
