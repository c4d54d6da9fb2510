// MXNet NDArray list files (.params): reader and writer. See mxopt/io.h for the layout.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "mxopt/io.h"

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

namespace mxopt::io {

static_assert(sizeof(double) == 8 && sizeof(float) == 4, "IEEE types required");

FormatError::FormatError(const std::string& detail)
    : std::runtime_error("Invalid NDArray file format: " + detail) {}

namespace {

bool little_endian() {
  const std::uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

void require_little_endian() {
  if (!little_endian())
    throw std::runtime_error("mxopt .params I/O needs a little-endian host (the file format is little-endian)");
}

// ---- byte sources: every read is checked against what is really left ------------------------
class Source {
 public:
  virtual ~Source() = default;
  virtual std::uint64_t remaining() const = 0;
  // Copies n bytes; throws FormatError("truncated ...") if fewer are left.
  virtual void read(void* dst, std::uint64_t n, const char* what) = 0;

  template <class T>
  T pod(const char* what) {
    T v;
    read(&v, sizeof(T), what);
    return v;
  }
};

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  const int err = errno;
  throw FileError(what + ": " + std::strerror(err), err, path);
}

[[noreturn]] void truncated(const char* what) {
  throw FormatError(std::string("file is truncated (while reading ") + what + ")");
}

class MemorySource final : public Source {
 public:
  MemorySource(const unsigned char* p, std::size_t n) : p_(p), left_(n) {}
  std::uint64_t remaining() const override { return left_; }
  void read(void* dst, std::uint64_t n, const char* what) override {
    if (n > left_) truncated(what);
    if (n) std::memcpy(dst, p_, static_cast<std::size_t>(n));
    p_ += n;
    left_ -= n;
  }

 private:
  const unsigned char* p_;
  std::uint64_t left_;
};

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

class FileSource final : public Source {
 public:
  explicit FileSource(const std::string& path) : f_(std::fopen(path.c_str(), "rb")) {
    if (!f_) fail("cannot open '" + path + "' for reading", path);
    if (std::fseek(f_.get(), 0, SEEK_END) != 0) fail("cannot seek in '" + path + "'", path);
    const long end = std::ftell(f_.get());
    if (end < 0) fail("cannot determine the size of '" + path + "'", path);
    std::rewind(f_.get());
    left_ = static_cast<std::uint64_t>(end);
  }
  std::uint64_t remaining() const override { return left_; }
  void read(void* dst, std::uint64_t n, const char* what) override {
    if (n > left_) truncated(what);
    if (n && std::fread(dst, 1, static_cast<std::size_t>(n), f_.get()) != n) truncated(what);
    left_ -= n;
  }

