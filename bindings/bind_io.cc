// Binds mxopt/io.h: MXNet .params files <-> numpy arrays. python/mxopt/ndarray/utils.py turns
// these into mx.nd.save / mx.nd.load (NDArray, RowSparseNDArray, dict vs list form).
//
// A decoded array is returned as a numpy array (dense), None (MXNet's empty "none" array) or
// a tuple (stype, shape, values, [aux arrays]) for row_sparse / csr records. Decoded buffers are
// handed to numpy without a copy.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "mxopt/io.h"

namespace py = pybind11;

namespace mxopt::bindings {
namespace {

constexpr std::int32_t kBFloat16 = 12;

// MXNet type flag -> numpy dtype (bfloat16 has no numpy type: it is widened to float32).
py::dtype flag_dtype(std::int32_t flag) {
  static const char* const names[] = {"float32", "float64", "float16", "uint8",  "int32",
                                      "int8",    "int64",   "bool",    "int16",  "uint16",
                                      "uint32",  "uint64",  "float32"};
  if (flag < 0 || flag > kBFloat16) throw std::invalid_argument("unknown type flag");
  return py::dtype(names[flag]);
}

// numpy dtype -> MXNet type flag, or -1.
std::int32_t dtype_flag(const py::dtype& dt) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f') return size == 4 ? 0 : size == 8 ? 1 : size == 2 ? 2 : -1;
  if (kind == 'u') return size == 1 ? 3 : size == 2 ? 9 : size == 4 ? 10 : size == 8 ? 11 : -1;
  if (kind == 'i') return size == 1 ? 5 : size == 2 ? 8 : size == 4 ? 4 : size == 8 ? 6 : -1;
  if (kind == 'b') return 7;
  return -1;
}

// Hand a decoded byte vector to numpy without copying.
py::array to_numpy(std::vector<unsigned char>&& bytes, std::int32_t flag,
                   const std::vector<std::int64_t>& shape) {
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  if (flag == kBFloat16) {
    // bfloat16 is the upper half of a float32: widen exactly.
    py::array_t<float> out(dims);
    const std::size_t n = bytes.size() / 2;
    float* dst = out.mutable_data();
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
      std::memcpy(dst + i, &bits, 4);
    }
    return std::move(out);
  }
  auto* holder = new std::vector<unsigned char>(std::move(bytes));
  py::capsule owner(holder, [](void* p) { delete static_cast<std::vector<unsigned char>*>(p); });
  return py::array(flag_dtype(flag), dims, {}, holder->data(), owner);
}

py::tuple shape_tuple(const std::vector<std::int64_t>& shape) {
  py::tuple t(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) t[i] = py::int_(shape[i]);
  return t;
}

py::object to_python(io::Array&& a) {
  if (a.is_none) return py::none();
  if (a.stype == io::kDefaultStorage) return to_numpy(std::move(a.data), a.type_flag, a.shape);
  py::list aux;
  for (auto& x : a.aux) aux.append(to_numpy(std::move(x.data), x.type_flag, x.shape));
  return py::make_tuple(a.stype, shape_tuple(a.shape),
                        to_numpy(std::move(a.data), a.type_flag, a.storage_shape), aux);
}

py::tuple list_to_python(io::ArrayList&& list) {
  py::list arrays;
  for (auto& a : list.arrays) arrays.append(to_python(std::move(a)));
  if (!list.has_names) return py::make_tuple(arrays, py::none());
  py::list names;
  for (const auto& n : list.names) names.append(py::bytes(n));
  return py::make_tuple(arrays, names);
}

std::vector<std::int64_t> shape_of(const py::array& a) {
  return std::vector<std::int64_t>(a.shape(), a.shape() + a.ndim());
}

