// Row gather for mx.io.NDArrayIter (see mxopt/io.h).
#include <cstring>
#include <stdexcept>
#include <string>

#include "../ops/parallel.h"
#include "mxopt/io.h"

namespace mxopt::io {
namespace {

constexpr std::size_t kLine = 64;
// Rows prefetched ahead of the one being copied, and at most this many lines of each (beyond
// that the hardware prefetcher follows the row on its own).
constexpr std::int64_t kAhead = 4;
constexpr std::size_t kPrefetchLines = 64;
// Gathers below this many bytes stay on one thread.
constexpr std::size_t kParallelBytes = std::size_t{256} << 10;

inline void prefetch_row(const unsigned char* row, std::size_t row_bytes) {
  const std::size_t lines = (row_bytes + kLine - 1) / kLine;
  const std::size_t n = lines < kPrefetchLines ? lines : kPrefetchLines;
  for (std::size_t l = 0; l < n; ++l) __builtin_prefetch(row + l * kLine, 0, 3);
}

void copy_rows(const unsigned char* src, std::size_t row_bytes, const std::int64_t* rows,
               std::int64_t begin, std::int64_t end, unsigned char* out) {
  for (std::int64_t i = begin; i < end && i < begin + kAhead; ++i)
    prefetch_row(src + static_cast<std::size_t>(rows[i]) * row_bytes, row_bytes);
  for (std::int64_t i = begin; i < end; ++i) {
    if (i + kAhead < end)
      prefetch_row(src + static_cast<std::size_t>(rows[i + kAhead]) * row_bytes, row_bytes);
    std::memcpy(out + static_cast<std::size_t>(i) * row_bytes,
                src + static_cast<std::size_t>(rows[i]) * row_bytes, row_bytes);
  }
}

}  // namespace

void take_rows(const unsigned char* src, std::int64_t n_rows, std::size_t row_bytes,
               const std::int64_t* rows, std::int64_t n_take, unsigned char* out) {
  for (std::int64_t i = 0; i < n_take; ++i) {
    if (rows[i] < 0 || rows[i] >= n_rows)
      throw std::out_of_range("take_rows: index " + std::to_string(rows[i]) + " at position " +
                              std::to_string(i) + " is out of range for " +
                              std::to_string(n_rows) + " rows");
  }
  if (row_bytes == 0 || n_take <= 0) return;
  const bool parallel = static_cast<std::size_t>(n_take) * row_bytes >= kParallelBytes;
  // One chunk per thread-sized share of rows (fixed grain: the copy is the same either way).
  const std::int64_t grain = parallel ? (n_take + 7) / 8 : n_take;
  ops::detail::parallel_chunks(n_take, grain, parallel, [&](std::int64_t b, std::int64_t e) {
    copy_rows(src, row_bytes, rows, b, e, out);
  });
}

}  // namespace mxopt::io
