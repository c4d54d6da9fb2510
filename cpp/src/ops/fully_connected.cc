// FullyConnected forward/backward on Eigen's GEMM.
//
// Eigen's own GEMM threading is disabled here (EIGEN_DONT_PARALLELIZE): its k-blocking depends
// on the thread count, which would change rounding. Instead the output is cut into fixed tiles
// (independent of the thread count), each computed by a single-threaded GEMM over the full
// reduction dimension, and the tiles are spread over OpenMP threads.
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>

#include <algorithm>
#include <vector>

#include "mxopt/ops.h"
#include "parallel.h"

namespace mxopt::ops {
namespace {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Map = Eigen::Map<RowMat<T>>;
template <class T>
using CMap = Eigen::Map<const RowMat<T>>;

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

}  // namespace

template <class T>
void fully_connected_forward(const T* x, const T* w, const T* bias, T* y, std::int64_t m,
                             std::int64_t k, std::int64_t n) {
  CMap<T> X(x, m, k), W(w, n, k);
  Map<T> Y(y, m, n);
  for_each_tile(m, n, k, [&](std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc) {
    auto out = Y.block(r0, c0, nr, nc);
    if (k == 0) {
      out.setZero();
    } else {
      out.noalias() = X.middleRows(r0, nr) * W.middleRows(c0, nc).transpose();
    }
    if (bias) {
      for (std::int64_t i = 0; i < nr; ++i)
        for (std::int64_t j = 0; j < nc; ++j) out(i, j) += bias[c0 + j];
    }
  });
}

template <class T>
void fully_connected_backward(const T* gy, const T* x, const T* w, std::int64_t m,
                              std::int64_t k, std::int64_t n, T* gx, Req gx_req, T* gw,
                              Req gw_req, T* gbias, Req gbias_req) {
  CMap<T> G(gy, m, n), X(x, m, k), W(w, n, k);
  if (gw_req != Req::kNull) {  // dW(n,k) = G^T X
    Map<T> GW(gw, n, k);
    for_each_tile(n, k, m, [&](std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc) {
      auto out = GW.block(r0, c0, nr, nc);
      if (gw_req == Req::kWrite) {
        if (m == 0) out.setZero();
        else out.noalias() = G.middleCols(r0, nr).transpose() * X.middleCols(c0, nc);
      } else if (m > 0) {
        out.noalias() += G.middleCols(r0, nr).transpose() * X.middleCols(c0, nc);
      }
    });
  }
  if (gx_req != Req::kNull) {  // dX(m,k) = G W
    Map<T> GX(gx, m, k);
    for_each_tile(m, k, n, [&](std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc) {
      auto out = GX.block(r0, c0, nr, nc);
      if (gx_req == Req::kWrite) out.noalias() = G.middleRows(r0, nr) * W.middleCols(c0, nc);
      else out.noalias() += G.middleRows(r0, nr) * W.middleCols(c0, nc);
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
