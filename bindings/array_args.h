// Argument checking shared by the operator bindings (bind_ops.cc, bind_nn.cc): every numpy
// argument is checked (type, dtype, contiguity, writeability, shape, overlap) before a kernel
// writes anything, and the C++ work runs without the GIL.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "mxopt/ops.h"
#include "mxopt/tensor_ops.h"

namespace mxopt::bindings::args {

namespace py = pybind11;
using ops::Req;
using ops::Shape;

// ---- argument checking -------------------------------------------------------------------------

inline std::string dtype_name(const py::dtype& dt) { return py::str(dt).cast<std::string>(); }

inline Shape shape_of(const py::array& a) {
  return Shape(a.shape(), a.shape() + a.ndim());
}

// One checked numpy argument: its buffer, shape and byte range (for overlap checks).
struct Arr {
  py::array array;
  void* ptr = nullptr;
  Shape shape;
  std::int64_t size = 0;
  std::string name;
  std::uintptr_t lo = 0, hi = 0;
  template <class T> T* data() const { return static_cast<T*>(ptr); }
};

inline py::array as_array(const py::handle& obj, const std::string& name) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(name + " must be a numpy.ndarray, got " +
                         py::type::handle_of(obj).attr("__name__").cast<std::string>());
  return py::reinterpret_borrow<py::array>(obj);
}

inline Arr make_arr(const py::array& a, const std::string& name, bool writeable) {
  if (!(a.flags() & py::array::c_style)) throw py::value_error(name + " must be C-contiguous");
  if (writeable && !a.writeable()) throw py::value_error(name + " must be writeable");
  Arr r;
  r.array = a;
  r.ptr = const_cast<void*>(a.data());
  r.shape = shape_of(a);
  r.size = static_cast<std::int64_t>(a.size());
  r.name = name;
  r.lo = reinterpret_cast<std::uintptr_t>(r.ptr);
  r.hi = r.lo + static_cast<std::uintptr_t>(a.nbytes());
  return r;
}

inline void expect_shape(const Arr& a, const Shape& want, const std::string& what = "") {
  if (a.shape != want)
    throw py::value_error(a.name + " has shape " + ops::shape_str(a.shape) + ", expected " +
                          ops::shape_str(want) + what);
}

inline Req parse_req(int req, const std::string& name) {
  if (req != 0 && req != 1 && req != 3)
    throw py::value_error(name + " must be 0 (null), 1 (write) or 3 (add), got " + std::to_string(req));
  return static_cast<Req>(req);
}

enum class FloatType { kF32, kF64 };

// The float arrays of one call: they must all share the dtype of the first one checked.
class Floats {
 public:
  Arr in(const py::handle& obj, const std::string& name) { return take(obj, name, false); }
  Arr out(const py::handle& obj, const std::string& name, const Shape& want) {
    Arr a = take(obj, name, true);
    expect_shape(a, want);
    return a;
  }
  // A gradient output: None allowed (and returned empty) when req is null.
  std::optional<Arr> grad(const py::handle& obj, const std::string& name, Req req, const Shape& want) {
    if (obj.is_none()) {
      if (req != Req::kNull)
        throw py::value_error(name + " is None but its req is " + std::to_string(static_cast<int>(req)) +
                              " (only req 0 allows None)");
      return std::nullopt;
    }
    return out(obj, name, want);
  }
  // A writeable output whose shape the caller checks.
  Arr out_unshaped(const py::handle& obj, const std::string& name) { return take(obj, name, true); }
  std::optional<Arr> optional_in(const py::handle& obj, const std::string& name) {
    if (obj.is_none()) return std::nullopt;
    return in(obj, name);
  }
  FloatType type() const { return type_; }
  bool known() const { return known_; }
  void set_type(FloatType t, const std::string& from) {
    known_ = true;
    type_ = t;
    first_ = from;
  }

 private:
  Arr take(const py::handle& obj, const std::string& name, bool writeable) {
    py::array a = as_array(obj, name);
    const py::dtype dt = a.dtype();
    FloatType t;
    if (dt.is(py::dtype::of<float>())) t = FloatType::kF32;
    else if (dt.is(py::dtype::of<double>())) t = FloatType::kF64;
    else throw py::type_error(name + " must be a float32 or float64 array, got dtype " + dtype_name(dt));
    if (!known_) set_type(t, name);
    else if (t != type_)
      throw py::type_error(name + " has dtype " + dtype_name(dt) + ", expected " +
                           (type_ == FloatType::kF32 ? "float32" : "float64") + " (the dtype of " +
                           first_ + ")");
    return make_arr(a, name, writeable);
  }
  bool known_ = false;
  FloatType type_ = FloatType::kF32;
  std::string first_;
};

