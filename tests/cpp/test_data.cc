// File data iterators (mxopt/data.h): number syntax, partitions, line numbers, batch sources
// with MXNet's round_batch rules, MNIST idx validation, the shuffle order and the prefetcher.
// Bit-for-bit agreement with MXNet 1.9.1 is tested in tests/python/test_io_files_mxnet.py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mxopt/data.h"

using namespace mxopt::data;

namespace {

std::string temp_file(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "mxopt_data_" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

float parse(const std::string& s, std::size_t* used = nullptr) {
  const char* stop = nullptr;
  const float v = parse_float(s.data(), s.data() + s.size(), &stop);
  if (used) *used = static_cast<std::size_t>(stop - s.data());
  return v;
}

std::vector<float> floats(const Array& a) {
  std::vector<float> v(a.values.size() / sizeof(float));
  std::memcpy(v.data(), a.values.data(), a.values.size());
  return v;
}

}  // namespace

TEST(ParseFloat, SyntaxAndStopPosition) {
  std::size_t used = 0;
  EXPECT_EQ(parse("0.5,1", &used), 0.5f);
  EXPECT_EQ(used, 3u);
  EXPECT_EQ(parse("  -2.25e1 ", &used), -22.5f);
  EXPECT_EQ(used, 9u);
  EXPECT_EQ(parse("7.0f", &used), 7.0f);
  EXPECT_EQ(used, 4u);
  EXPECT_EQ(parse("1.5e", &used), 1.5f);  // dmlc: an exponent without digits is 0
  EXPECT_EQ(used, 4u);
  EXPECT_EQ(parse(".5"), 0.5f);
  EXPECT_EQ(parse("5."), 5.0f);
  EXPECT_TRUE(std::isinf(parse("-Infinity")) && parse("-inf") < 0);
  EXPECT_TRUE(std::isnan(parse("nan")));
  EXPECT_TRUE(std::isnan(parse("NaN(abc_1)", &used)));
  EXPECT_EQ(used, 10u);
  for (const char* bad : {"", "abc", "+", ".", "e5", "-x", "nan(abc"}) {
    parse(bad, &used);
    EXPECT_EQ(used, 0u) << bad;
  }
}

TEST(ParseFloat, ExponentsAreClippedLikeDmlc) {
  // dmlc clips exponents to 38 and caps the significand at exponent 38: no denormals from
  // exponent syntax, and 1e39 reads as 1e38.
  EXPECT_TRUE(std::isfinite(parse("1e39")));
  EXPECT_EQ(parse("1e39"), parse("1e38"));
  EXPECT_TRUE(std::isinf(parse("6e38")));  // the capped significand times 1e38 overflows
  EXPECT_GE(parse("1e-45"), std::numeric_limits<float>::min() * 0.99f);
}

TEST(ParseInt, BasesAndOverflow) {
  const char* stop = nullptr;
  bool overflow = false;
  auto parse_i = [&](const std::string& s) {
    return parse_int(s.data(), s.data() + s.size(), &stop, &overflow);
  };
  EXPECT_EQ(parse_i("0x1F"), 31);
  EXPECT_EQ(parse_i("010"), 8);
  EXPECT_EQ(parse_i("-42"), -42);
  EXPECT_EQ(parse_i("9223372036854775807"), INT64_MAX);
  EXPECT_FALSE(overflow);
  EXPECT_EQ(parse_i("-9223372036854775808"), INT64_MIN);
  EXPECT_FALSE(overflow);
  parse_i("9223372036854775808");
  EXPECT_TRUE(overflow);
}

TEST(TextChunks, PartitionsCoverEveryLineOnce) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += std::to_string(i) + (i % 3 ? "\n" : "\r\n");
  const std::string path = temp_file("parts.txt", text);
  for (unsigned parts : {1u, 2u, 3u, 7u, 50u}) {
    std::string joined;
    std::uint64_t previous_end = 0;
    for (unsigned k = 0; k < parts; ++k) {
      TextChunks chunks(expand_uri(path), k, parts, 16);
      EXPECT_EQ(chunks.begin(), previous_end);
      previous_end = chunks.end();
      Chunk c;
      while (chunks.next(&c)) joined += c.text;
    }
    EXPECT_EQ(joined, text) << parts;
  }
}

TEST(TextChunks, LineNumbers) {
  const std::string path = temp_file("lines.txt", "a\r\nb\rc\n\nd");
  EXPECT_EQ(line_number(path, 0), 1u);
  EXPECT_EQ(line_number(path, 3), 2u);
  EXPECT_EQ(line_number(path, 5), 3u);
  EXPECT_EQ(line_number(path, 7), 4u);  // the empty line between "\n\n"
  EXPECT_EQ(line_number(path, 8), 5u);
}

