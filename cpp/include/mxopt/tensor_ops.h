// Forward and backward kernels of MXNet 1.9.1's tensor operators on raw row-major buffers:
// broadcast binary arithmetic, unary math, sum/mean, softmax/log_softmax, one_hot, Embedding,
// Concat, LeakyReLU (leaky, prelu, rrelu, elu, selu, gelu) and CSR sparse dot. T is float or
// double.
//
// Conventions (shared with mxopt/ops.h):
// - Shapes are row-major; every buffer is dense and contiguous.
// - Forward outputs are always written. Gradient outputs follow a Req: kNull skips the output (its
//   pointer may then be null), kWrite overwrites it, kAdd accumulates into it.
// - Every function validates its arguments completely (std::invalid_argument naming the
//   argument) before it writes anything.
// - Element-wise math follows MXNet's CPU functors in formula, evaluation order and precision
//   (float math in float: expf, logf, powf ...; where MXNet computes a double operator in float,
//   so does the kernel). Reductions reproduce MXNet's accumulation order and accumulator: the
//   Kahan-compensated sum of mshadow's red::sum for sum/mean and the broadcast gradients,
//   plain sequential sums for softmax and the sparse/embedding accumulations.
// - OpenMP is used above a size threshold over partitions that never change which elements a
//   single sequential accumulation covers, so results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mxopt/ops.h"

namespace mxopt::ops {

using Shape = std::vector<std::int64_t>;

// "(2, 3)" like numpy (used in error messages).
std::string shape_str(const Shape& s);
std::int64_t shape_size(const Shape& s);

// ---- Broadcast binary operators (broadcast_add ... broadcast_power, elemwise_add ...) ----------
enum class BinaryOp : int { kAdd = 0, kSub, kMul, kDiv, kMaximum, kMinimum, kPower };
// MXNet's (and numpy's) broadcast shape: shapes aligned on the right, each pair of dimensions
// equal or one of them 1. Throws std::invalid_argument for incompatible shapes.
Shape broadcast_shape(const Shape& lhs, const Shape& rhs);
// out has broadcast_shape(lshape, rshape).
template <class T>
void broadcast_forward(BinaryOp op, const T* lhs, const Shape& lshape, const T* rhs,
                       const Shape& rshape, T* out);
// Gradients of out w.r.t. lhs and rhs, summed (Kahan, in row-major order of the broadcast
// positions) over the axes along which an operand was broadcast. When lshape == rshape the
// gradients are element-wise, as in MXNet's elemwise_* backward. kAdd/kSub read neither lhs nor
// rhs (they may be null).
template <class T>
void broadcast_backward(BinaryOp op, const T* ograd, const T* lhs, const Shape& lshape,
                        const T* rhs, const Shape& rshape, T* glhs, Req lreq, T* grhs, Req rreq);
// Which inputs the backward of op reads: 0 none (add, sub), 1 both.
bool binary_backward_reads_inputs(BinaryOp op);

// ---- Unary math ------------------------------------------------------------------------------
enum class UnaryOp : int {
  kExp = 0, kLog, kSqrt, kRsqrt, kSquare, kAbs, kSign, kNegative, kReciprocal
};
template <class T>
void unary_forward(UnaryOp op, const T* x, T* y, std::int64_t size);
// What the gradient of op reads besides the head gradient, as MXNet defines it.
enum class UnaryGradInput : int { kNone = 0, kInput = 1, kOutput = 2 };
UnaryGradInput unary_grad_input(UnaryOp op);
// gx = gy * f'(.), with f' evaluated on x or y as unary_grad_input says (the other pointer may
// be null): exp -> y, log -> 1/x, sqrt -> 0.5/y, rsqrt -> -0.5/(sqrt(x)*x), square -> 2x,
// abs -> sign(x) (0 at 0), sign -> 0, negative -> -gy, reciprocal -> -1/x^2.
template <class T>
void unary_backward(UnaryOp op, const T* gy, const T* x, const T* y, T* gx, Req req,
                    std::int64_t size);

// ---- sum / mean over axes ----------------------------------------------------------------------
enum class ReduceOp : int { kSum = 0, kMean = 1 };
// Sorted, duplicate-free, non-negative axes of an ndim-dimensional input from possibly negative
// ones (std::invalid_argument for out-of-range or duplicate axes, like MXNet).
std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim);
// out holds the product of the kept dimensions (row-major); the reduction is mshadow's
// Kahan-compensated sum in row-major order of the reduced positions; mean divides the sum by
// the number of reduced elements.
template <class T>
void reduce_forward(ReduceOp op, const T* x, const Shape& xshape, const std::vector<int>& axes,
                    T* out);