 private:
  FilePtr f_;
  std::uint64_t left_ = 0;
};

// ---- checked arithmetic -------------------------------------------------------------------
bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

// Elements of a shape (dims already known to be >= 0); throws on overflow.
std::uint64_t checked_count(const std::vector<std::int64_t>& shape, const char* what) {
  std::uint64_t n = 1;
  for (std::int64_t d : shape) {
    if (mul_overflows(n, static_cast<std::uint64_t>(d), &n))
      throw FormatError(std::string("element count of ") + what + " overflows");
  }
  return n;
}

std::uint64_t checked_bytes(const std::vector<std::int64_t>& shape, std::int32_t flag,
                            const char* what) {
  std::uint64_t bytes;
  if (mul_overflows(checked_count(shape, what), dtype_size(flag), &bytes))
    throw FormatError(std::string("byte size of ") + what + " overflows");
  return bytes;
}

// ---- reading ------------------------------------------------------------------------------
std::vector<std::int64_t> read_shape(Source& src, bool allow_unknown, bool* unknown) {
  const auto ndim = src.pod<std::int32_t>("shape ndim");
  if (unknown) *unknown = false;
  if (ndim == -1 && allow_unknown) {
    *unknown = true;
    return {};
  }
  if (ndim < 0 || ndim > kMaxNdim)
    throw FormatError("shape has ndim " + std::to_string(ndim) + " (expected 0.." +
                      std::to_string(kMaxNdim) + ")");
  if (static_cast<std::uint64_t>(ndim) * 8u > src.remaining()) truncated("shape dims");
  std::vector<std::int64_t> shape(static_cast<std::size_t>(ndim));
  for (auto& d : shape) {
    d = src.pod<std::int64_t>("shape dim");
    if (d < 0) throw FormatError("shape has a negative dimension " + std::to_string(d));
  }
  return shape;
}

void read_type_flag(Source& src, std::int32_t* flag) {
  *flag = src.pod<std::int32_t>("type flag");
  if (dtype_size(*flag) == 0)
    throw FormatError("unknown dtype type flag " + std::to_string(*flag));
}

void read_payload(Source& src, std::vector<unsigned char>* out, std::uint64_t bytes,
                  const char* what) {
  if (bytes > src.remaining()) truncated(what);
  out->resize(static_cast<std::size_t>(bytes));
  src.read(out->data(), bytes, what);
}

void read_context(Source& src, Array* a) {
  a->dev_type = src.pod<std::int32_t>("context dev_type");
  a->dev_id = src.pod<std::int32_t>("context dev_id");
}

// Dense record body after the shape (V1, V2 dense, pre-V1).
void read_dense_body(Source& src, Array* a) {
  read_context(src, a);
  read_type_flag(src, &a->type_flag);
  read_payload(src, &a->data, checked_bytes(a->shape, a->type_flag, "array data"), "array data");
}

// The values blob's shape follows from the aux shapes, as in MXNet's loader: (rows stored,
// *shape[1:]) for row_sparse, (nnz,) for csr. The stored storage-shape field is replaced by it
// (MXNet 1.9.1 can write a stale (0,) there when it saves a csr array right after creating it).
void fix_sparse_layout(Array* a) {
  const auto& s = a->shape;
  if (a->stype == kRowSparseStorage) {
    if (a->aux[0].shape.size() != 1)
      throw FormatError("row_sparse row indices must be 1-D");
    if (a->aux[0].shape[0] > s[0]) throw FormatError("row_sparse array stores more rows than it has");
    a->storage_shape = s;
    a->storage_shape[0] = a->aux[0].shape[0];
  } else {  // csr
    if (s.size() != 2) throw FormatError("csr array must be 2-D");
    if (a->aux[0].shape.size() != 1 || a->aux[1].shape.size() != 1 ||
        a->aux[0].shape[0] != s[0] + 1)
      throw FormatError("csr indptr/indices shapes do not match the array");
    a->storage_shape = {a->aux[1].shape[0]};
  }
}

// Index arrays of sparse records are int64 (or int32); read element i as int64.
std::int64_t index_at(const AuxArray& aux, std::uint64_t i) {
  if (aux.type_flag == 6) {
    std::int64_t v;
    std::memcpy(&v, aux.data.data() + i * 8, 8);
    return v;
  }
  std::int32_t v;
  std::memcpy(&v, aux.data.data() + i * 4, 4);
  return v;
}

// The index arrays must describe a valid layout, or readers of the record (densification,
// lazy updates) would index out of bounds: row_sparse rows strictly increasing in
// [0, rows); csr indptr starting at 0, non-decreasing, ending at nnz, columns in [0, cols).
void check_sparse_indices(const Array& a) {
  for (const auto& aux : a.aux)
    if (aux.type_flag != 6 && aux.type_flag != 4)
      throw FormatError("sparse index arrays must be int64 or int32 (type flag " +
                        std::to_string(aux.type_flag) + ")");
  if (a.stype == kRowSparseStorage) {
    const AuxArray& idx = a.aux[0];
    const auto n = static_cast<std::uint64_t>(idx.shape[0]);
    std::int64_t prev = -1;
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::int64_t r = index_at(idx, i);
      if (r <= prev || r >= a.shape[0])
        throw FormatError("row_sparse row indices must be strictly increasing and in [0, " +
                          std::to_string(a.shape[0]) + ")");
      prev = r;
    }
    return;
  }
  const AuxArray& indptr = a.aux[0];
  const AuxArray& cols = a.aux[1];
  const auto rows = static_cast<std::uint64_t>(a.shape[0]);
  const std::int64_t nnz = cols.shape[0];
  if (index_at(indptr, 0) != 0 || index_at(indptr, rows) != nnz)
    throw FormatError("csr indptr must start at 0 and end at the number of stored values");
  for (std::uint64_t i = 1; i <= rows; ++i)
    if (index_at(indptr, i) < index_at(indptr, i - 1))
      throw FormatError("csr indptr must be non-decreasing");
  for (std::int64_t i = 0; i < nnz; ++i) {
    const std::int64_t c = index_at(cols, static_cast<std::uint64_t>(i));
    if (c < 0 || c >= a.shape[1])
      throw FormatError("csr column indices must be in [0, " + std::to_string(a.shape[1]) + ")");
  }
}

Array read_record(Source& src) {
  Array a;
  const auto magic = src.pod<std::uint32_t>("record magic");
  if (magic == kMagicV2) {
    a.stype = src.pod<std::int32_t>("storage type");
    if (a.stype != kDefaultStorage && a.stype != kRowSparseStorage && a.stype != kCSRStorage)
      throw FormatError("unknown storage type " + std::to_string(a.stype));
    const std::size_t num_aux = a.stype == kRowSparseStorage ? 1 : a.stype == kCSRStorage ? 2 : 0;
    if (num_aux) a.storage_shape = read_shape(src, false, nullptr);
    a.shape = read_shape(src, false, nullptr);
    if (a.shape.empty()) {
      a.is_none = true;
      return a;
    }
    if (!num_aux) {
      read_dense_body(src, &a);
      return a;
    }
    read_context(src, &a);
    read_type_flag(src, &a.type_flag);
    a.aux.resize(num_aux);
    for (auto& aux : a.aux) {
      read_type_flag(src, &aux.type_flag);
      aux.shape = read_shape(src, false, nullptr);
    }
    fix_sparse_layout(&a);
    read_payload(src, &a.data, checked_bytes(a.storage_shape, a.type_flag, "sparse values"),
                 "sparse values");
    for (auto& aux : a.aux)
      read_payload(src, &aux.data, checked_bytes(aux.shape, aux.type_flag, "sparse aux data"),
                   "sparse aux data");
    check_sparse_indices(a);
    return a;
  }
  if (magic == kMagicV3)
    throw FormatError(
        "ndarray was saved in np shape semantics (record version 3), must be loaded in the "
        "same semantics; mxopt reads MXNet's default (legacy shape) files only");
  if (magic == kMagicV1) {
    a.shape = read_shape(src, false, nullptr);
    if (a.shape.empty()) {
      a.is_none = true;
      return a;
    }
    read_dense_body(src, &a);
    return a;
  }
  // Pre-V1: the first word is ndim itself, then ndim x u32 dims.
  if (magic > static_cast<std::uint32_t>(kMaxNdim))
    throw FormatError("unknown record magic 0x" + [&] {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%08X", magic);
      return std::string(buf);
    }());
  a.shape.resize(magic);
  for (auto& d : a.shape) d = src.pod<std::uint32_t>("legacy shape dim");
  if (a.shape.empty()) {
    a.is_none = true;
    return a;
  }
  read_dense_body(src, &a);
  return a;
}

ArrayList read_list(Source& src) {
  require_little_endian();
  const auto header = src.pod<std::uint64_t>("header");
  if (header != kListMagic) throw FormatError("bad header magic (not an NDArray list file)");
  (void)src.pod<std::uint64_t>("reserved field");
  const auto n = src.pod<std::uint64_t>("array count");
  // Every record takes at least 4 bytes: a count beyond that is a lie, not an allocation.
  if (n > src.remaining() / 4) truncated("array records");
  ArrayList out;
  out.arrays.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) out.arrays.push_back(read_record(src));
  const auto k = src.pod<std::uint64_t>("name count");
  if (k != 0 && k != n)
    throw FormatError("name count " + std::to_string(k) + " is neither 0 nor the array count " +
                      std::to_string(n));
  out.has_names = k != 0;
  out.names.reserve(static_cast<std::size_t>(k));
  for (std::uint64_t i = 0; i < k; ++i) {
    const auto len = src.pod<std::uint64_t>("name length");
    if (len > src.remaining()) truncated("name");
    std::string name(static_cast<std::size_t>(len), '\0');
    src.read(name.data(), len, "name");
    out.names.push_back(std::move(name));
  }
  if (src.remaining() != 0)
    throw FormatError(std::to_string(src.remaining()) + " unexpected bytes after the last name");
  return out;
}

