// .params reader/writer: MXNet-written fixtures, byte-exact re-serialisation, legacy record
// versions, and robustness against truncated / corrupt / hostile input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mxopt/io.h"

using namespace mxopt::io;

namespace {

std::string fixture(const std::string& name) { return std::string(MXOPT_FIXTURE_DIR) + "/" + name; }

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(f), {});
}

template <class T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

ArrayView view_of(const Array& a) {
  ArrayView v;
  v.stype = a.stype;
  v.shape = a.shape;
  v.storage_shape = a.storage_shape;
  v.type_flag = a.type_flag;
  v.dev_id = a.dev_id;
  v.data = a.data.data();
  for (const auto& x : a.aux) v.aux.push_back({x.type_flag, x.shape, x.data.data()});
  return v;
}

std::string reserialize(const ArrayList& list) {
  std::vector<ArrayView> views;
  for (const auto& a : list.arrays) views.push_back(view_of(a));
  return serialize(views, list.names, list.has_names);
}

double element(const Array& a, std::size_t i) {
  const unsigned char* p = a.data.data() + i * dtype_size(a.type_flag);
  switch (a.type_flag) {
    case 0: { float v; std::memcpy(&v, p, 4); return v; }
    case 1: { double v; std::memcpy(&v, p, 8); return v; }
    case 3: return *p;
    case 4: { std::int32_t v; std::memcpy(&v, p, 4); return v; }
    case 5: return static_cast<signed char>(*p);
    case 6: { std::int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case 7: return *p ? 1.0 : 0.0;
    default: return std::nan("");
  }
}

// Parsing must either succeed or throw FormatError: never crash, never another exception.
void expect_parse_safe(const std::vector<unsigned char>& bytes) {
  try {
    (void)parse(bytes.data(), bytes.size());
  } catch (const FormatError&) {
  }
}

}  // namespace

TEST(ParamsIO, ReadsMXNetDictFileExactly) {
  const auto bytes = read_bytes(fixture("mxnet_dict.params"));
  ASSERT_FALSE(bytes.empty());
  const ArrayList list = parse(bytes.data(), bytes.size());
  ASSERT_TRUE(list.has_names);
  std::ifstream want(fixture("mxnet_dict.txt"));
  std::string line;
  std::size_t i = 0;
  static const std::map<std::string, int> flags = {
      {"float32", 0}, {"float64", 1}, {"float16", 2}, {"uint8", 3},
      {"int32", 4},   {"int8", 5},    {"int64", 6},   {"bool", 7}};
  while (std::getline(want, line)) {
    std::istringstream in(line);
    std::string name, dtype, shape;
    in >> name >> dtype >> shape;
    ASSERT_LT(i, list.arrays.size());
    const Array& a = list.arrays[i];
    EXPECT_EQ(list.names[i], name);
    EXPECT_EQ(a.type_flag, flags.at(dtype)) << name;
    std::string got_shape;
    for (std::size_t d = 0; d < a.shape.size(); ++d)
      got_shape += (d ? "," : "") + std::to_string(a.shape[d]);
    EXPECT_EQ(got_shape, shape) << name;
    EXPECT_EQ(a.dev_type, 1);
    if (a.type_flag != 2) {  // float16 values are checked by the Python tests
      double v;
      std::size_t k = 0;
      while (in >> v) {
        EXPECT_EQ(element(a, k), v) << name << "[" << k << "]";
        ++k;
      }
      EXPECT_EQ(k * dtype_size(a.type_flag), a.data.size()) << name;
    }
    ++i;
  }
  EXPECT_EQ(i, list.arrays.size());
}

TEST(ParamsIO, ReserializationIsByteIdenticalToMXNet) {
  for (const char* name : {"mxnet_dict.params", "mxnet_list.params", "mxnet_sparse.params"}) {
    const auto bytes = read_bytes(fixture(name));
    const ArrayList list = parse(bytes.data(), bytes.size());
    const std::string again = reserialize(list);
    EXPECT_EQ(again, std::string(bytes.begin(), bytes.end())) << name;
  }
}

