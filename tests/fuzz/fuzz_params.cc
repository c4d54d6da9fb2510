// libFuzzer target: the .params reader (mx.nd.load) on untrusted bytes.
// Any input must either parse or raise FormatError; a parsed file must survive a
// write -> read round trip unchanged (dense and sparse records alike).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "mxopt/io.h"

using namespace mxopt::io;

namespace {

ArrayView view_of(const Array& a) {
  ArrayView v;
  v.stype = a.stype;
  v.shape = a.shape;
  v.storage_shape = a.storage_shape;
  v.type_flag = a.type_flag;
  v.dev_id = a.dev_id;
  v.data = a.data.data();
  for (const AuxArray& x : a.aux) v.aux.push_back(AuxView{x.type_flag, x.shape, x.data.data()});
  return v;
}

bool same(const Array& a, const Array& b) {
  if (a.stype != b.stype || a.shape != b.shape || a.type_flag != b.type_flag || a.data != b.data ||
      a.aux.size() != b.aux.size())
    return false;
  for (std::size_t i = 0; i < a.aux.size(); ++i)
    if (a.aux[i].shape != b.aux[i].shape || a.aux[i].data != b.aux[i].data) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ArrayList parsed;
  try {
    parsed = parse(data, size);
  } catch (const FormatError&) {
    return 0;  // rejected cleanly: the expected outcome for garbage
  }
  // Re-serialise what was read (skipping "none" placeholders, which the writer never emits).
  std::vector<ArrayView> views;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < parsed.arrays.size(); ++i) {
    if (parsed.arrays[i].is_none) return 0;
    views.push_back(view_of(parsed.arrays[i]));
    if (parsed.has_names) names.push_back(parsed.names[i]);
  }
  std::string bytes;
  try {
    bytes = serialize(views, names, parsed.has_names);
  } catch (const std::invalid_argument&) {
    return 0;  // readable but not writable (e.g. a dtype the writer refuses): fine
  }
  ArrayList again = parse(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  if (again.arrays.size() != parsed.arrays.size() || again.names != parsed.names) std::abort();
  for (std::size_t i = 0; i < again.arrays.size(); ++i)
    if (!same(again.arrays[i], parsed.arrays[i])) std::abort();
  // The single-record entry point (pickled NDArrays) on the same bytes.
  try {
    (void)parse_record(data, size);
  } catch (const FormatError&) {
  }
  return 0;
}