// ---- writing ------------------------------------------------------------------------------
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const void* p, std::size_t n) = 0;
  template <class T>
  void pod(T v) {
    write(&v, sizeof(T));
  }
};

class StringSink final : public Sink {
 public:
  void write(const void* p, std::size_t n) override {
    out.append(static_cast<const char*>(p), n);
  }
  std::string out;
};

class FileSink final : public Sink {
 public:
  FileSink(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  void write(const void* p, std::size_t n) override {
    if (n && std::fwrite(p, 1, n, f_) != n) fail("cannot write '" + path_ + "'", path_);
  }

 private:
  std::FILE* f_;
  std::string path_;
};

void write_shape(Sink& s, const std::vector<std::int64_t>& shape) {
  s.pod<std::int32_t>(static_cast<std::int32_t>(shape.size()));
  for (auto d : shape) s.pod<std::int64_t>(d);
}

void validate_shape(const std::vector<std::int64_t>& shape, const std::string& what) {
  if (shape.size() > static_cast<std::size_t>(kMaxNdim))
    throw std::invalid_argument(what + " has " + std::to_string(shape.size()) +
                                " dimensions (at most " + std::to_string(kMaxNdim) + ")");
  for (auto d : shape)
    if (d < 0) throw std::invalid_argument(what + " has a negative dimension");
}

void write_record(Sink& s, const ArrayView& a) {
  s.pod<std::uint32_t>(kMagicV2);
  s.pod<std::int32_t>(a.stype);
  if (a.stype != kDefaultStorage) write_shape(s, a.storage_shape);
  write_shape(s, a.shape);
  if (a.shape.empty()) return;
  s.pod<std::int32_t>(1);  // cpu
  s.pod<std::int32_t>(a.dev_id);
  s.pod<std::int32_t>(a.type_flag);
  for (const auto& aux : a.aux) {
    s.pod<std::int32_t>(aux.type_flag);
    write_shape(s, aux.shape);
  }
  s.write(a.data, payload_bytes(a));
  for (const auto& aux : a.aux)
    s.write(aux.data, static_cast<std::size_t>(checked_count(aux.shape, "aux") *
                                               dtype_size(aux.type_flag)));
}

void write_list(Sink& s, const std::vector<ArrayView>& arrays,
                const std::vector<std::string>& names, bool dict_form) {
  s.pod<std::uint64_t>(kListMagic);
  s.pod<std::uint64_t>(0);
  s.pod<std::uint64_t>(arrays.size());
  for (const auto& a : arrays) write_record(s, a);
  s.pod<std::uint64_t>(dict_form ? names.size() : 0);
  if (dict_form)
    for (const auto& n : names) {
      s.pod<std::uint64_t>(n.size());
      s.write(n.data(), n.size());
    }
}

}  // namespace