inline bool overlaps(const Arr& a, const Arr& b) {
  return a.size > 0 && b.size > 0 && a.lo < b.hi && b.lo < a.hi;
}
inline bool same_buffer(const Arr& a, const Arr& b) { return a.lo == b.lo && a.hi == b.hi; }

// Outputs must not overlap each other, nor the inputs except (when `exact_ok`) by being the
// very same buffer as an input of the same shape.
inline void check_overlap(const std::vector<const Arr*>& outs, const std::vector<const Arr*>& ins,
                   bool exact_ok) {
  for (std::size_t i = 0; i < outs.size(); ++i) {
    if (!outs[i]) continue;
    for (std::size_t j = i + 1; j < outs.size(); ++j)
      if (outs[j] && overlaps(*outs[i], *outs[j]))
        throw py::value_error(outs[i]->name + " and " + outs[j]->name + " overlap in memory");
    for (const Arr* in : ins) {
      if (!in || !overlaps(*outs[i], *in)) continue;
      if (exact_ok && same_buffer(*outs[i], *in) && outs[i]->shape == in->shape) continue;
      throw py::value_error(outs[i]->name + " overlaps " + in->name + " in memory");
    }
  }
}

template <class Fn>
inline void with_float(FloatType t, Fn&& fn) {
  if (t == FloatType::kF32) fn(float{});
  else fn(double{});
}

template <class T>
T* ptr_or_null(const std::optional<Arr>& a) {
  return a ? a->data<T>() : nullptr;
}
inline const Arr* opt_ptr(const std::optional<Arr>& a) { return a ? &*a : nullptr; }

// Index arrays (one_hot, Embedding): float32/float64/int8/uint8/int32/int64, C-contiguous.
enum class IndexType { kF32, kF64, kI8, kU8, kI32, kI64 };
inline IndexType index_type(const py::array& a, const std::string& name) {
  const py::dtype dt = a.dtype();
  if (dt.is(py::dtype::of<float>())) return IndexType::kF32;
  if (dt.is(py::dtype::of<double>())) return IndexType::kF64;
  if (dt.is(py::dtype::of<std::int8_t>())) return IndexType::kI8;
  if (dt.is(py::dtype::of<std::uint8_t>())) return IndexType::kU8;
  if (dt.is(py::dtype::of<std::int32_t>())) return IndexType::kI32;
  if (dt.is(py::dtype::of<std::int64_t>())) return IndexType::kI64;
  throw py::type_error(name + " must be a float32, float64, int8, uint8, int32 or int64 array, got dtype " +
                       dtype_name(dt));
}
template <class Fn>
inline void with_index(IndexType t, Fn&& fn) {
  switch (t) {
    case IndexType::kF32: return fn(float{});
    case IndexType::kF64: return fn(double{});
    case IndexType::kI8: return fn(std::int8_t{});
    case IndexType::kU8: return fn(std::uint8_t{});
    case IndexType::kI32: return fn(std::int32_t{});
    case IndexType::kI64: return fn(std::int64_t{});
  }
}

// An int64 C-contiguous 1-D array (CSR structure).
inline Arr int64_vector(const py::handle& obj, const std::string& name) {
  py::array a = as_array(obj, name);
  if (!a.dtype().is(py::dtype::of<std::int64_t>()))
    throw py::type_error(name + " must be an int64 array, got dtype " + dtype_name(a.dtype()));
  if (a.ndim() != 1) throw py::value_error(name + " must be one-dimensional, got shape " + ops::shape_str(shape_of(a)));
  return make_arr(a, name, false);
}

template <class E>
E parse_enum(const std::string& value, const std::string& what,
             const std::vector<std::pair<const char*, E>>& table) {
  std::string names;
  for (const auto& [n, e] : table) {
    if (value == n) return e;
    names += (names.empty() ? "" : ", ") + std::string("'") + n + "'";
  }
  throw py::value_error(what + " must be one of " + names + ", got '" + value + "'");
}

// Runs fn without the GIL; C++ argument errors come back as ValueError.
template <class Fn>
inline void run(Fn&& fn) {
  py::gil_scoped_release nogil;
  fn();
}

inline Shape appended(Shape s, std::int64_t d) {
  s.push_back(d);
  return s;
}

}  // namespace mxopt::bindings::args
