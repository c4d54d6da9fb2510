// MXNet's CSVIter and LibSVMIter: row parsers (parallel over a chunk of lines), the row streams
// of one text source, and the batch sources with MXNet 1.9.1's BatchLoader / SparseBatchLoader
// semantics.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "mxopt/data.h"

#ifdef MXOPT_HAVE_OPENMP
#include <omp.h>
#endif

namespace mxopt::data {
namespace {

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// First malformed line of a piece: `at` is the offset of its start in the chunk.
struct ParseError {
  bool set = false;
  std::size_t at = 0;
  std::string what;
};

// End of the line that starts at p (the first '\n' or '\r', or e).
inline const char* line_end(const char* p, const char* e) {
  const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(e - p));
  const char* stop = nl ? static_cast<const char*>(nl) : e;
  const void* cr = std::memchr(p, '\r', static_cast<std::size_t>(stop - p));
  return cr ? static_cast<const char*>(cr) : stop;
}

// At most 40 characters of [b, e) for a message, quoted; bytes that are not printable ASCII are
// written as \xNN (messages must be valid UTF-8 text).
std::string excerpt(const char* b, const char* e) {
  std::string s = "'";
  const char* stop = b + std::min<std::ptrdiff_t>(e - b, 40);
  for (const char* p = b; p < stop; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c < 0x7F) {
      s += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02X", c);
      s += hex;
    }
  }
  if (e - b > 40) s += "...";
  return s + "'";
}

// ---- CSV ----------------------------------------------------------------------------------------
// One CSV row per non-blank line: `expected` comma-separated numbers (a trailing comma is
// allowed, a UTF-8 byte order mark at a line start is skipped, as dmlc-core does).
template <typename V>
struct CSVParser {
  std::int64_t expected;
  std::string shape_text;  // "data_shape=(3,)" for messages

  bool value(const char* b, const char* e, const char** stop, V* out, std::string* why) const {
    if constexpr (std::is_same<V, float>::value) {
      *out = parse_float(b, e, stop);
      return *stop != b;
    } else {
      bool overflow = false;
      const std::int64_t v = parse_int(b, e, stop, &overflow);
      if (*stop == b) return false;
      if (overflow || v < static_cast<std::int64_t>(std::numeric_limits<V>::min()) ||
          v > static_cast<std::int64_t>(std::numeric_limits<V>::max())) {
        *why = "out of the range of " + std::string(sizeof(V) == 4 ? "int32" : "int64");
        return false;
      }
      *out = static_cast<V>(v);
      return true;
    }
  }

  void operator()(const char* base, const char* b, const char* e, RowBlock<V>* out,
                  ParseError* err) const {
    const char* p = b;
    while (p < e) {
      if (*p == '\n' || *p == '\r') {
        ++p;
        continue;
      }
      const char* ls = p;
      const char* le = line_end(p, e);
      p = le;
      const char* q = ls;
      if (le - q >= 3 && q[0] == '\xEF' && q[1] == '\xBB' && q[2] == '\xBF') q += 3;
      const char* t = q;
      while (t < le && is_blank(*t)) ++t;
      if (t == le) continue;  // blank line
      const std::size_t first = out->value.size();
      std::int64_t count = 0;
      std::string problem;
      while (true) {
        // fast path: a number, optional blanks, then ',' or the end of the line
        const char* stop = q;
        V v{};
        std::string why;
        if (value(q, le, &stop, &v, &why)) {
          while (stop < le && is_blank(*stop)) ++stop;
          if (stop == le || *stop == ',') {
            out->value.push_back(v);
            ++count;
            if (stop == le) break;
            q = stop + 1;
            continue;
          }
        }
        // a field that is not one number: a trailing delimiter, or an error
        const void* comma = std::memchr(q, ',', static_cast<std::size_t>(le - q));
        const char* fe = comma ? static_cast<const char*>(comma) : le;
        const char* t2 = q;
        while (t2 < fe && is_blank(*t2)) ++t2;
        if (t2 == fe && fe == le && count > 0) break;  // "1,2,3," ends with a delimiter
        problem = t2 == fe ? "empty value in column " + std::to_string(count + 1)
                           : "invalid value " + excerpt(q, fe) + " in column " +
                                 std::to_string(count + 1) + (why.empty() ? "" : " (" + why + ")");
        break;
      }
      if (problem.empty() && count != expected)
        problem = "the row has " + std::to_string(count) + " values but " + shape_text +
                  " needs " + std::to_string(expected) +
                  " (The data size in CSV do not match size of shape)";
      if (!problem.empty()) {
        out->value.resize(first);
        err->set = true;
        err->at = static_cast<std::size_t>(ls - base);
        err->what = problem;
        return;
      }
      out->offset.push_back(static_cast<std::int64_t>(out->value.size()));
    }
  }
};