std::size_t dtype_size(std::int32_t flag) {
  switch (flag) {
    case 0: return 4;   // float32
    case 1: return 8;   // float64
    case 2: return 2;   // float16
    case 3: return 1;   // uint8
    case 4: return 4;   // int32
    case 5: return 1;   // int8
    case 6: return 8;   // int64
    case 7: return 1;   // bool
    case 8: return 2;   // int16
    case 9: return 2;   // uint16
    case 10: return 4;  // uint32
    case 11: return 8;  // uint64
    case 12: return 2;  // bfloat16
    default: return 0;
  }
}

std::size_t payload_bytes(const ArrayView& a) {
  const auto& shape = a.stype == kDefaultStorage ? a.shape : a.storage_shape;
  try {
    return static_cast<std::size_t>(checked_bytes(shape, a.type_flag, "array"));
  } catch (const FormatError&) {
    throw std::invalid_argument("array byte size overflows");
  }
}

ArrayList parse(const unsigned char* bytes, std::size_t size) {
  MemorySource src(bytes, size);
  return read_list(src);
}

ArrayList load(const std::string& path) {
  FileSource src(path);
  return read_list(src);
}

Array parse_record(const unsigned char* bytes, std::size_t size) {
  require_little_endian();
  MemorySource src(bytes, size);
  Array a = read_record(src);
  if (src.remaining() != 0)
    throw FormatError(std::to_string(src.remaining()) + " unexpected bytes after the record");
  return a;
}