// gx = broadcast(gy) (sum) or broadcast(gy) / M (mean). With kAdd, gx += gy / M; when
// mean_scales_accumulated is set, kAdd instead computes gx = (gx + gy) / M, which is what
// MXNet 1.9.1's _backward_mean does with grad_req 'add'.
template <class T>
void reduce_backward(ReduceOp op, const T* gy, const Shape& xshape, const std::vector<int>& axes,
                     T* gx, Req req, bool mean_scales_accumulated = false);

// ---- softmax / log_softmax ---------------------------------------------------------------------
// Along `axis` (negative counts from the end): max subtraction, exp and the running sum in T
// (MXNet's default accumulation, MXNET_SAFE_ACCUMULATION unset), x/temperature when
// temperature != 1.
template <class T>
void softmax_forward(const T* x, T* y, const Shape& shape, int axis, double temperature,
                     bool log);
// softmax: gx = y * (gy - sum(gy*y)); log_softmax: gx = gy - exp(y) * sum(gy); then
// / temperature when temperature != 1.
template <class T>
void softmax_backward(const T* gy, const T* y, T* gx, const Shape& shape, int axis,
                      double temperature, bool log, Req req);

// ---- one_hot -----------------------------------------------------------------------------------
// out (n, depth) = off_value, with on_value at column int32(indices[i]) when that lies in
// [0, depth) (MXNet casts an index to its 32-bit index_t: floats truncate toward zero, NaN and
// out-of-range floats match no column, 64-bit integers wrap). I: float, double, int8, uint8,
// int32, int64; O: float, double, int32, int64.
template <class I, class O>
void one_hot(const I* indices, std::int64_t n, std::int64_t depth, double on_value,
             double off_value, O* out);

// ---- Embedding ---------------------------------------------------------------------------------
// out[i, :] = weight[clip(int64(indices[i]), 0, rows - 1), :].
template <class I, class T>
void embedding_forward(const I* indices, std::int64_t n, const T* weight, std::int64_t rows,
                       std::int64_t dim, T* out);
// gweight[clip(int32(indices[i]), 0, rows - 1), :] += ograd[i, :] in order of i (kWrite zeroes
// gweight first).
template <class I, class T>
void embedding_backward(const I* indices, std::int64_t n, const T* ograd, std::int64_t rows,
                        std::int64_t dim, T* gweight, Req req);

// Rows of a row_sparse result and, per row, the positions (sources) that add into it in order.
struct RowGroups {
  std::vector<std::int64_t> rows;    // sorted, distinct
  std::vector<std::int64_t> starts;  // rows.size() + 1 offsets into sources
  std::vector<std::int64_t> sources;
  std::vector<std::int64_t> source_rows;  // csr_column_groups: the CSR row of each source entry
};
// MXNet's sparse_grad=True Embedding gradient: every index must lie in [0, rows - 1] (compared
// in the index type, as MXNet does; NaN is rejected too), the row is int64(index).
template <class I>
RowGroups embedding_rsp_groups(const I* indices, std::int64_t n, std::int64_t rows);
// values (groups.rows.size(), dim): values[g, :] = sum of ograd[i, :] over the group's i, in order.
template <class T>
void embedding_backward_rsp(const RowGroups& groups, const T* ograd, std::int64_t dim, T* values);

// ---- Concat ------------------------------------------------------------------------------------
// Output shape of concatenating `shapes` along axis (negative counts from the end); throws
// std::invalid_argument naming the offending input.
Shape concat_shape(const std::vector<Shape>& shapes, int axis);
template <class T>
void concat_forward(const std::vector<const T*>& inputs, const std::vector<Shape>& shapes,
                    int axis, T* out);