// ---- LibSVM -------------------------------------------------------------------------------------
// "label[:weight] [qid:n] index:value ..." per line, '#' starts a comment; blank lines are
// skipped. Indices are used as given (zero-based), must be < `num_cols` and strictly increasing.
struct LibSVMParser {
  std::int64_t num_cols;
  std::string shape_text;

  void operator()(const char* base, const char* b, const char* e, RowBlock<float>* out,
                  ParseError* err) const {
    const char* p = b;
    while (p < e) {
      if (*p == '\n' || *p == '\r') {
        ++p;
        continue;
      }
      const char* ls = p;
      const char* le = line_end(p, e);
      p = le;
      std::string problem;
      const std::size_t first = out->value.size();
      if (!parse_line(ls, le, out, &problem)) continue;  // blank or comment line
      if (!problem.empty()) {
        out->value.resize(first);
        out->index.resize(first);
        err->set = true;
        err->at = static_cast<std::size_t>(ls - base);
        err->what = problem;
        return;
      }
    }
  }

  // False for a line without a row; else true, with `problem` set if the line is malformed.
  bool parse_line(const char* q, const char* le, RowBlock<float>* out,
                  std::string* problem) const {
    auto skip = [&] {
      while (q < le && is_blank(*q)) ++q;
    };
    auto token_end = [&](const char* s) {
      while (s < le && !is_blank(*s)) ++s;
      return s;
    };
    auto at_separator = [&](const char* s) { return s == le || is_blank(*s) || *s == '#'; };
    skip();
    if (q == le || *q == '#') return false;
    const char* stop;
    const float label = parse_float(q, le, &stop);
    if (stop == q || (!at_separator(stop) && *stop != ':')) {
      *problem = "invalid label " + excerpt(q, token_end(q));
      return true;
    }
    q = stop;
    skip();
    if (q < le && *q == ':') {  // label:weight (the weight is not used, as in MXNet)
      ++q;
      skip();
      parse_float(q, le, &stop);
      if (stop == q || !at_separator(stop)) {
        *problem = "invalid instance weight " + excerpt(q, token_end(q));
        return true;
      }
      q = stop;
    }
    skip();
    if (le - q >= 4 && std::memcmp(q, "qid:", 4) == 0) {
      const char* s = q + 4;
      while (s < le && is_digit(*s)) ++s;
      if (s == q + 4 || !at_separator(s)) {
        *problem = "invalid query id " + excerpt(q, token_end(q));
        return true;
      }
      q = s;
    }
    std::int64_t previous = -1;
    while (true) {
      skip();
      if (q == le || *q == '#') break;
      const char* tok = q;
      if (!is_digit(*q)) {
        *problem = "invalid feature " + excerpt(tok, token_end(tok)) + " (expected index:value)";
        return true;
      }
      std::uint64_t index = 0;
      bool overflow = false;
      for (; q < le && is_digit(*q); ++q) {
        if (index > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) overflow = true;
        index = index * 10u + static_cast<std::uint64_t>(*q - '0');
      }
      skip();
      if (q == le || *q != ':') {
        *problem = "feature " + excerpt(tok, token_end(tok)) +
                   " has no value (expected index:value)";
        return true;
      }
      ++q;
      skip();
      const float v = parse_float(q, le, &stop);
      if (stop == q || !at_separator(stop)) {
        *problem = "invalid value in feature " + excerpt(tok, token_end(q));
        return true;
      }
      q = stop;
      if (overflow || index >= static_cast<std::uint64_t>(num_cols)) {
        *problem = "feature index " + std::string(tok, static_cast<std::size_t>(
                                                            std::find(tok, le, ':') - tok)) +
                   " is out of range: " + shape_text + " allows indices 0.." +
                   std::to_string(num_cols - 1);
        return true;
      }
      if (static_cast<std::int64_t>(index) <= previous) {
        *problem = "feature index " + std::to_string(index) + " follows index " +
                   std::to_string(previous) +
                   ": the indices of a line must be sorted in increasing order, without duplicates";
        return true;
      }
      previous = static_cast<std::int64_t>(index);
      out->index.push_back(previous);
      out->value.push_back(v);
    }
    out->label.push_back(label);
    out->offset.push_back(static_cast<std::int64_t>(out->value.size()));
    return true;
  }
};

