// Text files of MXNet's CSV / LibSVM iterators: uri expansion, byte-range partitions, chunks of
// whole lines, line numbers for error messages, and the number syntax of dmlc-core's parsers.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "mxopt/data.h"

namespace mxopt::data {
namespace {

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Lower-case ASCII letter c matches s[i] case-insensitively (dmlc: (c | 32) == letter).
inline bool ci(const char* s, const char* end, int i, char letter) {
  return s + i < end && static_cast<char>(s[i] | 32) == letter;
}

// The float powers of ten of dmlc's exponent loop (1e8f factors first, then 10.0f ones), each
// computed once in that order.
struct Scales {
  float v[39];
  Scales() {
    for (unsigned e = 0; e <= 38; ++e) {
      float scale = 1.0f;
      unsigned x = e;
      while (x >= 8u) {
        scale *= 1E8f;
        x -= 8u;
      }
      while (x > 0u) {
        scale *= 10.0f;
        x -= 1u;
      }
      v[e] = scale;
    }
  }
};
const Scales kScales;

}  // namespace

float parse_float(const char* p, const char* end, const char** stop) {
  // dmlc-core's ParseFloat<float>: the same integers and the same float operations in the same
  // order (powers of ten for the exponent from a table computed with dmlc's loop).
  constexpr float kMaxSignificand = static_cast<float>(3.402823466);  // at exponent +38
  constexpr float kMinSignificand = static_cast<float>(1.175494351);  // at exponent -38
  const char* s = p;
  while (s < end && is_space(*s)) ++s;
  bool negative = false;
  if (s < end && (*s == '-' || *s == '+')) negative = *s++ == '-';
  if (s < end && ((*s | 32) == 'i' || (*s | 32) == 'n')) {
    int i = 0;
    while (i < 8 && ci(s, end, i, "infinity"[i])) ++i;
    if (i == 3 || i == 8) {
      *stop = s + i;
      const float inf = std::numeric_limits<float>::infinity();
      return negative ? -inf : inf;
    }
    if (ci(s, end, 0, 'n') && ci(s, end, 1, 'a') && ci(s, end, 2, 'n')) {
      const char* q = s + 3;
      if (q < end && *q == '(') {
        ++q;
        while (q < end && (is_digit(*q) || ((*q | 32) >= 'a' && (*q | 32) <= 'z') || *q == '_'))
          ++q;
        if (q >= end || *q != ')') {  // dmlc: "Invalid NAN literal"
          *stop = p;
          return 0.0f;
        }
        ++q;
      }
      *stop = q;
      return std::numeric_limits<float>::quiet_NaN();  // dmlc ignores the sign of NaN
    }
    *stop = p;
    return 0.0f;
  }
  const char* digits = s;
  std::uint64_t predec = 0;  // wraps (mod 2^64) like dmlc's for more than 19 digits
  for (; s < end && is_digit(*s); ++s) predec = predec * 10u + static_cast<unsigned>(*s - '0');
  bool any = s > digits;
  float value = static_cast<float>(predec);
  if (s < end && *s == '.') {
    ++s;
    std::uint64_t pow10 = 1, frac = 0;
    unsigned count = 0;  // dmlc uses the first 19 fraction digits
    for (; s < end && is_digit(*s); ++s, ++count) {
      if (count < 19u) {
        frac = frac * 10u + static_cast<unsigned>(*s - '0');
        pow10 *= 10u;
      }
    }
    any = any || count > 0;
    value += static_cast<float>(static_cast<double>(frac) / static_cast<double>(pow10));
  }
  if (!any) {
    *stop = p;
    return 0.0f;
  }
  if (s < end && (*s == 'e' || *s == 'E')) {
    // dmlc also takes an 'e' without exponent digits (exponent 0: "1.5e" is 1.5)
    const char* e = s + 1;
    bool down = false;
    if (e < end && (*e == '-' || *e == '+')) down = *e++ == '-';
    unsigned expon = 0;
    for (; e < end && is_digit(*e); ++e)
      expon = expon > 1000u ? expon : expon * 10u + static_cast<unsigned>(*e - '0');
    if (expon > 38u) expon = 38u;
    if (expon == 38u && ((!down && value > kMaxSignificand) || (down && value < kMinSignificand)))
      value = down ? kMinSignificand : kMaxSignificand;
    const float scale = kScales.v[expon];
    value = down ? value / scale : value * scale;
    s = e;
  }
  if (s < end && (*s == 'f' || *s == 'F')) ++s;
  *stop = s;
  return negative ? -value : value;
}

std::int64_t parse_int(const char* p, const char* end, const char** stop, bool* overflow) {
  *overflow = false;
  const char* s = p;
  while (s < end && (is_space(*s) || *s == '\v')) ++s;
  bool negative = false;
  if (s < end && (*s == '-' || *s == '+')) negative = *s++ == '-';
  unsigned base = 10;
  if (s < end && *s == '0') {
    if (s + 2 < end && (s[1] | 32) == 'x' && std::isxdigit(static_cast<unsigned char>(s[2]))) {
      base = 16;
      s += 2;
    } else {
      base = 8;
    }
  }
  const char* digits = s;
  unsigned __int128 v = 0;
  const unsigned __int128 limit = static_cast<unsigned __int128>(INT64_MAX) + (negative ? 1 : 0);
  for (; s < end; ++s) {
    unsigned d;
    const char c = *s;
    if (is_digit(c)) {
      d = static_cast<unsigned>(c - '0');
    } else if (base == 16 && (c | 32) >= 'a' && (c | 32) <= 'f') {
      d = static_cast<unsigned>((c | 32) - 'a' + 10);
    } else {
      break;
    }
    if (d >= base) break;
    v = v * base + d;
    if (v > limit) {
      *overflow = true;
      v = limit;
    }
  }
  if (s == digits) {
    *stop = p;
    return 0;
  }
  *stop = s;
  if (negative)
    return v > static_cast<unsigned __int128>(INT64_MAX) ? INT64_MIN
                                                          : -static_cast<std::int64_t>(v);
  return static_cast<std::int64_t>(v);
}

// ---- uri expansion -----------------------------------------------------------------------------
namespace {

bool stat_path(const std::string& path, struct stat* st) { return ::stat(path.c_str(), st) == 0; }

std::string errno_text(int err) { return std::strerror(err); }

// The non-empty regular files of a directory, in readdir order (dmlc-core's listing).
void list_directory(const std::string& dir, std::vector<TextFile>* out,
                    const std::regex* pattern = nullptr) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    const int err = errno;
    throw FileMissing("cannot list directory '" + dir + "': " + errno_text(err), dir);
  }
  std::string base = dir;
  if (!base.empty() && base.back() != '/') base += '/';
  while (const dirent* ent = ::readdir(d)) {
    if (!std::strcmp(ent->d_name, ".") || !std::strcmp(ent->d_name, "..")) continue;
    const std::string path = base + ent->d_name;
    struct stat st;
    if (!stat_path(path, &st) || S_ISDIR(st.st_mode) || st.st_size == 0) continue;
    if (pattern != nullptr && !std::regex_match(path, *pattern)) continue;
    out->push_back({path, static_cast<std::uint64_t>(st.st_size)});
  }
  ::closedir(d);
}

}  // namespace