TEST(ParamsIO, SparseRecordsDecode) {
  const auto bytes = read_bytes(fixture("mxnet_sparse.params"));
  const ArrayList list = parse(bytes.data(), bytes.size());
  ASSERT_EQ(list.arrays.size(), 2u);
  const Array& rsp = list.arrays[0];
  EXPECT_EQ(list.names[0], "rsp");
  EXPECT_EQ(rsp.stype, kRowSparseStorage);
  EXPECT_EQ(rsp.shape, (std::vector<std::int64_t>{6, 3}));
  EXPECT_EQ(rsp.storage_shape, (std::vector<std::int64_t>{2, 3}));
  ASSERT_EQ(rsp.aux.size(), 1u);
  std::int64_t rows[2];
  std::memcpy(rows, rsp.aux[0].data.data(), 16);
  EXPECT_EQ(rows[0], 1);
  EXPECT_EQ(rows[1], 4);
  const Array& csr = list.arrays[1];
  EXPECT_EQ(csr.stype, kCSRStorage);
  EXPECT_EQ(csr.storage_shape, (std::vector<std::int64_t>{4}));
  ASSERT_EQ(csr.aux.size(), 2u);
  EXPECT_EQ(csr.aux[0].shape, (std::vector<std::int64_t>{4}));  // indptr
}

TEST(ParamsIO, ListFormAndEmptyFile) {
  const auto bytes = read_bytes(fixture("mxnet_list.params"));
  const ArrayList list = parse(bytes.data(), bytes.size());
  EXPECT_FALSE(list.has_names);
  EXPECT_EQ(list.arrays.size(), 2u);
  const std::string empty = serialize({}, {}, true);
  EXPECT_EQ(empty.size(), 32u);
  const ArrayList e = parse(reinterpret_cast<const unsigned char*>(empty.data()), empty.size());
  EXPECT_TRUE(e.arrays.empty());
  EXPECT_FALSE(e.has_names);  // MXNet: an empty dict loads as []
}

TEST(ParamsIO, ReadsV1AndPreV1Records) {
  const float vals[3] = {1.5f, -2.f, 3.25f};
  for (int version : {0, 1}) {
    std::string s;
    put<std::uint64_t>(s, kListMagic);
    put<std::uint64_t>(s, 0);
    put<std::uint64_t>(s, 1);
    if (version == 1) {
      put<std::uint32_t>(s, kMagicV1);
      put<std::int32_t>(s, 1);
      put<std::int64_t>(s, 3);
    } else {
      put<std::uint32_t>(s, 1);  // ndim
      put<std::uint32_t>(s, 3);  // u32 dim
    }
    put<std::int32_t>(s, 2);  // gpu: still loads
    put<std::int32_t>(s, 0);
    put<std::int32_t>(s, 0);
    s.append(reinterpret_cast<const char*>(vals), sizeof vals);
    put<std::uint64_t>(s, 0);
    const ArrayList l = parse(reinterpret_cast<const unsigned char*>(s.data()), s.size());
    ASSERT_EQ(l.arrays.size(), 1u);
    EXPECT_EQ(l.arrays[0].shape, (std::vector<std::int64_t>{3}));
    EXPECT_EQ(l.arrays[0].dev_type, 2);
    EXPECT_EQ(std::memcmp(l.arrays[0].data.data(), vals, sizeof vals), 0);
  }
}

TEST(ParamsIO, RefusesV3AndBadHeader) {
  std::string s;
  put<std::uint64_t>(s, kListMagic);
  put<std::uint64_t>(s, 0);
  put<std::uint64_t>(s, 1);
  put<std::uint32_t>(s, kMagicV3);
  put<std::int32_t>(s, 0);
  put<std::int32_t>(s, -1);
  put<std::uint64_t>(s, 0);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  EXPECT_THROW(parse(p, s.size()), FormatError);
  std::string bad = s;
  bad[0] = 0x13;
  try {
    parse(reinterpret_cast<const unsigned char*>(bad.data()), bad.size());
    FAIL() << "bad header accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("Invalid NDArray file format"), std::string::npos);
  }
}

