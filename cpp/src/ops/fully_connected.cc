// FullyConnected forward/backward on GEMM (gemm.h: Eigen's GEMM compiled per ISA, picked at
// run time).
//
// Eigen's own GEMM threading is not used: its k-blocking depends on the thread count, which
// would change rounding. Instead the output is cut into fixed tiles (independent of the thread
// count), each computed by a single-threaded GEMM over the full reduction dimension, and the
// tiles are spread over OpenMP threads. Results are therefore identical for any thread count.
#include <algorithm>
#include <vector>

#include "gemm.h"
#include "mxopt/ops.h"
#include "parallel.h"

namespace mxopt::ops {
namespace {

constexpr std::int64_t kTileRows = 64;
constexpr std::int64_t kTileCols = 256;

// fn(r0, nr, c0, nc) for every tile of a rows x cols output.
template <class Fn>
void for_each_tile(std::int64_t rows, std::int64_t cols, std::int64_t depth, Fn&& fn) {
  const std::int64_t tr = (rows + kTileRows - 1) / kTileRows;
  const std::int64_t tc = (cols + kTileCols - 1) / kTileCols;
  const bool parallel = rows * cols * depth >= detail::kParallelFlops;
  detail::parallel_chunks(tr * tc, 1, parallel, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      const std::int64_t r0 = (t / tc) * kTileRows, c0 = (t % tc) * kTileCols;
      fn(r0, std::min(kTileRows, rows - r0), c0, std::min(kTileCols, cols - c0));
    }
  });
}

template <class T>
gemm::GemmFn<T> kernel();
template <>
gemm::GemmFn<float> kernel<float>() { return gemm::best().f32; }
template <>
gemm::GemmFn<double> kernel<double>() { return gemm::best().f64; }

}  // namespace

template <class T>
void fully_connected_forward(const T* x, const T* w, const T* bias, T* y, std::int64_t m,
                             std::int64_t k, std::int64_t n) {
  const auto gemm = kernel<T>();
  for_each_tile(m, n, k, [&](std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc) {
    T* out = y + r0 * n + c0;
    gemm(false, true, nr, nc, k, x + r0 * k, k, w + c0 * k, k, out, n, false);  // X W^T
    if (bias)
      for (std::int64_t i = 0; i < nr; ++i)
        for (std::int64_t j = 0; j < nc; ++j) out[i * n + j] += bias[c0 + j];
  });
}

template <class T>
void fully_connected_backward(const T* gy, const T* x, const T* w, std::int64_t m,
                              std::int64_t k, std::int64_t n, T* gx, Req gx_req, T* gw,
                              Req gw_req, T* gbias, Req gbias_req) {
  const auto gemm = kernel<T>();
  if (gw_req != Req::kNull) {  // dW(n,k) = G^T X, tiles over (n, k), reduction over the batch m
    const bool acc = gw_req == Req::kAdd;
    for_each_tile(n, k, m, [&](std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc) {
      gemm(true, false, nr, nc, m, gy + r0, n, x + c0, k, gw + r0 * k + c0, k, acc);
    });
  }
  if (gx_req != Req::kNull) {  // dX(m,k) = G W
    const bool acc = gx_req == Req::kAdd;
    for_each_tile(m, k, n, [&](std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc) {
      gemm(false, false, nr, nc, n, gy + r0 * n, n, w + c0, k, gx + r0 * k + c0, k, acc);
    });
  }
  if (gbias_req != Req::kNull) {  // db(n) = sum over rows of G, each column summed in row order
    detail::parallel_chunks(n, 1024, m * n >= detail::kParallelElements,
                            [&](std::int64_t b, std::int64_t e) {
      std::vector<T> acc(static_cast<std::size_t>(e - b), T(0));
      for (std::int64_t i = 0; i < m; ++i) {
        const T* row = gy + i * n + b;
        for (std::int64_t j = 0; j < e - b; ++j) acc[j] += row[j];
      }
      for (std::int64_t j = b; j < e; ++j)
        gbias[j] = gbias_req == Req::kWrite ? acc[j - b] : gbias[j] + acc[j - b];
    });
  }
}

const char* gemm_isa() { return gemm::best().isa; }

template void fully_connected_forward<float>(const float*, const float*, const float*, float*,
                                             std::int64_t, std::int64_t, std::int64_t);
template void fully_connected_forward<double>(const double*, const double*, const double*,
                                              double*, std::int64_t, std::int64_t, std::int64_t);
template void fully_connected_backward<float>(const float*, const float*, const float*,
                                              std::int64_t, std::int64_t, std::int64_t, float*,
                                              Req, float*, Req, float*, Req);
template void fully_connected_backward<double>(const double*, const double*, const double*,
                                               std::int64_t, std::int64_t, std::int64_t, double*,
                                               Req, double*, Req, double*, Req);

}  // namespace mxopt::ops