std::vector<TextFile> expand_uri(const std::string& uri) {
  std::vector<TextFile> files;
  std::vector<std::string> entries;
  std::size_t start = 0;
  while (true) {
    const std::size_t semi = uri.find(';', start);
    std::string entry = uri.substr(start, semi == std::string::npos ? std::string::npos
                                                                     : semi - start);
    if (entry.rfind("file://", 0) == 0) entry = entry.substr(7);
    if (!entry.empty()) entries.push_back(entry);
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  if (entries.empty()) throw FileMissing("no data file given (empty path)", uri);
  for (const std::string& entry : entries) {
    struct stat st;
    if (stat_path(entry, &st)) {
      if (S_ISDIR(st.st_mode)) {
        const std::size_t before = files.size();
        list_directory(entry, &files);
        if (files.size() == before)
          throw FileMissing("directory '" + entry + "' holds no non-empty data file", entry);
      } else if (st.st_size == 0) {
        throw DataError("data file '" + entry + "' is empty");
      } else {
        files.push_back({entry, static_cast<std::uint64_t>(st.st_size)});
      }
      continue;
    }
    const int err = errno;
    // dmlc-core: a missing path with a directory part is a regular expression over that
    // directory's entries (e.g. "data/part-.*").
    const std::size_t slash = entry.rfind('/');
    bool matched = false;
    if (slash != std::string::npos && slash + 1 < entry.size()) {
      const std::string dir = slash == 0 ? std::string("/") : entry.substr(0, slash);
      struct stat dst;
      if (stat_path(dir, &dst) && S_ISDIR(dst.st_mode)) {
        try {
          const std::regex pattern(entry);
          const std::size_t before = files.size();
          list_directory(dir, &files, &pattern);
          matched = files.size() > before;
        } catch (const std::regex_error&) {
          matched = false;
        }
      }
    }
    if (!matched) {
      std::string hint;
      if (entry.find_first_of("?#") != std::string::npos)
        hint = " (dmlc-core URI arguments '?...' and cache files '#...' are not supported)";
      throw FileMissing("data file '" + entry + "' not found: " + errno_text(err) + hint, entry);
    }
  }
  return files;
}

std::uint64_t line_number(const std::string& path, std::uint64_t offset) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) return 0;
  std::uint64_t line = 1, done = 0;
  bool pending_cr = false;
  std::vector<char> buf(1 << 16);
  while (done < offset) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), offset - done));
    const std::size_t n = std::fread(buf.data(), 1, want, fp);
    if (n == 0) break;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = buf[i];
      if (pending_cr && c != '\n') ++line;  // a lone '\r' ended a line
      pending_cr = false;
      if (c == '\n') {
        ++line;
      } else if (c == '\r') {
        pending_cr = true;
      }
    }
    done += n;
  }
  if (pending_cr) ++line;  // '\r' right before the line start: that line begins after it
  std::fclose(fp);
  return line;
}

