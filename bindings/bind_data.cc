// Binds mxopt/data.h: the file data iterators behind mx.io.MNISTIter / CSVIter / LibSVMIter
// (python/mxopt/_data_iters.py wraps them in MXNet's MXDataIter interface).
//
// A batch comes back as (data, label, pad, index): data and label are numpy arrays (dense) or
// (values, indices, indptr, shape) tuples (CSR); the buffers are handed to numpy without a copy.
// Every call that reads or parses releases the GIL.
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "mxopt/data.h"

namespace py = pybind11;

namespace mxopt::bindings {
namespace {

py::dtype dtype_of(int flag) {
  switch (flag) {
    case data::kFloat32: return py::dtype("float32");
    case data::kInt32: return py::dtype("int32");
    case data::kInt64: return py::dtype("int64");
    default: throw std::invalid_argument("unknown dtype flag");
  }
}

template <typename T>
py::array own(std::vector<T>&& v, py::dtype dt, std::vector<py::ssize_t> shape) {
  auto* holder = new std::vector<T>(std::move(v));
  py::capsule owner(holder, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array(dt, std::move(shape), {}, holder->data(), owner);
}

// A value buffer handed to numpy; it goes back to the iterator's pool when numpy drops it.
py::array pooled(std::vector<unsigned char>&& v, py::dtype dt, std::vector<py::ssize_t> shape,
                 const std::shared_ptr<data::BufferPool>& pool) {
  struct Holder {
    std::vector<unsigned char> bytes;
    std::shared_ptr<data::BufferPool> pool;
  };
  auto* holder = new Holder{std::move(v), pool};
  py::capsule owner(holder, [](void* p) {
    auto* h = static_cast<Holder*>(p);
    if (h->pool) h->pool->give(std::move(h->bytes));
    delete h;
  });
  return py::array(dt, std::move(shape), {}, holder->bytes.data(), owner);
}

py::object to_python(data::Array&& a, const std::shared_ptr<data::BufferPool>& pool) {
  if (!a.csr) {
    std::vector<py::ssize_t> shape(a.shape.begin(), a.shape.end());
    return pooled(std::move(a.values), dtype_of(a.dtype), std::move(shape), pool);
  }
  const auto nnz = static_cast<py::ssize_t>(a.indices.size());
  const auto rows = static_cast<py::ssize_t>(a.indptr.size());
  py::tuple shape(a.shape.size());
  for (std::size_t i = 0; i < a.shape.size(); ++i) shape[i] = py::int_(a.shape[i]);
  return py::make_tuple(pooled(std::move(a.values), dtype_of(a.dtype), {nnz}, pool),
                        own(std::move(a.indices), py::dtype("int64"), {nnz}),
                        own(std::move(a.indptr), py::dtype("int64"), {rows}), shape);
}

// One iterator: a source behind a prefetching thread.
class DataIter {
 public:
  explicit DataIter(std::unique_ptr<data::BatchSource> source)
      : prefetcher_(std::make_unique<data::Prefetcher>(std::move(source))) {}

  // (data, label, pad, index) or None at the end of the epoch.
  py::object next() {
    data::Batch batch;
    bool ok;
    {
      py::gil_scoped_release nogil;
      ok = prefetcher_->next(&batch);
    }
    if (!ok) return py::none();
    py::array index = own(std::move(batch.index), py::dtype("uint64"),
                          {static_cast<py::ssize_t>(batch.index.size())});
    const auto& pool = prefetcher_->pool();
    return py::make_tuple(to_python(std::move(batch.data), pool),
                          to_python(std::move(batch.label), pool), batch.pad, index);
  }

  void reset() {
    py::gil_scoped_release nogil;
    prefetcher_->reset();
  }

  void close() {
    py::gil_scoped_release nogil;
    prefetcher_.reset();
  }

 private:
  std::unique_ptr<data::Prefetcher> prefetcher_;
};

data::IdxFile idx_from(const std::string& path, const py::object& bytes, int ndim) {
  if (bytes.is_none()) {
    py::gil_scoped_release nogil;
    return data::load_idx(path, ndim);
  }
  std::string_view v = bytes.cast<py::bytes>();
  py::gil_scoped_release nogil;
  return data::parse_idx(reinterpret_cast<const unsigned char*>(v.data()), v.size(), ndim, path);
}

}  // namespace

void register_data(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const data::FileMissing& e) {
      py::object cls = py::module_::import("mxopt._data_iters").attr("DataFileNotFoundError");
      py::object err = cls(e.what());
      err.attr("filename") = py::str(e.path());
      err.attr("errno") = py::int_(2);
      PyErr_SetObject(cls.ptr(), err.ptr());
    } catch (const data::DataError& e) {
      py::object cls = py::module_::import("mxopt.base").attr("MXNetError");
      PyErr_SetString(cls.ptr(), e.what());
    }
  });

  py::class_<DataIter>(m, "DataIter", "A file data iterator running in a prefetching thread.")
      .def("next", &DataIter::next, "The next batch (data, label, pad, index), None at the end.")
      .def("reset", &DataIter::reset, "Rewind with MXNet's rules (see mxopt/data.h).")
      .def("close", &DataIter::close, "Stop the prefetching thread.");

  m.def(
      "mnist_iter",
      [](const std::string& image, const std::string& label, const py::object& image_bytes,
         const py::object& label_bytes, std::int64_t batch_size, bool shuffle, bool flat, int seed,
         int num_parts, int part_index) {
        data::IdxFile images = idx_from(image, image_bytes, 3);
        data::IdxFile labels = idx_from(label, label_bytes, 1);
        const std::int64_t count = images.dims[0];
        const std::vector<std::int64_t> dims = images.dims;
        data::MNISTOptions o;
        o.batch_size = batch_size;
        o.shuffle = shuffle;
        o.flat = flat;
        o.seed = seed;
        o.num_parts = num_parts;
        o.part_index = part_index;
        std::unique_ptr<data::BatchSource> source;
        {
          py::gil_scoped_release nogil;
          source = data::make_mnist_source(std::move(images), std::move(labels), o, image, label);
        }
        const double per = static_cast<double>(count) / num_parts;
        const auto part = static_cast<std::int64_t>(per * (part_index + 1)) -
                          static_cast<std::int64_t>(per * part_index);
        return py::make_tuple(DataIter(std::move(source)), part, dims[1], dims[2]);
      },
      py::arg("image"), py::arg("label"), py::arg("image_bytes"), py::arg("label_bytes"),
      py::arg("batch_size"), py::arg("shuffle"), py::arg("flat"), py::arg("seed"),
      py::arg("num_parts"), py::arg("part_index"),
      "MNISTIter's source: (DataIter, images in this part, rows, cols). *_bytes: the file "
      "contents when already read (gzip files), else None.");

  m.def(
      "csv_iter",
      [](const std::string& data_csv, const std::vector<std::int64_t>& data_shape,
         const std::string& label_csv, const std::vector<std::int64_t>& label_shape,
         std::int64_t batch_size, bool round_batch, int dtype, std::size_t chunk_bytes) {
        data::CSVOptions o;
        o.data_csv = data_csv;
        o.data_shape = data_shape;
        o.label_csv = label_csv;
        o.label_shape = label_shape;
        o.batch_size = batch_size;
        o.round_batch = round_batch;
        o.dtype = dtype;
        o.chunk_bytes = chunk_bytes;
        std::unique_ptr<data::BatchSource> source;
        {
          py::gil_scoped_release nogil;
          source = data::make_csv_source(o);
        }
        return DataIter(std::move(source));
      },
      py::arg("data_csv"), py::arg("data_shape"), py::arg("label_csv"), py::arg("label_shape"),
      py::arg("batch_size"), py::arg("round_batch"), py::arg("dtype"), py::arg("chunk_bytes"),
      "CSVIter's source (label_csv '' for zero labels; dtype 0 float32, 4 int32, 6 int64).");

  m.def(
      "libsvm_iter",
      [](const std::string& data_libsvm, std::int64_t num_cols, const std::string& label_libsvm,
         std::int64_t label_cols, std::int64_t batch_size, unsigned num_parts,
         unsigned part_index, std::size_t chunk_bytes) {
        data::LibSVMOptions o;
        o.data_libsvm = data_libsvm;
        o.num_cols = num_cols;
        o.label_libsvm = label_libsvm;
        o.label_cols = label_cols;
        o.batch_size = batch_size;
        o.num_parts = num_parts;
        o.part_index = part_index;
        o.chunk_bytes = chunk_bytes;
        std::unique_ptr<data::BatchSource> source;
        {
          py::gil_scoped_release nogil;
          source = data::make_libsvm_source(o);
        }
        return DataIter(std::move(source));
      },
      py::arg("data_libsvm"), py::arg("num_cols"), py::arg("label_libsvm"), py::arg("label_cols"),
      py::arg("batch_size"), py::arg("num_parts"), py::arg("part_index"), py::arg("chunk_bytes"),
      "LibSVMIter's source (label_libsvm '' for labels from the data file).");

  m.def(
      "parse_float",
      [](const py::bytes& text) {
        std::string_view v = text;
        const char* stop = v.data();
        const float f = data::parse_float(v.data(), v.data() + v.size(), &stop);
        return py::make_tuple(f, static_cast<std::size_t>(stop - v.data()));
      },
      py::arg("text"),
      "dmlc-core's float parse of MXNet's text iterators: (value, characters used).");
  m.def(
      "mxnet_shuffle_order",
      [](std::uint32_t n, std::uint32_t seed) { return data::mxnet_shuffle_order(n, seed); },
      py::arg("n"), py::arg("seed"), "MNISTIter's instance order for shuffle=True.");
}

}  // namespace mxopt::bindings
