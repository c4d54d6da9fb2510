// MXNet's MNISTIter: idx files, the part split, the shuffle with MXNet's engine, batches.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "../random/simd.h"
#include "mxopt/data.h"

namespace mxopt::data {

namespace {

// Bytes of an idx payload: the product of the dimensions, saturated at 2^64 - 1 (three
// dimensions of up to 2^31 overflow 64 bits: a forged header must not wrap to a small size).
std::uint64_t payload_bytes(const std::vector<std::int64_t>& dims) {
  unsigned __int128 total = 1;
  for (auto d : dims) {
    total *= static_cast<std::uint64_t>(d);
    if (total > std::numeric_limits<std::uint64_t>::max())
      return std::numeric_limits<std::uint64_t>::max();
  }
  return static_cast<std::uint64_t>(total);
}

}  // namespace

IdxFile parse_idx(const unsigned char* data, std::size_t size, int ndim, const std::string& name,
                  bool header_only) {
  const std::string what = "idx file '" + name + "'";
  if (size < 4)
    throw DataError(what + " is truncated: " + std::to_string(size) +
                    " bytes, the 4-byte magic number is missing (invalid mnist format)");
  if (data[0] != 0 || data[1] != 0 || data[2] != 0x08 || data[3] != ndim) {
    char magic[16];
    std::snprintf(magic, sizeof(magic), "0x%02X%02X%02X%02X", data[0], data[1], data[2], data[3]);
    throw DataError(what + " has magic number " + magic + ", expected 0x000008" +
                    (ndim == 3 ? "03" : "01") + " (unsigned bytes, " + std::to_string(ndim) +
                    (ndim == 1 ? " dimension: a label file" : " dimensions: an image file") + ")");
  }
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(ndim);
  if (size < header)
    throw DataError(what + " is truncated: " + std::to_string(size) + " bytes, its header needs " +
                    std::to_string(header) + " (invalid mnist format)");
  IdxFile out;
  for (int d = 0; d < ndim; ++d) {
    const unsigned char* p = data + 4 + 4 * d;
    const std::uint32_t v = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                            (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    if (v > static_cast<std::uint32_t>(INT32_MAX))
      throw DataError(what + ": dimension " + std::to_string(d) + " is " + std::to_string(v) +
                      ", more than MXNet's int32 sizes allow");
    out.dims.push_back(static_cast<std::int64_t>(v));
  }
  if (header_only) return out;
  const std::uint64_t total = payload_bytes(out.dims);
  if (total > size - header)
    throw DataError(what + " is truncated: its header announces " + std::to_string(total) +
                    " bytes of data but only " + std::to_string(size - header) +
                    " follow (invalid mnist format)");
  out.bytes.assign(data + header, data + header + total);
  return out;
}

IdxFile load_idx(const std::string& path, int ndim) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) {
    const int err = errno;
    throw FileMissing("cannot open MNIST file '" + path + "': " + std::strerror(err), path);
  }
  std::vector<unsigned char> bytes;
  if (std::fseek(fp, 0, SEEK_END) == 0) {
    const long size = std::ftell(fp);
    if (size > 0) bytes.reserve(static_cast<std::size_t>(size));
    std::rewind(fp);
  }
  unsigned char buf[1 << 16];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), fp)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  const bool failed = std::ferror(fp) != 0;
  std::fclose(fp);
  if (failed) throw DataError("cannot read MNIST file '" + path + "'");
  // validate (parse_idx), then keep the payload in the file's own buffer
  IdxFile header = parse_idx(bytes.data(), std::min<std::size_t>(bytes.size(), 4 + 4 * ndim),
                             ndim, path, /*header_only=*/true);
  const std::uint64_t total = payload_bytes(header.dims);
  const std::size_t head = 4 + 4 * static_cast<std::size_t>(ndim);
  if (total > bytes.size() - head)
    throw DataError("idx file '" + path + "' is truncated: its header announces " +
                    std::to_string(total) + " bytes of data but only " +
                    std::to_string(bytes.size() - head) + " follow (invalid mnist format)");
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(head));
  bytes.resize(static_cast<std::size_t>(total));
  header.bytes = std::move(bytes);
  return header;
}

std::vector<std::uint32_t> mxnet_shuffle_order(std::uint32_t n, std::uint32_t seed) {
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::mt19937 engine(seed);
  // Position i swaps with a uniform j in [0, i], i = 1 .. n-1. The uniform integer of the
  // libstdc++ MXNet's wheels were built with: draw engine outputs until one is below the
  // largest multiple of (i + 1) that fits in [0, 2^32 - 1], then divide by 2^32-1 / (i + 1).
  for (std::uint32_t i = 1; i < n; ++i) {
    const std::uint64_t range = std::uint64_t{i} + 1;
    const std::uint64_t scaling = std::uint64_t{0xFFFFFFFFu} / range;
    const std::uint64_t past = range * scaling;
    std::uint64_t r;
    do {
      r = engine();
    } while (r >= past);
    std::swap(order[i], order[static_cast<std::size_t>(r / scaling)]);
  }
  return order;
}