// ---- partitions and chunks ----------------------------------------------------------------------
namespace {

std::FILE* open_at(const TextFile& f, std::uint64_t pos) {
  std::FILE* fp = std::fopen(f.path.c_str(), "rb");
  if (fp == nullptr) {
    const int err = errno;
    throw FileMissing("cannot open data file '" + f.path + "': " + errno_text(err), f.path);
  }
  if (::fseeko(fp, static_cast<off_t>(pos), SEEK_SET) != 0) {
    std::fclose(fp);
    throw DataError("cannot seek in data file '" + f.path + "'");
  }
  return fp;
}

// dmlc-core's LineSplitter::SeekRecordBegin: the bytes from `pos` of file `f` up to and
// including the first line end, plus the line ends that directly follow it (the whole rest of
// the file when it has no line end after pos).
std::uint64_t skip_to_next_line(const TextFile& f, std::uint64_t pos) {
  std::FILE* fp = open_at(f, pos);
  std::uint64_t n = 0;
  int c;
  bool found = false;
  while ((c = std::fgetc(fp)) != EOF) {
    ++n;
    if (c == '\n' || c == '\r') {
      found = true;
      break;
    }
  }
  if (found) {
    while ((c = std::fgetc(fp)) != EOF && (c == '\n' || c == '\r')) ++n;
  }
  std::fclose(fp);
  return n;
}

}  // namespace

