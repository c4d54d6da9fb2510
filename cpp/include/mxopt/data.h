// MXNet 1.9.1's file data iterators (mx.io.MNISTIter, CSVIter, LibSVMIter): parsing of idx,
// CSV and LibSVM files and batch assembly with MXNet's batch semantics (round_batch wrap-around,
// pad, instance index, reset rules), behind a prefetching thread like MXNet's.
//
// Layers (each usable alone; python/mxopt/_data_iters.py drives them via bindings/bind_data.cc):
//   * parse_float / parse_int: the number syntax of MXNet's text parsers (dmlc-core's strtof,
//     whose rounding differs from a correctly rounded strtof: reproduced bit for bit);
//   * TextChunks: the lines of a set of text files (a path, a directory, ';'-separated lists),
//     optionally one of `num_parts` byte-range partitions (dmlc-core's rule), in chunks of whole
//     lines;
//   * CSV / LibSVM row parsers (parallel over a chunk) and the batch sources built on them;
//   * the MNIST (idx) source: the whole file in memory, optional shuffle with MXNet's engine;
//   * Prefetcher: runs a source in a thread up to 16 batches ahead, as MXNet's PrefetcherIter.
//
// Malformed input raises DataError naming the file and the line (text) or the byte count (idx);
// a missing file raises FileMissing. Errors in a text file surface at the batch that needs the
// malformed line (never a crash or a silently short epoch).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mxopt::data {

// Malformed data or an invalid iterator argument.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A data file (or directory) that does not exist or cannot be opened.
class FileMissing : public DataError {
 public:
  FileMissing(const std::string& message, std::string path)
      : DataError(message), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- Numbers ---------------------------------------------------------------------------------
// dmlc-core's float syntax and rounding, as MXNet 1.9.1's CSV and LibSVM parsers read values:
// optional white space and sign, "inf"/"infinity"/"nan"/"nan(...)" (any case), at most 19
// significant fraction digits, an exponent clipped to +-38, an optional 'f' suffix. Parses
// [p, end); *stop is one past the last character used (p when nothing was parsed).
float parse_float(const char* p, const char* end, const char** stop);

// strtoll(p, &stop, 0) bounded by `end` (decimal, 0x hex, 0 octal). *overflow is set when the
// value does not fit in int64.
std::int64_t parse_int(const char* p, const char* end, const char** stop, bool* overflow);

// ---- Text files ------------------------------------------------------------------------------
struct TextFile {
  std::string path;
  std::uint64_t size = 0;
};

// The files named by `uri`: ';'-separated entries, each a file, a directory (its non-empty
// regular files, in directory order) or, when it does not exist, a regular expression matched
// against the names in its directory. Empty files are skipped. Raises FileMissing when nothing
// matches (naming the uri).
std::vector<TextFile> expand_uri(const std::string& uri);

// 1-based line number of the line starting at byte `offset` of `path` ("\n", "\r\n" and "\r"
// each end a line).
std::uint64_t line_number(const std::string& path, std::uint64_t offset);

// One chunk: whole lines of one file, starting at byte `offset` of file `file`.
struct Chunk {
  std::string text;
  std::size_t file = 0;
  std::uint64_t offset = 0;
};

// The lines of a file set, or of partition `part_index` of `num_parts` (the concatenated bytes
// are cut into equal ranges; a range starts after the first line end at or after its nominal
// start, as dmlc-core's LineSplitter does), read in chunks of about `chunk_bytes`.
class TextChunks {
 public:
  TextChunks(std::vector<TextFile> files, unsigned part_index, unsigned num_parts,
             std::size_t chunk_bytes);
  ~TextChunks();
  TextChunks(const TextChunks&) = delete;
  TextChunks& operator=(const TextChunks&) = delete;

  bool next(Chunk* out);
  void before_first();
  const std::vector<TextFile>& files() const { return files_; }
  std::uint64_t begin() const { return begin_; }
  std::uint64_t end() const { return end_; }

 private:
  std::vector<TextFile> files_;
  std::vector<std::uint64_t> offsets_;  // start of each file in the concatenation, + total
  std::uint64_t begin_ = 0, end_ = 0;   // partition, in concatenated bytes
  std::uint64_t pos_ = 0;               // next byte to read
  std::size_t chunk_bytes_;
  std::FILE* fp_ = nullptr;
  std::size_t fp_file_ = static_cast<std::size_t>(-1);
  std::string carry_;              // an unfinished line read at the end of the previous chunk
  std::uint64_t carry_offset_ = 0;  // its offset in its file
};

// Parsed text is kept in memory after a first complete pass (and replayed by later epochs while
// the files' sizes and modification times are unchanged) up to this many bytes per text source:
// MXOPT_IO_CACHE_MB (0 disables), else a quarter of the physical memory, at most 2 GiB.
std::size_t text_cache_limit();

// ---- Parsed rows -----------------------------------------------------------------------------
// Rows of one chunk. `offset` has rows + 1 entries into `value` (and `index`, for LibSVM);
// `label` one entry per row (LibSVM). A chunk with a malformed line keeps the rows before it and
// records the error; `error` is then non-empty.
template <typename V>
struct RowBlock {
  std::vector<std::int64_t> offset{0};
  std::vector<V> value;
  std::vector<std::int64_t> index;
  std::vector<float> label;
  std::string error;
  std::size_t rows() const { return offset.size() - 1; }
};

// Element types of CSV files (MXNet's type flags).
enum DType : int { kFloat32 = 0, kInt32 = 4, kInt64 = 6 };

// ---- Batches ---------------------------------------------------------------------------------
// One dense or CSR array of a batch: values are `dtype` elements (dense: prod(shape); CSR: nnz).
struct Array {
  int dtype = kFloat32;
  std::vector<std::int64_t> shape;
  std::vector<unsigned char> values;
  bool csr = false;
  std::vector<std::int64_t> indices, indptr;  // CSR only
};

struct Batch {
  Array data, label;
  int pad = 0;
  std::vector<std::uint64_t> index;
};

// Recycles the value buffers of batches (hundreds of KB for MNIST and CSV batches): a fresh
// buffer per batch costs page faults, as glibc hands large freed blocks back to the kernel. The
// Python binding gives a buffer back when numpy drops the array that owned it.
class BufferPool {
 public:
  explicit BufferPool(std::size_t max_buffers = 32) : max_(max_buffers) {}
  // A buffer of exactly `bytes` bytes (contents unspecified).
  std::vector<unsigned char> take(std::size_t bytes);
  void give(std::vector<unsigned char>&& buffer);

