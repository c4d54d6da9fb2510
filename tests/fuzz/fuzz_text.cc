// libFuzzer target: the file data iterators (mxopt/data.h) on arbitrary file contents. The
// first input byte picks the reader (CSV float32 / int32 / int64, LibSVM, LibSVM with a label
// file, MNIST idx images) and the chunk size; the rest is the file. Every epoch is read twice;
// malformed input must raise DataError, anything else (a crash, a sanitizer report, another
// exception) is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "mxopt/data.h"

using namespace mxopt::data;

namespace {

std::string scratch_file(const char* tag, const std::uint8_t* data, std::size_t size) {
  const std::string path =
      "/tmp/mxopt_fuzz_text_" + std::to_string(::getpid()) + "_" + tag;
  std::FILE* fp = std::fopen(path.c_str(), "wb");
  if (fp == nullptr) return path;
  if (size) std::fwrite(data, 1, size, fp);
  std::fclose(fp);
  return path;
}

void drain(BatchSource& source) {
  Batch batch;
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (int i = 0; i < 64 && source.next(&batch); ++i) {
    }
    source.before_first();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned mode = data[0] % 6;
  const std::size_t chunk = std::size_t{16} << ((data[0] >> 3) % 8);  // 16 B .. 2 KB
  const std::string path = scratch_file("data", data + 1, size - 1);
  struct Cleanup {
    const std::string& path;
    ~Cleanup() { std::remove(path.c_str()); }
  } cleanup{path};
  try {
    if (mode < 3) {
      CSVOptions o;
      o.data_csv = path;
      o.data_shape = {3};
      o.batch_size = 4;
      o.round_batch = (data[0] & 0x40) != 0;
      o.dtype = mode == 0 ? kFloat32 : mode == 1 ? kInt32 : kInt64;
      o.chunk_bytes = chunk;
      drain(*make_csv_source(o));
    } else if (mode < 5) {
      LibSVMOptions o;
      o.data_libsvm = path;
      o.num_cols = 16;
      o.batch_size = 3;
      o.num_parts = 1 + (data[0] >> 6);
      o.part_index = (data[0] >> 4) % o.num_parts;
      o.chunk_bytes = chunk;
      if (mode == 4) {
        o.label_libsvm = path;  // the same file as labels: rows line up
        o.label_cols = 16;
      }
      drain(*make_libsvm_source(o));
    } else {
      IdxFile images = parse_idx(data + 1, size - 1, 3, "fuzz");
      // a real label file holds one byte per image: images of 0 x 0 pixels may claim billions
      if (images.dims[0] > 4096) return 0;
      IdxFile labels;
      labels.dims = {images.dims[0]};
      labels.bytes.assign(static_cast<std::size_t>(images.dims[0]), 1);
      MNISTOptions o;
      o.batch_size = 2;
      o.shuffle = (data[0] & 0x40) != 0;
      drain(*make_mnist_source(std::move(images), std::move(labels), o, "fuzz", "labels"));
    }
  } catch (const DataError&) {
  }
  return 0;
}