namespace {

// Pixels to floats scaled by 1/256 (exact: a power of two), as MXNet's `img_ *= 1.0f / 256.0f`.
// Cloned per ISA (picked at load time): this loop is most of an in-memory MNIST epoch.
MXOPT_SIMD_CLONES
void scale_pixels(const unsigned char* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) * (1.0f / 256.0f);
}

class MNISTSource : public BatchSource {
 public:
  MNISTSource(IdxFile images, IdxFile labels, const MNISTOptions& o, const std::string& image_name,
              const std::string& label_name)
      : batch_(o.batch_size), flat_(o.flat) {
    if (o.batch_size < 1)
      throw DataError("MNISTIter: batch_size " + std::to_string(o.batch_size) +
                      " should be greater equal to 1");
    if (o.num_parts <= 0 || o.part_index < 0 || o.part_index >= o.num_parts)
      throw DataError("MNISTIter: part_index " + std::to_string(o.part_index) + " must be in [0, " +
                      "num_parts) with num_parts " + std::to_string(o.num_parts) + " > 0");
    const std::int64_t count = images.dims[0];
    if (labels.dims[0] != count)
      throw DataError("MNISTIter: image file '" + image_name + "' holds " + std::to_string(count) +
                      " images but label file '" + label_name + "' holds " +
                      std::to_string(labels.dims[0]) + " labels");
    rows_ = images.dims[1];
    cols_ = images.dims[2];
    // MXNet's GetPart: [count / num_parts * part_index, count / num_parts * (part_index + 1)),
    // computed in double and truncated.
    const double per = static_cast<double>(count) / o.num_parts;
    const auto start = static_cast<std::int64_t>(per * o.part_index);
    const auto end = static_cast<std::int64_t>(per * (o.part_index + 1));
    count_ = end - start;
    const std::size_t pixels = static_cast<std::size_t>(rows_ * cols_);
    pixels_.resize(static_cast<std::size_t>(count_) * pixels);
    labels_.resize(static_cast<std::size_t>(count_));
    std::vector<std::uint32_t> order;
    if (o.shuffle) order = mxnet_shuffle_order(static_cast<std::uint32_t>(count_),
                                               static_cast<std::uint32_t>(o.seed));
    for (std::int64_t i = 0; i < count_; ++i) {
      const std::int64_t src = start + (o.shuffle ? order[static_cast<std::size_t>(i)] : i);
      if (pixels)  // (images of 0 rows or columns: nothing to copy, and no buffer)
        std::memcpy(pixels_.data() + static_cast<std::size_t>(i) * pixels,
                    images.bytes.data() + static_cast<std::size_t>(src) * pixels, pixels);
      labels_[static_cast<std::size_t>(i)] = static_cast<float>(labels.bytes[src]);
    }
  }

  bool next(Batch* out) override {
    if (loc_ + batch_ > count_) return false;
    const std::size_t pixels = static_cast<std::size_t>(rows_ * cols_);
    const std::size_t n = static_cast<std::size_t>(batch_) * pixels;
    out->data.dtype = kFloat32;
    out->data.csr = false;
    out->data.shape = flat_ ? std::vector<std::int64_t>{batch_, rows_ * cols_}
                            : std::vector<std::int64_t>{batch_, 1, rows_, cols_};
    out->data.values = buffer(n * sizeof(float));
    float* dst = reinterpret_cast<float*>(out->data.values.data());
    const unsigned char* src = pixels_.data() + static_cast<std::size_t>(loc_) * pixels;
    scale_pixels(src, dst, n);
    out->label.dtype = kFloat32;
    out->label.csr = false;
    out->label.shape = {batch_};
    out->label.values.resize(static_cast<std::size_t>(batch_) * sizeof(float));
    std::memcpy(out->label.values.data(), labels_.data() + loc_, out->label.values.size());
    out->pad = 0;
    out->index.assign(static_cast<std::size_t>(batch_), 0);  // MNISTIter sets no index
    loc_ += batch_;
    return true;
  }

  void before_first() override { loc_ = 0; }

 private:
  std::int64_t batch_;
  bool flat_;
  std::int64_t rows_ = 0, cols_ = 0, count_ = 0, loc_ = 0;
  std::vector<unsigned char> pixels_;
  std::vector<float> labels_;
};

}  // namespace

std::unique_ptr<BatchSource> make_mnist_source(IdxFile images, IdxFile labels,
                                               const MNISTOptions& options,
                                               const std::string& image_name,
                                               const std::string& label_name) {
  if (images.dims.size() != 3) throw DataError("MNISTIter: the image file must be 3-D");
  if (labels.dims.size() != 1) throw DataError("MNISTIter: the label file must be 1-D");
  return std::make_unique<MNISTSource>(std::move(images), std::move(labels), options, image_name,
                                       label_name);
}

}  // namespace mxopt::data