// A C-contiguous numpy array of a savable dtype -> its buffer; `keep` holds references.
const void* checked_buffer(const py::handle& obj, const std::string& what, std::int32_t* flag,
                           std::vector<std::int64_t>* shape, py::list& keep) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(what + " must be a numpy.ndarray, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(what + " must be C-contiguous");
  *flag = dtype_flag(a.dtype());
  if (*flag < 0)
    throw py::type_error(what + " has dtype " + std::string(py::str(a.dtype())) +
                         ", which MXNet files cannot store");
  *shape = shape_of(a);
  keep.append(a);
  return a.data();
}

// Python array descriptions -> borrowed views (all checks happen here, with the GIL held).
std::vector<io::ArrayView> views_of(const py::list& arrays, py::list& keep) {
  std::vector<io::ArrayView> views;
  views.reserve(arrays.size());
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const std::string what = "array " + std::to_string(i);
    io::ArrayView v;
    py::handle item = arrays[i];
    if (py::isinstance<py::tuple>(item)) {
      auto t = item.cast<py::tuple>();
      if (t.size() != 4)
        throw py::value_error(what + ": a sparse array is (stype, shape, values, [aux arrays])");
      v.stype = t[0].cast<std::int32_t>();
      v.shape = t[1].cast<std::vector<std::int64_t>>();
      v.data = checked_buffer(t[2], what + " values", &v.type_flag, &v.storage_shape, keep);
      auto aux = t[3].cast<py::list>();
      for (std::size_t j = 0; j < aux.size(); ++j) {
        io::AuxView av;
        av.data = checked_buffer(aux[j], what + " aux " + std::to_string(j), &av.type_flag,
                                 &av.shape, keep);
        v.aux.push_back(std::move(av));
      }
    } else {
      v.data = checked_buffer(item, what, &v.type_flag, &v.shape, keep);
    }
    views.push_back(std::move(v));
  }
  return views;
}

struct SaveArgs {
  std::vector<io::ArrayView> views;
  std::vector<std::string> names;
  bool dict_form;
  py::list keep;
};

SaveArgs save_args(const py::list& arrays, const py::object& names) {
  SaveArgs s;
  s.views = views_of(arrays, s.keep);
  s.dict_form = !names.is_none();
  if (s.dict_form) s.names = names.cast<std::vector<std::string>>();
  try {
    io::validate(s.views, s.names, s.dict_form);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
  return s;
}

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    s += std::to_string(a.shape(d)) + (a.ndim() == 1 ? "," : d + 1 < a.ndim() ? ", " : "");
  return s + ")";
}

// take_rows(src, rows, out): validates shapes, dtypes, layout and overlap, then gathers.
void take_rows(const py::array& src, const py::array& rows_in, py::array& out) {
  if (src.ndim() < 1) throw py::value_error("take_rows: src must have at least 1 dimension");
  if (!(src.flags() & py::array::c_style) || !(out.flags() & py::array::c_style))
    throw py::value_error("take_rows: src and out must be C-contiguous");
  if (!out.writeable()) throw py::value_error("take_rows: out is read-only");
  if (!src.dtype().is(out.dtype()))
    throw py::type_error("take_rows: out dtype " + std::string(py::str(out.dtype())) +
                         " differs from src dtype " + std::string(py::str(src.dtype())));
  if (rows_in.ndim() != 1 || rows_in.dtype().kind() != 'i')
    throw py::type_error("take_rows: rows must be a 1-D signed integer array, got dtype " +
                         std::string(py::str(rows_in.dtype())) + " shape " + shape_str(rows_in));
  const auto rows = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>(rows_in);
  bool same = out.ndim() == src.ndim() && out.shape(0) == rows.shape(0);
  for (py::ssize_t d = 1; same && d < src.ndim(); ++d) same = out.shape(d) == src.shape(d);
  if (!same)
    throw py::value_error("take_rows: out has shape " + shape_str(out) + ", expected (" +
                          std::to_string(rows.shape(0)) + ",) + src.shape[1:] with src shape " +
                          shape_str(src));
  const auto* s = static_cast<const unsigned char*>(src.data());
  auto* o = static_cast<unsigned char*>(out.mutable_data());
  const auto src_bytes = static_cast<std::size_t>(src.nbytes());
  const auto out_bytes = static_cast<std::size_t>(out.nbytes());
  if (src_bytes && out_bytes && o < s + src_bytes && s < o + out_bytes)
    throw py::value_error("take_rows: out overlaps src");
  const std::int64_t n_rows = src.shape(0);
  const std::size_t row_bytes = n_rows ? src_bytes / static_cast<std::size_t>(n_rows) : 0;
  py::gil_scoped_release nogil;
  io::take_rows(s, n_rows, row_bytes, rows.data(), rows.shape(0), o);
}

}  // namespace