TEST(ParamsIO, EveryTruncationIsAFormatError) {
  for (const char* name : {"mxnet_dict.params", "mxnet_sparse.params"}) {
    const auto bytes = read_bytes(fixture(name));
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      std::vector<unsigned char> cut(bytes.begin(), bytes.begin() + n);
      EXPECT_THROW(parse(cut.data(), cut.size()), FormatError) << name << " cut at " << n;
    }
    std::vector<unsigned char> longer = bytes;
    longer.push_back(0);
    EXPECT_THROW(parse(longer.data(), longer.size()), FormatError);
  }
}

TEST(ParamsIO, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(12345);
  for (const char* name : {"mxnet_dict.params", "mxnet_list.params", "mxnet_sparse.params"}) {
    const auto bytes = read_bytes(fixture(name));
    std::uniform_int_distribution<std::size_t> pos(0, bytes.size() - 1);
    for (int trial = 0; trial < 3000; ++trial) {
      auto mutated = bytes;
      const int flips = 1 + trial % 4;
      for (int f = 0; f < flips; ++f) {
        // Bias towards structure: big values in size fields are the dangerous ones.
        const unsigned char v = trial % 3 == 0 ? 0xff : static_cast<unsigned char>(rng());
        mutated[pos(rng)] = v;
      }
      expect_parse_safe(mutated);
    }
  }
}

TEST(ParamsIO, HostileSizesFailWithoutAllocating) {
  auto header = [](std::uint64_t n) {
    std::string s;
    put<std::uint64_t>(s, kListMagic);
    put<std::uint64_t>(s, 0);
    put<std::uint64_t>(s, n);
    return s;
  };
  auto expect_format_error = [](const std::string& s) {
    EXPECT_THROW(parse(reinterpret_cast<const unsigned char*>(s.data()), s.size()), FormatError);
  };
  expect_format_error(header(~0ull));  // 2^64-1 arrays
  std::string s = header(1);
  put<std::uint32_t>(s, kMagicV2);
  put<std::int32_t>(s, 0);
  put<std::int32_t>(s, 2);
  put<std::int64_t>(s, std::int64_t(1) << 40);  // a 2^40 x 2^40 array
  put<std::int64_t>(s, std::int64_t(1) << 40);
  put<std::int32_t>(s, 1);
  put<std::int32_t>(s, 0);
  put<std::int32_t>(s, 0);
  expect_format_error(s);
  std::string neg = header(1);
  put<std::uint32_t>(neg, kMagicV2);
  put<std::int32_t>(neg, 0);
  put<std::int32_t>(neg, 1);
  put<std::int64_t>(neg, -5);
  expect_format_error(neg);
  std::string many_dims = header(1);
  put<std::uint32_t>(many_dims, kMagicV2);
  put<std::int32_t>(many_dims, 0);
  put<std::int32_t>(many_dims, 0x7fffffff);
  expect_format_error(many_dims);
  std::string name_len = header(0);
  put<std::uint64_t>(name_len, 0);
  EXPECT_NO_THROW(parse(reinterpret_cast<const unsigned char*>(name_len.data()), name_len.size()));
  std::string k_bad = header(0);
  put<std::uint64_t>(k_bad, 3);  // names for 0 arrays
  expect_format_error(k_bad);
}

