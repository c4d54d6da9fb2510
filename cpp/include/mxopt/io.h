// MXNet's NDArray list file format (`.params`, `mx.nd.save` / `mx.nd.load`), read and written
// byte-compatibly with MXNet 1.9.1.
//
// File:   u64 0x112 | u64 0 | u64 N | N array records | u64 K (0 = list, N = dict) | K names
// Record: V2 (magic 0xF993FAC9, written), V1 (0xF993FAC8) and pre-V1 (no magic) are read;
//         V3 (numpy-shape semantics) is refused like plain `mx.nd.load` does.
//
// The reader never trusts a size field: every count, shape and byte length is checked
// against the bytes that are really left before anything is allocated, so truncated or
// corrupt input raises FormatError (never a crash, never a huge allocation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mxopt::io {

// Any malformed input. what() always starts with "Invalid NDArray file format".
class FormatError : public std::runtime_error {
 public:
  explicit FormatError(const std::string& detail);
};

// A file could not be opened, read or written (carries errno and the path).
class FileError : public std::runtime_error {
 public:
  FileError(const std::string& message, int err, std::string path)
      : std::runtime_error(message), err_(err), path_(std::move(path)) {}
  int error_code() const { return err_; }
  const std::string& path() const { return path_; }

 private:
  int err_;
  std::string path_;
};

inline constexpr std::uint64_t kListMagic = 0x112;
inline constexpr std::uint32_t kMagicV1 = 0xF993FAC8u;
inline constexpr std::uint32_t kMagicV2 = 0xF993FAC9u;
inline constexpr std::uint32_t kMagicV3 = 0xF993FACAu;
inline constexpr int kMaxNdim = 32;

// Storage types (MXNet's stype codes).
enum StorageType : std::int32_t { kDefaultStorage = 0, kRowSparseStorage = 1, kCSRStorage = 2 };

// MXNet type flags: 0 float32, 1 float64, 2 float16, 3 uint8, 4 int32, 5 int8, 6 int64, 7 bool,
// 8 int16, 9 uint16, 10 uint32, 11 uint64, 12 bfloat16. Returns 0 for an unknown flag.
std::size_t dtype_size(std::int32_t type_flag);

// One auxiliary array of a sparse record (row indices; csr indptr / column indices).
struct AuxArray {
  std::int32_t type_flag = 6;
  std::vector<std::int64_t> shape;
  std::vector<unsigned char> data;
};

// One decoded record. `is_none` marks MXNet's empty "none" array (ndim 0 in the file).
struct Array {
  bool is_none = false;
  std::int32_t stype = kDefaultStorage;
  std::vector<std::int64_t> shape;          // logical shape
  std::vector<std::int64_t> storage_shape;  // sparse only: shape of `data`
  std::int32_t dev_type = 1;
  std::int32_t dev_id = 0;
  std::int32_t type_flag = 0;
  std::vector<unsigned char> data;  // C-order elements of shape (dense) / storage_shape (sparse)
  std::vector<AuxArray> aux;
};

// A decoded file: `names` is empty for the list form, else one name per array.
struct ArrayList {
  std::vector<Array> arrays;
  std::vector<std::string> names;
  bool has_names = false;
};

// What the writer needs of an array: borrowed pointers, nothing is copied.
struct AuxView {
  std::int32_t type_flag = 6;
  std::vector<std::int64_t> shape;
  const void* data = nullptr;
};
struct ArrayView {
  std::int32_t stype = kDefaultStorage;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> storage_shape;  // sparse only
  std::int32_t type_flag = 0;
  std::int32_t dev_id = 0;
  const void* data = nullptr;  // C-contiguous, prod(shape or storage_shape) elements
  std::vector<AuxView> aux;
};

// Number of bytes of `data` a view / decoded array holds (validated; throws std::invalid_argument).
std::size_t payload_bytes(const ArrayView& a);

// Parse a whole file image / read a file (the file is streamed, never trusted).
ArrayList parse(const unsigned char* bytes, std::size_t size);
ArrayList load(const std::string& path);

// Parse exactly one record (the pickled form of an NDArray); trailing bytes are an error.
Array parse_record(const unsigned char* bytes, std::size_t size);

// Validate every view first (std::invalid_argument naming the array), then write. `names`
// empty with `dict_form` false writes the list form. save() writes `path + ".tmp<random>"`
// and renames it over `path`, so a crash never leaves a half-written file behind.
void validate(const std::vector<ArrayView>& arrays, const std::vector<std::string>& names,
              bool dict_form);
void save(const std::string& path, const std::vector<ArrayView>& arrays,
          const std::vector<std::string>& names, bool dict_form);
std::string serialize(const std::vector<ArrayView>& arrays, const std::vector<std::string>& names,
                      bool dict_form);
std::string serialize_record(const ArrayView& array);

// ---- Row gather (mx.io.NDArrayIter's shuffled batches) ----------------------------------------
// out row i = src row rows[i], for i < n_take; a row is `row_bytes` contiguous bytes and src has
// `n_rows` of them. Every index is checked before the first byte is written (std::out_of_range
// naming the position and the value). Rows are prefetched ahead of the copy (a shuffled batch is
// bound by memory latency); large gathers are split over the OpenMP threads.
void take_rows(const unsigned char* src, std::int64_t n_rows, std::size_t row_bytes,
               const std::int64_t* rows, std::int64_t n_take, unsigned char* out);

}  // namespace mxopt::io