TEST(TextChunks, MissingFileIsNamed) {
  try {
    expand_uri("/nonexistent/dir/file.csv");
    FAIL() << "no exception";
  } catch (const FileMissing& e) {
    EXPECT_EQ(e.path(), "/nonexistent/dir/file.csv");
    EXPECT_NE(std::string(e.what()).find("file.csv"), std::string::npos);
  }
}

TEST(CSVSource, RoundBatchWrapsAndTheNextEpochContinues) {
  // MXNet's CSVIter example: 4 rows, batch 3.
  CSVOptions o;
  o.data_csv = temp_file("four.csv", "1,2,3\n2,3,4\n3,4,5\n4,5,6\n");
  o.data_shape = {3};
  o.batch_size = 3;
  auto src = make_csv_source(o);
  Batch b;
  ASSERT_TRUE(src->next(&b));
  EXPECT_EQ(b.pad, 0);
  ASSERT_TRUE(src->next(&b));
  EXPECT_EQ(b.pad, 2);
  EXPECT_EQ(floats(b.data), (std::vector<float>{4, 5, 6, 1, 2, 3, 2, 3, 4}));
  EXPECT_EQ(b.index, (std::vector<std::uint64_t>{3, 0, 1}));
  EXPECT_FALSE(src->next(&b));
  src->before_first();
  ASSERT_TRUE(src->next(&b));
  EXPECT_EQ(floats(b.data), (std::vector<float>{3, 4, 5, 4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(b.pad, 1);
  EXPECT_FALSE(src->next(&b));
  EXPECT_EQ(b.label.shape, (std::vector<std::int64_t>{3}));
}

TEST(CSVSource, WithoutRoundBatchTheLastBatchKeepsStaleRows) {
  CSVOptions o;
  o.data_csv = temp_file("five.csv", "1\n2\n3\n4\n5\n");
  o.data_shape = {1};
  o.batch_size = 3;
  o.round_batch = false;
  auto src = make_csv_source(o);
  Batch b;
  ASSERT_TRUE(src->next(&b));
  ASSERT_TRUE(src->next(&b));
  EXPECT_EQ(b.pad, 1);
  EXPECT_EQ(floats(b.data), (std::vector<float>{4, 5, 3}));
  src->before_first();
  ASSERT_TRUE(src->next(&b));
  EXPECT_EQ(floats(b.data), (std::vector<float>{1, 2, 3}));
}

TEST(LibSVMSource, MalformedLineRaisesAtItsBatch) {
  LibSVMOptions o;
  o.data_libsvm = temp_file("bad.t", "1 0:1\n0 1:2\n\n1 3:1 2:1\n");
  o.num_cols = 4;
  o.batch_size = 2;
  auto src = make_libsvm_source(o);
  Batch b;
  ASSERT_TRUE(src->next(&b));
  EXPECT_TRUE(b.data.csr);
  EXPECT_EQ(b.data.indptr, (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(b.data.indices, (std::vector<std::int64_t>{0, 1}));
  try {
    src->next(&b);
    FAIL() << "no exception";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.t', line 4: feature index 2 follows index 3"),
              std::string::npos)
        << e.what();
  }
}

TEST(MNIST, IdxValidationAndShuffleOrder) {
  const unsigned char truncated[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7};
  EXPECT_THROW(parse_idx(truncated, sizeof(truncated), 3, "x"), DataError);
  const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 2, 4, 5};
  EXPECT_THROW(parse_idx(labels, sizeof(labels), 3, "x"), DataError);  // wrong magic
  IdxFile f = parse_idx(labels, sizeof(labels), 1, "x");
  EXPECT_EQ(f.dims, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(f.bytes, (std::vector<unsigned char>{4, 5}));
  // MXNet 1.9.1's MNISTIter order for 1003 images, seed 3 (first ten, read from MXNet's batches)
  const auto order = mxnet_shuffle_order(1003, 3);
  EXPECT_EQ(std::vector<std::uint32_t>(order.begin(), order.begin() + 10),
            (std::vector<std::uint32_t>{474, 631, 489, 144, 715, 436, 662, 100, 374, 234}));
}

TEST(Prefetcher, RunsAheadAndRethrowsAtTheFailingBatch) {
  struct Counting : BatchSource {
    int n = 0, produced = 0;
    bool next(Batch* out) override {
      if (n == 5) throw DataError("boom at 5");
      out->pad = n++;
      ++produced;
      return true;
    }
    void before_first() override { n = 0; }
  };
  auto owned = std::make_unique<Counting>();
  Counting* src = owned.get();
  Prefetcher p(std::move(owned), 3);
  Batch b;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(p.next(&b));
    EXPECT_EQ(b.pad, i);
  }
  EXPECT_THROW(p.next(&b), DataError);
  EXPECT_THROW(p.next(&b), DataError);
  p.reset();
  ASSERT_TRUE(p.next(&b));
  EXPECT_EQ(b.pad, 0);
  EXPECT_GE(src->produced, 6);
}

namespace {

// dmlc-core's ParseFloat<float> written out digit by digit with a division (the reference the
// eight-digits-at-a-time parse and its division-free quotient must equal bit for bit).
float reference_parse(const std::string& text) {
  const char* s = text.c_str();
  bool negative = false;
  if (*s == '-' || *s == '+') negative = *s++ == '-';
  std::uint64_t predec = 0;
  for (; *s >= '0' && *s <= '9'; ++s) predec = predec * 10u + static_cast<unsigned>(*s - '0');
  float value = static_cast<float>(predec);
  if (*s == '.') {
    ++s;
    std::uint64_t pow10 = 1, frac = 0;
    for (int count = 0; *s >= '0' && *s <= '9'; ++s, ++count) {
      if (count < 19) {
        frac = frac * 10u + static_cast<unsigned>(*s - '0');
        pow10 *= 10u;
      }
    }
    value += static_cast<float>(static_cast<double>(frac) / static_cast<double>(pow10));
  }
  if (*s == 'e' || *s == 'E') {
    ++s;
    bool down = false;
    if (*s == '-' || *s == '+') down = *s++ == '-';
    unsigned expon = 0;
    for (; *s >= '0' && *s <= '9'; ++s) expon = expon * 10u + static_cast<unsigned>(*s - '0');
    if (expon > 38u) expon = 38u;
    const float max_sig = static_cast<float>(3.402823466);
    const float min_sig = static_cast<float>(1.175494351);
    if (expon == 38u && ((!down && value > max_sig) || (down && value < min_sig)))
      value = down ? min_sig : max_sig;
    float scale = 1.0f;
    while (expon >= 8u) {
      scale *= 1E8f;
      expon -= 8u;
    }
    while (expon > 0u) {
      scale *= 10.0f;
      expon -= 1u;
    }
    value = down ? value / scale : value * scale;
  }
  return negative ? -value : value;
}

std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

TEST(ParseFloat, EqualsDmlcsDigitByDigitArithmetic) {
  std::mt19937_64 rng(7);
  std::vector<std::string> texts = {"0.5", "0.1", "0.3", "1.5", "0.25", "0.125", "0.0625",
                                    "0.03125", "0.000000000000000000001", "9.9999999999999999999",
                                    "0.9999999999999999999", "123456789012345678901234.5",
                                    "0.00000000000000000000000009", "5e-1", "3.4e38", "1.17e-38"};
  // exact ties of double rounding: frac / 10^k = an odd multiple of 2^-54 .. halfway patterns
  for (int k = 1; k <= 19; ++k)
    for (std::uint64_t m : {1ull, 3ull, 5ull, 7ull, 9ull, 11ull, 13ull, 15ull}) {
      std::string digits = std::to_string(m * 5);
      if (static_cast<int>(digits.size()) <= k)
        texts.push_back("0." + std::string(k - digits.size(), '0') + digits);
    }
  const char* digits = "0123456789";
  for (int i = 0; i < 300000; ++i) {
    std::string t = (rng() & 1) ? "-" : "";
    const int ip = static_cast<int>(rng() % 8), fp = static_cast<int>(rng() % 24);
    for (int j = 0; j < ip; ++j) t += digits[rng() % 10];
    if (fp || ip == 0) {
      t += '.';
      for (int j = 0; j < std::max(fp, ip == 0 ? 1 : 0); ++j) t += digits[rng() % 10];
    }
    if (rng() % 4 == 0) t += "e" + std::string((rng() & 1) ? "-" : "") + std::to_string(rng() % 45);
    texts.push_back(t);
  }
  for (const auto& t : texts) {
    std::size_t used = 0;
    const float ours = parse(t, &used);
    ASSERT_EQ(used, t.size()) << t;
    ASSERT_EQ(bits_of(ours), bits_of(reference_parse(t))) << t;
  }
}