 private:
  std::mutex mu_;
  std::vector<std::vector<unsigned char>> free_;
  std::size_t max_;
};

// MXNet's batch loaders: next() gives the next batch of the epoch (false at its end),
// before_first() rewinds with MXNet's rules (a round_batch epoch that wrapped around continues
// after the rows it borrowed).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual bool next(Batch* out) = 0;
  virtual void before_first() = 0;
  void set_pool(std::shared_ptr<BufferPool> pool) { pool_ = std::move(pool); }
  // A value buffer for a batch array (from the pool when there is one).
  std::vector<unsigned char> buffer(std::size_t bytes) {
    return pool_ ? pool_->take(bytes) : std::vector<unsigned char>(bytes);
  }

 private:
  std::shared_ptr<BufferPool> pool_;
};

struct CSVOptions {
  std::string data_csv, label_csv;  // label_csv empty: labels are 0
  std::vector<std::int64_t> data_shape, label_shape{1};
  std::int64_t batch_size = 0;
  bool round_batch = true;
  int dtype = kFloat32;  // kFloat32, kInt32, kInt64
  std::size_t chunk_bytes = 16u << 20;
};
std::unique_ptr<BatchSource> make_csv_source(const CSVOptions& options);

struct LibSVMOptions {
  std::string data_libsvm, label_libsvm;  // label_libsvm empty: labels from the data file
  std::int64_t num_cols = 0;              // data_shape[0]
  std::int64_t label_cols = 1;            // label_shape[0] (> 1 with label_libsvm)
  std::int64_t batch_size = 0;
  unsigned num_parts = 1, part_index = 0;
  std::size_t chunk_bytes = 16u << 20;
};
std::unique_ptr<BatchSource> make_libsvm_source(const LibSVMOptions& options);

// ---- MNIST -----------------------------------------------------------------------------------
// An idx file of unsigned bytes: `dims` from the header, `bytes` the payload.
struct IdxFile {
  std::vector<std::int64_t> dims;
  std::vector<unsigned char> bytes;
};
// Parse an idx file image of `ndim` dimensions (magic 0x0000 08 <ndim>); `name` is used in
// errors. Raises DataError for a wrong magic, a truncated header or payload. header_only: check
// and return the header (dims), no payload.
IdxFile parse_idx(const unsigned char* data, std::size_t size, int ndim, const std::string& name,
                  bool header_only = false);
IdxFile load_idx(const std::string& path, int ndim);

struct MNISTOptions {
  std::int64_t batch_size = 128;
  bool shuffle = true, flat = false;
  int seed = 0;
  int num_parts = 1, part_index = 0;
};
// Images (count x rows x cols) and labels (count) already parsed.
std::unique_ptr<BatchSource> make_mnist_source(IdxFile images, IdxFile labels,
                                               const MNISTOptions& options,
                                               const std::string& image_name,
                                               const std::string& label_name);

// MXNet's instance order of MNISTIter's shuffle: std::shuffle of 0..n-1 with std::mt19937(seed)
// as compiled by the libstdc++ of MXNet's binary wheels (forward Fisher-Yates, uniform integers by
// rejection and division).
std::vector<std::uint32_t> mxnet_shuffle_order(std::uint32_t n, std::uint32_t seed);

// ---- Prefetching ------------------------------------------------------------------------------
// Runs a source in a thread of its own, up to `capacity` batches ahead (MXNet: 16). next() waits
// for the next batch and rethrows, at that batch, an error the source raised. reset() first lets
// the thread get `capacity` batches ahead (or to the end of the epoch), as MXNet's thread is
// when it is faster than the consumer, then rewinds: so a reset shortly before the end of a
// round_batch epoch continues where the epoch's last batch left off, as in MXNet.
class Prefetcher {
 public:
  explicit Prefetcher(std::unique_ptr<BatchSource> source, std::size_t capacity = 16);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  bool next(Batch* out);
  void reset();
  const std::shared_ptr<BufferPool>& pool() const { return pool_; }

 private:
  void run();

  std::shared_ptr<BufferPool> pool_;
  std::unique_ptr<BatchSource> source_;
  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable produced_, consumed_;
  std::deque<Batch> queue_;
  bool end_ = false, stop_ = false, reset_ = false;
  std::exception_ptr error_, reset_error_;
  std::thread thread_;
};

}  // namespace mxopt::data