TEST(ParamsIO, SaveIsAtomicAndValidatesFirst) {
  const std::string path = ::testing::TempDir() + "mxopt_io_test.params";
  std::remove(path.c_str());
  const float w[6] = {0, 1, 2, 3, 4, 5};
  ArrayView v;
  v.shape = {2, 3};
  v.data = w;
  save(path, {v}, {"arg:w"}, true);
  const auto bytes = read_bytes(path);
  const char want[] =
      "\x12\x01\0\0\0\0\0\0" "\0\0\0\0\0\0\0\0" "\x01\0\0\0\0\0\0\0"
      "\xc9\xfa\x93\xf9" "\0\0\0\0" "\x02\0\0\0" "\x02\0\0\0\0\0\0\0" "\x03\0\0\0\0\0\0\0"
      "\x01\0\0\0" "\0\0\0\0" "\0\0\0\0";
  ASSERT_EQ(bytes.size(), sizeof(want) - 1 + 24 + 8 + 8 + 5);
  EXPECT_EQ(std::memcmp(bytes.data(), want, sizeof(want) - 1), 0);
  // An invalid second array: nothing is written, the old file stays intact.
  ArrayView bad = v;
  bad.type_flag = 99;
  EXPECT_THROW(save(path, {v, bad}, {"a", "b"}, true), std::invalid_argument);
  EXPECT_EQ(read_bytes(path), bytes);
  EXPECT_THROW(save(path, {v}, {"a", "b"}, true), std::invalid_argument);
  EXPECT_THROW(save(::testing::TempDir() + "no/such/dir/x.params", {v}, {}, false), FileError);
  EXPECT_THROW(load(::testing::TempDir() + "no_such_file.params"), FileError);
  std::remove(path.c_str());
}

TEST(ParamsIO, RecordRoundTrip) {
  const double vals[4] = {1, 2, 3, 4};
  ArrayView v;
  v.shape = {2, 2};
  v.type_flag = 1;
  v.data = vals;
  const std::string rec = serialize_record(v);
  EXPECT_EQ(rec.size(), 4u + 4 + 4 + 16 + 12 + 32);
  const Array a = parse_record(reinterpret_cast<const unsigned char*>(rec.data()), rec.size());
  EXPECT_EQ(a.type_flag, 1);
  EXPECT_EQ(std::memcmp(a.data.data(), vals, sizeof vals), 0);
  EXPECT_THROW(parse_record(reinterpret_cast<const unsigned char*>(rec.data()), rec.size() - 1),
               FormatError);
}

// ---- take_rows (NDArrayIter's shuffled batches) ----------------------------------------------

TEST(TakeRows, GathersRowsInOrderSerialAndParallel) {
  // 300 rows of 1000 bytes: 64 rows (64 KB) stay serial, 300 (300 KB) take the parallel path.
  const std::int64_t n = 300;
  const std::size_t row = 1000;
  std::vector<unsigned char> src(n * row);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + i / row);
  std::mt19937_64 gen(3);
  for (std::int64_t take : {std::int64_t{1}, std::int64_t{64}, n}) {
    std::vector<std::int64_t> rows(take);
    for (auto& r : rows) r = static_cast<std::int64_t>(gen() % n);
    std::vector<unsigned char> out(take * row, 0xAB);
    take_rows(src.data(), n, row, rows.data(), take, out.data());
    for (std::int64_t i = 0; i < take; ++i)
      ASSERT_EQ(std::memcmp(out.data() + i * row, src.data() + rows[i] * row, row), 0) << i;
  }
}

TEST(TakeRows, BadIndexThrowsBeforeAnyWrite) {
  std::vector<unsigned char> src(4 * 8, 1), out(3 * 8, 0);
  for (std::int64_t bad : {std::int64_t{4}, std::int64_t{-1}}) {
    const std::int64_t rows[3] = {0, 1, bad};
    EXPECT_THROW(take_rows(src.data(), 4, 8, rows, 3, out.data()), std::out_of_range);
    EXPECT_EQ(std::count(out.begin(), out.end(), 0), 24) << "out was written";
  }
  take_rows(src.data(), 4, 0, nullptr, 0, out.data());  // nothing to do
}