TextChunks::TextChunks(std::vector<TextFile> files, unsigned part_index, unsigned num_parts,
                       std::size_t chunk_bytes)
    : files_(std::move(files)), chunk_bytes_(std::max<std::size_t>(chunk_bytes, 16)) {
  if (num_parts == 0) throw DataError("num_parts must be positive");
  // part_index >= num_parts is an empty part (as in dmlc-core).
  offsets_.assign(files_.size() + 1, 0);
  for (std::size_t i = 0; i < files_.size(); ++i) offsets_[i + 1] = offsets_[i] + files_[i].size;
  const std::uint64_t total = offsets_.back();
  const std::uint64_t step = (total + num_parts - 1) / num_parts;
  begin_ = std::min<std::uint64_t>(step * part_index, total);
  end_ = std::min<std::uint64_t>(step * (part_index + 1), total);
  if (begin_ < end_) {
    auto file_of = [&](std::uint64_t at) {
      return static_cast<std::size_t>(
          std::upper_bound(offsets_.begin(), offsets_.end(), at) - offsets_.begin() - 1);
    };
    const std::size_t fe = file_of(end_);
    if (fe < files_.size() && end_ != offsets_[fe])
      end_ += skip_to_next_line(files_[fe], end_ - offsets_[fe]);
    const std::size_t fb = file_of(begin_);
    if (begin_ != offsets_[fb]) begin_ += skip_to_next_line(files_[fb], begin_ - offsets_[fb]);
    if (begin_ > end_) begin_ = end_;
  } else {
    begin_ = end_;
  }
  pos_ = begin_;
}

TextChunks::~TextChunks() {
  if (fp_ != nullptr) std::fclose(fp_);
}

void TextChunks::before_first() {
  pos_ = begin_;
  carry_.clear();
  if (fp_ != nullptr) {
    std::fclose(fp_);
    fp_ = nullptr;
  }
  fp_file_ = static_cast<std::size_t>(-1);
}

bool TextChunks::next(Chunk* out) {
  while (pos_ < end_) {
    const std::size_t f = static_cast<std::size_t>(
        std::upper_bound(offsets_.begin(), offsets_.end(), pos_) - offsets_.begin() - 1);
    const std::uint64_t in_file = pos_ - offsets_[f];
    const std::uint64_t stop = std::min(offsets_[f + 1], end_);
    if (fp_file_ != f) {
      if (fp_ != nullptr) std::fclose(fp_);
      fp_ = nullptr;
      fp_ = open_at(files_[f], in_file);
      fp_file_ = f;
    }
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes_, stop - pos_));
    if (carry_.empty()) carry_offset_ = in_file;
    const std::size_t old = carry_.size();
    carry_.resize(old + want);
    const std::size_t got = std::fread(&carry_[old], 1, want, fp_);
    if (got != want)
      throw DataError("data file '" + files_[f].path + "' changed while it was read (expected " +
                      std::to_string(files_[f].size) + " bytes)");
    pos_ += want;
    if (pos_ == stop) {  // end of the file (or of the partition): every remaining line
      out->text.swap(carry_);
      carry_.clear();
      out->file = f;
      out->offset = carry_offset_;
      if (fp_ != nullptr && pos_ == offsets_[f + 1]) {
        std::fclose(fp_);
        fp_ = nullptr;
        fp_file_ = static_cast<std::size_t>(-1);
      }
      return true;
    }
    // cut after the last line end among the new bytes (the carried bytes have none)
    std::size_t cut = std::string::npos;
    for (std::size_t i = carry_.size(); i > old; --i) {
      const char c = carry_[i - 1];
      if (c == '\n' || c == '\r') {
        cut = i;
        break;
      }
    }
    if (cut == std::string::npos) continue;  // one long line: read on
    out->text.swap(carry_);                  // the chunk keeps the buffer (no 16 MB copy) ...
    carry_.assign(out->text, cut, std::string::npos);  // ... and only the unfinished line moves
    out->text.resize(cut);
    out->file = f;
    out->offset = carry_offset_;
    carry_offset_ += cut;
    return true;
  }
  return false;
}

}  // namespace mxopt::data