// grads[i] may be null when reqs[i] is kNull.
template <class T>
void concat_backward(const T* ograd, const std::vector<Shape>& shapes, int axis,
                     const std::vector<T*>& grads, const std::vector<Req>& reqs);

// ---- LeakyReLU ---------------------------------------------------------------------------------
enum class LeakyAct : int { kLeaky = 0, kPReLU, kRReLU, kELU, kSELU, kGELU };
struct LeakyReLUParam {
  LeakyAct act = LeakyAct::kLeaky;
  float slope = 0.25f;
  float lower_bound = 0.125f;
  float upper_bound = 0.334f;
};
// Shape gamma takes when broadcast against data (MXNet's rule: gamma's dimensions go, from the
// right, to data axes 1 and 0 where they equal data's or are 1). Throws for impossible gammas.
Shape prelu_gamma_shape(const Shape& gamma, const Shape& data);
// prelu reads gamma (gshape); rrelu in training reads `uniform` (draws in [0, 1), x's size) and
// writes the slopes lower + u * (upper - lower) into mask; rrelu without uniform uses the slope
// (lower + upper) / 2 (inference). Other pointers may be null.
template <class T>
void leaky_relu_forward(const LeakyReLUParam& p, const T* x, const Shape& xshape, const T* gamma,
                        const Shape& gshape, const T* uniform, T* mask, T* y);
// Reads y (leaky, rrelu, elu, selu), x (prelu, gelu), gamma (prelu) and mask (rrelu: null means
// the inference slope). ggamma/greq only for prelu: sum over the broadcast axes (Kahan).
template <class T>
void leaky_relu_backward(const LeakyReLUParam& p, const T* gy, const T* x, const T* y,
                         const Shape& xshape, const T* gamma, const Shape& gshape, const T* mask,
                         T* gx, Req req, T* ggamma, Req greq);

// ---- CSR sparse dot ----------------------------------------------------------------------------
// A CSR matrix (rows x cols): row r holds entries indptr[r] .. indptr[r+1]-1 of data/indices.
template <class T>
struct CsrMatrix {
  const T* data = nullptr;
  const std::int64_t* indices = nullptr;
  const std::int64_t* indptr = nullptr;
  std::int64_t rows = 0, cols = 0, nnz = 0;
};
// indptr[0] == 0, non-decreasing, indptr[rows] == nnz, every index in [0, cols); throws
// std::invalid_argument naming indptr or indices. O(rows + nnz).
void validate_csr(const std::int64_t* indices, const std::int64_t* indptr, std::int64_t rows,
                  std::int64_t cols, std::int64_t nnz);
// out = A x rhs (rows x k) or A^T x rhs (cols x k); rhs is (cols x k) or (rows x k). Each output
// element accumulates its products rhs*value in order of the CSR entries, starting from 0 (kWrite)
// or from out (kAdd), as MXNet's DotCsrDnsDns kernels do. Work is O(nnz * k) plus the output.
template <class T>
void csr_dot(const CsrMatrix<T>& a, const T* rhs, std::int64_t k, bool transpose_a, T* out,
             Req req = Req::kWrite);
// The distinct column indices of A (sorted) with their entries in CSR order, in O(nnz) (a bitmap
// of the columns present when cols / 64 is small next to nnz, else a radix sort by column).
template <class T>
RowGroups csr_column_groups(const CsrMatrix<T>& a);
// values (groups.rows.size(), k): row g = sum over the column's entries e of
// rhs[row_of(e), :] * data[e], in CSR order from 0 (MXNet's DotCsrTransDnsRsp).
template <class T>
void csr_t_dot_rsp(const CsrMatrix<T>& a, const RowGroups& groups, const T* rhs, std::int64_t k,
                   T* values);
// The same product in one pass over the entries (no grouping): *rows receives the distinct
// columns (sorted), *values their rows (rows->size() x k), each accumulated in CSR order from 0,
// so the bits equal csr_t_dot_rsp's. O(nnz * k): this is dot(csr, W)'s weight gradient, whose
// cost follows the batch's entries, not the number of features.
template <class T>
void csr_t_dot_rsp_direct(const CsrMatrix<T>& a, const T* rhs, std::int64_t k,
                          std::vector<std::int64_t>* rows, std::vector<T>* values);

}  // namespace mxopt::ops