void validate(const std::vector<ArrayView>& arrays, const std::vector<std::string>& names,
              bool dict_form) {
  if (dict_form && names.size() != arrays.size())
    throw std::invalid_argument("save: " + std::to_string(names.size()) + " names for " +
                                std::to_string(arrays.size()) + " arrays");
  if (!dict_form && !names.empty())
    throw std::invalid_argument("save: names given for the list form");
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const auto& a = arrays[i];
    const std::string what = "array " + std::to_string(i) +
                             (dict_form ? " ('" + names[i] + "')" : std::string());
    if (dtype_size(a.type_flag) == 0)
      throw std::invalid_argument(what + " has unknown type flag " + std::to_string(a.type_flag));
    validate_shape(a.shape, what + " shape");
    if (a.shape.empty())
      throw std::invalid_argument(what + " is 0-dimensional (MXNet files store ndim >= 1)");
    std::size_t want_aux = 0;
    if (a.stype == kRowSparseStorage) want_aux = 1;
    else if (a.stype == kCSRStorage) want_aux = 2;
    else if (a.stype != kDefaultStorage)
      throw std::invalid_argument(what + " has unknown storage type " + std::to_string(a.stype));
    if (a.aux.size() != want_aux)
      throw std::invalid_argument(what + " needs " + std::to_string(want_aux) + " aux arrays");
    if (want_aux) validate_shape(a.storage_shape, what + " storage shape");
    for (const auto& aux : a.aux) {
      if (dtype_size(aux.type_flag) == 0)
        throw std::invalid_argument(what + " aux array has an unknown type flag");
      validate_shape(aux.shape, what + " aux shape");
      if (!aux.data && checked_count(aux.shape, "aux") != 0)
        throw std::invalid_argument(what + " aux array has no data");
    }
    if (!a.data && payload_bytes(a) != 0) throw std::invalid_argument(what + " has no data");
  }
}

std::string serialize(const std::vector<ArrayView>& arrays, const std::vector<std::string>& names,
                      bool dict_form) {
  require_little_endian();
  validate(arrays, names, dict_form);
  StringSink s;
  write_list(s, arrays, names, dict_form);
  return std::move(s.out);
}

std::string serialize_record(const ArrayView& array) {
  require_little_endian();
  validate({array}, {}, false);
  StringSink s;
  write_record(s, array);
  return std::move(s.out);
}

void save(const std::string& path, const std::vector<ArrayView>& arrays,
          const std::vector<std::string>& names, bool dict_form) {
  require_little_endian();
  validate(arrays, names, dict_form);
  // Unique temporary name in the same directory, so the final rename is atomic.
  std::random_device rd;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".tmp%08x%08x", rd(), rd());
  const std::string tmp = path + suffix;
  std::FILE* raw = std::fopen(tmp.c_str(), "wb");
  if (!raw) fail("cannot open '" + tmp + "' for writing", path);
  FilePtr f(raw);
  try {
    FileSink sink(f.get(), path);
    write_list(sink, arrays, names, dict_form);
    if (std::fflush(f.get()) != 0) fail("cannot write '" + path + "'", path);
#if !defined(_WIN32)
    ::fsync(fileno(f.get()));
#endif
    if (std::fclose(f.release()) != 0) fail("cannot write '" + path + "'", path);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      fail("cannot rename '" + tmp + "' to '" + path + "'", path);
  } catch (...) {
    f.reset();
    std::remove(tmp.c_str());
    throw;
  }
}

}  // namespace mxopt::io