void register_io(py::module_& m) {
  // Malformed files raise mxopt.base.MXNetError (a RuntimeError), as MXNet does.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const io::FormatError& e) {
      py::object cls = py::module_::import("mxopt.base").attr("MXNetError");
      PyErr_SetString(cls.ptr(), e.what());
    } catch (const io::FileError& e) {
      // OSError(errno, msg, filename) picks the subclass (FileNotFoundError, ...) itself.
      py::object err = py::module_::import("builtins")
                           .attr("OSError")(e.error_code(), e.what(), e.path());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(err.ptr())), err.ptr());
    }
  });

  m.def(
      "params_load",
      [](const std::string& fname) {
        io::ArrayList list;
        {
          py::gil_scoped_release nogil;
          list = io::load(fname);
        }
        return list_to_python(std::move(list));
      },
      py::arg("fname"),
      "Read an MXNet NDArray list file -> (arrays, names or None); names are bytes.");
  m.def(
      "params_parse",
      [](const py::bytes& data) {
        std::string_view v = data;
        io::ArrayList list;
        {
          py::gil_scoped_release nogil;
          list = io::parse(reinterpret_cast<const unsigned char*>(v.data()), v.size());
        }
        return list_to_python(std::move(list));
      },
      py::arg("data"), "params_load on an in-memory file image.");
  m.def(
      "params_save",
      [](const std::string& fname, const py::list& arrays, const py::object& names) {
        SaveArgs s = save_args(arrays, names);
        py::gil_scoped_release nogil;
        io::save(fname, s.views, s.names, s.dict_form);
      },
      py::arg("fname"), py::arg("arrays"), py::arg("names"),
      "Write arrays (numpy, or (stype, shape, values, aux) tuples) in MXNet's format; "
      "names=None writes the list form. Written to a temporary file, then renamed.");
  m.def(
      "params_serialize",
      [](const py::list& arrays, const py::object& names) {
        SaveArgs s = save_args(arrays, names);
        std::string out;
        {
          py::gil_scoped_release nogil;
          out = io::serialize(s.views, s.names, s.dict_form);
        }
        return py::bytes(out);
      },
      py::arg("arrays"), py::arg("names"), "params_save into bytes.");
  m.def(
      "params_record_dumps",
      [](const py::object& array) {
        py::list one;
        one.append(array);
        SaveArgs s = save_args(one, py::none());
        return py::bytes(io::serialize_record(s.views[0]));
      },
      py::arg("array"), "One array record (the payload of a pickled MXNet NDArray).");
  m.def(
      "params_record_loads",
      [](const py::bytes& data) {
        std::string_view v = data;
        return to_python(
            io::parse_record(reinterpret_cast<const unsigned char*>(v.data()), v.size()));
      },
      py::arg("data"), "Decode one array record (see params_record_dumps).");
  m.def("take_rows", &take_rows, py::arg("src"), py::arg("rows"), py::arg("out"),
        "out[i] = src[rows[i]] for C-contiguous arrays of one dtype (NDArrayIter's shuffled "
        "batches). Every index is checked before anything is written; the GIL is released.");
}

}  // namespace mxopt::bindings