int max_threads() {
#ifdef MXOPT_HAVE_OPENMP
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

// (size, modification time) of a file: a cached parse is replayed only while these are unchanged.
struct Stamp {
  std::uint64_t size = 0;
  std::int64_t sec = 0, nsec = 0;
  bool operator==(const Stamp& o) const {
    return size == o.size && sec == o.sec && nsec == o.nsec;
  }
};

std::vector<Stamp> stamps_of(const std::vector<TextFile>& files) {
  std::vector<Stamp> out;
  for (const auto& f : files) {
    struct stat st;
    Stamp s;
    if (::stat(f.path.c_str(), &st) == 0) {
      s.size = static_cast<std::uint64_t>(st.st_size);
      s.sec = static_cast<std::int64_t>(st.st_mtim.tv_sec);
      s.nsec = static_cast<std::int64_t>(st.st_mtim.tv_nsec);
    }
    out.push_back(s);
  }
  return out;
}

template <typename V>
std::size_t block_bytes(const RowBlock<V>& b) {
  return b.offset.capacity() * sizeof(std::int64_t) + b.value.capacity() * sizeof(V) +
         b.index.capacity() * sizeof(std::int64_t) + b.label.capacity() * sizeof(float);
}

// The rows of one text source (a uri, optionally one partition), chunk by chunk. A chunk is
// parsed in pieces (in parallel when it is large). The first complete pass keeps the parsed
// blocks (up to text_cache_limit() bytes); later passes replay them while the files are
// unchanged. Without a cache, the pieces' blocks are reused from chunk to chunk.
template <typename V>
class RowStream {
 public:
  using Parser = std::function<void(const char*, const char*, const char*, RowBlock<V>*,
                                    ParseError*)>;

  RowStream(const std::string& uri, unsigned part, unsigned nparts, std::size_t chunk_bytes,
            Parser parser)
      : chunks_(expand_uri(uri), part, nparts, chunk_bytes),
        parser_(std::move(parser)),
        limit_(text_cache_limit()) {
    start_pass();
  }

  // The next row (row `*row` of `*block`, valid until the next call), false at the end; raises
  // the DataError of a malformed line when it is the next row.
  bool next(const RowBlock<V>** block, std::size_t* row) {
    while (true) {
      if (piece_ < pieces_) {
        const RowBlock<V>& b = current(piece_);
        if (row_ < b.rows()) {
          *block = &b;
          *row = row_++;
          return true;
        }
        ++piece_;
        row_ = 0;
        continue;
      }
      if (!error_.empty()) throw DataError(error_);
      if (end_) return false;
      refill();
    }
  }

  void before_first() {
    pieces_ = piece_ = row_ = 0;
    end_ = false;
    error_.clear();
    if (cached_ && stamps_of(chunks_.files()) == stamps_) {
      replay_ = true;
      replay_pos_ = 0;
      return;
    }
    start_pass();
  }

  const std::string& first_path() const { return chunks_.files().front().path; }

 private:
  void start_pass() {
    chunks_.before_first();
    replay_ = cached_ = false;
    cache_.clear();
    cache_bytes_ = 0;
    caching_ = limit_ > 0;
    if (caching_) stamps_ = stamps_of(chunks_.files());
  }

  const RowBlock<V>& current(std::size_t piece) const {
    return serving_cache_ ? cache_[first_ + piece] : blocks_[piece];
  }

  static void clear(RowBlock<V>* b) {
    b->offset.assign(1, 0);
    b->value.clear();
    b->index.clear();
    b->label.clear();
    b->error.clear();
  }

  void drop_cache() {
    caching_ = false;
    cache_.clear();
    cache_.shrink_to_fit();
    cache_bytes_ = 0;
  }

  void refill() {
    pieces_ = piece_ = row_ = 0;
    if (replay_) {
      if (replay_pos_ == cache_.size()) {
        end_ = true;
        return;
      }
      serving_cache_ = true;
      first_ = replay_pos_++;
      pieces_ = 1;
      return;
    }
    if (!chunks_.next(&chunk_)) {
      end_ = true;
      if (caching_) cached_ = true;  // a complete, error-free pass
      caching_ = false;
      return;
    }
    const char* base = chunk_.text.data();
    const std::size_t n = chunk_.text.size();
    const int pieces = n >= (1u << 20) ? std::min(4 * max_threads(), 256) : 1;
    if (blocks_.size() < static_cast<std::size_t>(pieces)) blocks_.resize(pieces);
    std::vector<std::size_t> cut(static_cast<std::size_t>(pieces) + 1, n);
    cut[0] = 0;
    for (int t = 1; t < pieces; ++t) {
      std::size_t pos = std::max(cut[t - 1], n / pieces * t);
      while (pos < n && base[pos] != '\n' && base[pos] != '\r') ++pos;
      cut[t] = std::min(n, pos + (pos < n ? 1 : 0));
    }
    std::vector<ParseError> errors(static_cast<std::size_t>(pieces));
    std::vector<std::string> failures(static_cast<std::size_t>(pieces));
    auto run = [&](int t) {
      try {
        clear(&blocks_[t]);
        parser_(base, base + cut[t], base + cut[t + 1], &blocks_[t], &errors[t]);
        if (caching_) {
          blocks_[t].offset.shrink_to_fit();
          blocks_[t].value.shrink_to_fit();
          blocks_[t].index.shrink_to_fit();
          blocks_[t].label.shrink_to_fit();
        }
      } catch (const std::exception& e) {  // bad_alloc: never let it cross a parallel region
        failures[t] = e.what();
      }
    };
    if (pieces == 1) {
      run(0);
    } else {
#ifdef MXOPT_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(std::min(pieces, max_threads()))
#endif
      for (int t = 0; t < pieces; ++t) run(t);
    }
    for (const auto& f : failures)
      if (!f.empty()) throw DataError("parsing '" + chunks_.files()[chunk_.file].path +
                                      "' failed: " + f);
    pieces_ = static_cast<std::size_t>(pieces);
    for (std::size_t t = 0; t < errors.size(); ++t) {
      if (errors[t].set) {
        pieces_ = t + 1;  // the rows before the malformed line, then the error
        const std::string& path = chunks_.files()[chunk_.file].path;
        const std::uint64_t line = line_number(path, chunk_.offset + errors[t].at);
        error_ = "file '" + path + "', line " + std::to_string(line) + ": " + errors[t].what;
        break;
      }
    }
    serving_cache_ = false;
    if (!caching_) return;
    if (!error_.empty()) {  // a malformed file is never cached: each pass raises again
      drop_cache();
      return;
    }
    std::size_t bytes = 0;
    for (std::size_t t = 0; t < pieces_; ++t) bytes += block_bytes(blocks_[t]);
    if (cache_bytes_ + bytes > limit_) {
      drop_cache();
      return;
    }
    cache_bytes_ += bytes;
    first_ = cache_.size();
    for (std::size_t t = 0; t < pieces_; ++t) cache_.push_back(std::move(blocks_[t]));
    serving_cache_ = true;
  }

  TextChunks chunks_;
  Parser parser_;
  Chunk chunk_;
  std::vector<RowBlock<V>> blocks_;
  std::size_t pieces_ = 0, piece_ = 0, row_ = 0;
  bool end_ = false;
  std::string error_;
  // the parsed-rows cache
  std::size_t limit_;
  std::vector<RowBlock<V>> cache_;
  std::size_t cache_bytes_ = 0, first_ = 0, replay_pos_ = 0;
  bool caching_ = false, cached_ = false, replay_ = false, serving_cache_ = false;
  std::vector<Stamp> stamps_;
};

std::string shape_text(const char* name, const std::vector<std::int64_t>& shape) {
  std::string s = std::string(name) + "=(";
  for (std::size_t i = 0; i < shape.size(); ++i)
    s += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  return s + ")";
}

std::int64_t product(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

template <typename V>
void put_dense(BatchSource* src, Array* a, int dtype, std::vector<std::int64_t> shape,
               const std::vector<V>& values) {
  a->dtype = dtype;
  a->csr = false;
  a->shape = std::move(shape);
  a->values = src->buffer(values.size() * sizeof(V));
  if (!values.empty()) std::memcpy(a->values.data(), values.data(), a->values.size());
}

// MXNet's C API returns a label of shape (batch, 1, ...) as its first `batch` values, shape
// (batch,).
void squeeze_label(Array* a, std::size_t elem) {
  if (a->shape.size() > 1 && a->shape[1] == 1) {
    a->values.resize(static_cast<std::size_t>(a->shape[0]) * elem);
    a->shape = {a->shape[0]};
  }
}

// ---- CSVIter: CSV rows + MXNet's BatchLoader ----------------------------------------------------
template <typename V>
class CSVSource : public BatchSource {
 public:
  CSVSource(const CSVOptions& o, int dtype)
      : dtype_(dtype),
        batch_(o.batch_size),
        round_(o.round_batch),
        data_shape_(o.data_shape),
        label_shape_(o.label_csv.empty() ? std::vector<std::int64_t>{1} : o.label_shape),
        data_len_(product(o.data_shape)),
        label_len_(product(label_shape_)),
        data_(o.data_csv, 0, 1, o.chunk_bytes,
              CSVParser<V>{data_len_, shape_text("data_shape", o.data_shape)}) {
    if (!o.label_csv.empty()) {
      label_ = std::make_unique<RowStream<V>>(
          o.label_csv, 0, 1, o.chunk_bytes,
          CSVParser<V>{label_len_, shape_text("label_shape", o.label_shape)});
    }
    // MXNet's batch buffers persist between batches: the pad rows of a short last batch
    // (round_batch=False) keep the previous batch's rows.
    data_buf_.assign(static_cast<std::size_t>(batch_ * data_len_), V{});
    label_buf_.assign(static_cast<std::size_t>(batch_ * label_len_), V{});
    index_.assign(static_cast<std::size_t>(batch_), 0);
  }

  bool next(Batch* out) override {
    int pad = 0;
    if (overflow_ != 0) return false;
    std::int64_t top = 0;
    while (top < batch_ && instance(top)) ++top;
    if (top == 0) return false;
    if (top < batch_) {
      if (round_) {
        base_before_first();
        for (; top < batch_; ++top, ++overflow_) {
          if (!instance(top))
            throw DataError("CSVIter: the data has fewer rows than batch_size " +
                            std::to_string(batch_) + " (number of input must be bigger than "
                            "batch size)");
        }
        pad = overflow_;
      } else {
        pad = static_cast<int>(batch_ - top);
      }
    }
    std::vector<std::int64_t> dshape{batch_}, lshape{batch_};
    dshape.insert(dshape.end(), data_shape_.begin(), data_shape_.end());
    lshape.insert(lshape.end(), label_shape_.begin(), label_shape_.end());
    put_dense(this, &out->data, dtype_, dshape, data_buf_);
    put_dense(this, &out->label, dtype_, lshape, label_buf_);
    squeeze_label(&out->label, sizeof(V));
    out->pad = pad;
    out->index = index_;
    return true;
  }

  void before_first() override {
    if (!round_ || overflow_ == 0) {
      base_before_first();
    } else {
      overflow_ = 0;
    }
  }

 private:
  // MXNet's CSVIter::Next, copied into batch slot `top`.
  bool instance(std::int64_t top) {
    const RowBlock<V>* block;
    std::size_t r;
    if (!data_.next(&block, &r)) return false;
    const RowBlock<V>& b = *block;
    std::copy_n(b.value.data() + b.offset[r], data_len_,
                data_buf_.data() + static_cast<std::size_t>(top * data_len_));
    index_[static_cast<std::size_t>(top)] = counter_++;
    V* dst = label_buf_.data() + static_cast<std::size_t>(top * label_len_);
    if (label_) {
      const RowBlock<V>* lb;
      std::size_t lr;
      if (!label_->next(&lb, &lr))
        throw DataError("CSVIter: label_csv '" + label_->first_path() +
                        "' has fewer rows than data_csv '" + data_.first_path() +
                        "' (Data CSV's row is smaller than the number of rows in label_csv)");
      std::copy_n(lb->value.data() + lb->offset[lr], label_len_, dst);
    } else {
      *dst = V{};
    }
    return true;
  }

  void base_before_first() {
    data_.before_first();
    if (label_) label_->before_first();
    counter_ = 0;
  }

  int dtype_;
  std::int64_t batch_;
  bool round_;
  std::vector<std::int64_t> data_shape_, label_shape_;
  std::int64_t data_len_, label_len_;
  RowStream<V> data_;
  std::unique_ptr<RowStream<V>> label_;
  std::vector<V> data_buf_, label_buf_;
  std::vector<std::uint64_t> index_;
  std::uint32_t counter_ = 0;  // MXNet's instance counter is an unsigned int
  int overflow_ = 0;
};

// ---- LibSVMIter: LibSVM rows + MXNet's SparseBatchLoader (round_batch only) ---------------------
class LibSVMSource : public BatchSource {
 public:
  explicit LibSVMSource(const LibSVMOptions& o)
      : batch_(o.batch_size),
        num_cols_(o.num_cols),
        label_cols_(o.label_cols),
        data_(o.data_libsvm, o.part_index, o.num_parts, o.chunk_bytes,
              LibSVMParser{o.num_cols, shape_text("data_shape", {o.num_cols})}) {
    if (!o.label_libsvm.empty()) {
      label_ = std::make_unique<RowStream<float>>(
          o.label_libsvm, o.part_index, o.num_parts, o.chunk_bytes,
          LibSVMParser{o.label_cols, shape_text("label_shape", {o.label_cols})});
    }
  }

  bool next(Batch* out) override {
    if (overflow_ != 0) return false;
    start_batch();
    std::int64_t top = 0;
    while (top < batch_ && instance(top)) ++top;
    if (top == 0) return false;
    int pad = 0;
    if (top < batch_) {
      base_before_first();
      for (; top < batch_; ++top, ++overflow_) {
        if (!instance(top))
          throw DataError("LibSVMIter: the data has fewer rows than batch_size " +
                          std::to_string(batch_) +
                          " (number of input must be bigger than batch size)");
      }
      pad = overflow_;
    }
    out->data.dtype = kFloat32;
    out->data.csr = true;
    out->data.shape = {batch_, num_cols_};
    put_values(&out->data, values_);
    out->data.indices = indices_;
    out->data.indptr = indptr_;
    if (label_) {
      out->label.dtype = kFloat32;
      out->label.csr = true;
      out->label.shape = {batch_, label_cols_};
      put_values(&out->label, lvalues_);
      out->label.indices = lindices_;
      out->label.indptr = lindptr_;
    } else {
      put_dense(this, &out->label, kFloat32, {batch_}, dense_label_);
    }
    out->pad = pad;
    out->index = index_;
    return true;
  }

  void before_first() override {
    if (overflow_ == 0) {
      base_before_first();
    } else {
      overflow_ = 0;
    }
  }

 private:
  void put_values(Array* a, const std::vector<float>& v) {
    a->values = buffer(v.size() * sizeof(float));
    if (!v.empty()) std::memcpy(a->values.data(), v.data(), a->values.size());
  }

  void start_batch() {
    values_.clear();
    indices_.clear();
    indptr_.assign(1, 0);
    lvalues_.clear();
    lindices_.clear();
    lindptr_.assign(1, 0);
    dense_label_.clear();
    index_.assign(static_cast<std::size_t>(batch_), 0);
  }

  static void append_row(const RowBlock<float>& b, std::size_t r, std::vector<float>* values,
                         std::vector<std::int64_t>* indices, std::vector<std::int64_t>* indptr) {
    const auto lo = static_cast<std::size_t>(b.offset[r]);
    const auto hi = static_cast<std::size_t>(b.offset[r + 1]);
    values->insert(values->end(), b.value.begin() + lo, b.value.begin() + hi);
    indices->insert(indices->end(), b.index.begin() + lo, b.index.begin() + hi);
    indptr->push_back(static_cast<std::int64_t>(values->size()));
  }

  bool instance(std::int64_t top) {
    const RowBlock<float>* block;
    std::size_t r;
    if (!data_.next(&block, &r)) return false;
    const RowBlock<float>& b = *block;
    append_row(b, r, &values_, &indices_, &indptr_);
    index_[static_cast<std::size_t>(top)] = counter_++;
    if (label_) {
      const RowBlock<float>* lb;
      std::size_t lr;
      if (!label_->next(&lb, &lr))
        throw DataError("LibSVMIter: label_libsvm '" + label_->first_path() +
                        "' has fewer rows than data_libsvm '" + data_.first_path() +
                        "' (Data LibSVM's row is smaller than the number of rows in "
                        "label_libsvm)");
      append_row(*lb, lr, &lvalues_, &lindices_, &lindptr_);
    } else {
      dense_label_.push_back(b.label[r]);
    }
    return true;
  }

  void base_before_first() {
    data_.before_first();
    if (label_) label_->before_first();
    counter_ = 0;
  }

  std::int64_t batch_, num_cols_, label_cols_;
  RowStream<float> data_;
  std::unique_ptr<RowStream<float>> label_;
  std::vector<float> values_, lvalues_, dense_label_;
  std::vector<std::int64_t> indices_, indptr_, lindices_, lindptr_;
  std::vector<std::uint64_t> index_;
  std::uint32_t counter_ = 0;
  int overflow_ = 0;
};

}  // namespace

std::size_t text_cache_limit() {
  if (const char* env = std::getenv("MXOPT_IO_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (end != env && *end == '\0') return static_cast<std::size_t>(mb) << 20;
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  std::size_t quarter = pages > 0 && page > 0
                            ? static_cast<std::size_t>(pages) / 4 * static_cast<std::size_t>(page)
                            : std::size_t{256} << 20;
  return std::min(quarter, std::size_t{2} << 30);
}

std::unique_ptr<BatchSource> make_csv_source(const CSVOptions& o) {
  if (o.batch_size <= 0) throw DataError("CSVIter: batch_size must be positive");
  if (o.data_shape.empty() || product(o.data_shape) <= 0)
    throw DataError("CSVIter: data_shape must have positive dimensions");
  if (!o.label_csv.empty() && (o.label_shape.empty() || product(o.label_shape) <= 0))
    throw DataError("CSVIter: label_shape must have positive dimensions");
  switch (o.dtype) {
    case kFloat32: return std::make_unique<CSVSource<float>>(o, kFloat32);
    case kInt32: return std::make_unique<CSVSource<std::int32_t>>(o, kInt32);
    case kInt64: return std::make_unique<CSVSource<std::int64_t>>(o, kInt64);
    default: throw DataError("CSVIter: unsupported dtype");
  }
}

std::unique_ptr<BatchSource> make_libsvm_source(const LibSVMOptions& o) {
  if (o.batch_size <= 0) throw DataError("LibSVMIter: batch_size must be positive");
  if (o.num_cols <= 0) throw DataError("LibSVMIter: data_shape must be positive");
  if (o.label_cols <= 0) throw DataError("LibSVMIter: label_shape must be positive");
  return std::make_unique<LibSVMSource>(o);
}

}  // namespace mxopt::data
