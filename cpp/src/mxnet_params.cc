// MXNet's hyper-parameter conversions: Python repr() + dmlc-core's ParseFloat (see
// mxopt/mxnet_params.h). The optimizers, the random generators and the bindings all use these.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "mxopt/mxnet_params.h"

namespace mxopt {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// dmlc::ParseFloat<F> (dmlc-core's strtonum.h algorithm): integer digits as uint64, then
// F(double(fraction digits) / double(10^k)) added in F, then an exponent applied by dividing
// or multiplying by a scale built in F from 1e8 and 10 factors. Returns the value and sets
// `used` to the number of characters consumed (0: nothing parsed).
template <class F>
F parse_float(const std::string& s, std::size_t& used) {
  constexpr unsigned kMaxExponent = std::is_same_v<F, double> ? 308U : 38U;
  const F kMaxSig = static_cast<F>(std::is_same_v<F, double> ? 1.79769313486231570 : 3.402823466);
  const F kMaxSigNeg = static_cast<F>(std::is_same_v<F, double> ? 2.22507385850720139 : 1.175494351);
  std::size_t p = 0;
  const std::size_t n = s.size();
  while (p < n && (s[p] == ' ' || s[p] == '\t' || s[p] == '\r' || s[p] == '\n' || s[p] == '\f'))
    ++p;
  bool sign = true;
  if (p < n && s[p] == '-') {
    sign = false;
    ++p;
  } else if (p < n && s[p] == '+') {
    ++p;
  }
  auto lower_matches = [&](std::size_t at, const char* word) {
    std::size_t i = 0;
    while (word[i] && at + i < n && static_cast<char>(s[at + i] | 32) == word[i]) ++i;
    return i;
  };
  {
    const std::size_t i = lower_matches(p, "infinity");
    if (i == 3 || i == 8) {
      used = p + i;
      return sign ? std::numeric_limits<F>::infinity() : -std::numeric_limits<F>::infinity();
    }
    if (lower_matches(p, "nan") == 3) {
      p += 3;
      if (p < n && s[p] == '(') {
        std::size_t q = p + 1;
        while (q < n && (is_digit(s[q]) || std::isalpha(static_cast<unsigned char>(s[q])) ||
                         s[q] == '_'))
          ++q;
        if (q < n && s[q] == ')') p = q + 1;
      }
      used = p;
      return std::numeric_limits<F>::quiet_NaN();
    }
  }
  const std::size_t start = p;
  std::uint64_t predec = 0;
  for (; p < n && is_digit(s[p]); ++p) predec = predec * 10ULL + static_cast<std::uint64_t>(s[p] - '0');
  F value = static_cast<F>(predec);
  bool any_digit = p > start;
  if (p < n && s[p] == '.') {
    std::uint64_t pow10 = 1, val2 = 0;
    int cnt = 0;
    ++p;
    while (p < n && is_digit(s[p])) {
      if (cnt < 19) {
        val2 = val2 * 10ULL + static_cast<std::uint64_t>(s[p] - '0');
        pow10 *= 10ULL;
      }
      ++p;
      ++cnt;
      any_digit = true;
    }
    value += static_cast<F>(static_cast<double>(val2) / static_cast<double>(pow10));
  }
  if (!any_digit && p == start) {
    used = 0;
    return F(0);
  }
  if (p < n && (s[p] == 'e' || s[p] == 'E')) {
    ++p;
    bool frac = false;
    F scale = static_cast<F>(1.0f);
    unsigned expon = 0;
    if (p < n && s[p] == '-') {
      frac = true;
      ++p;
    } else if (p < n && s[p] == '+') {
      ++p;
    }
    for (; p < n && is_digit(s[p]); ++p) expon = expon * 10U + static_cast<unsigned>(s[p] - '0');
    if (expon > kMaxExponent) throw std::out_of_range("Out of range value");
    if (expon == kMaxExponent && ((!frac && value > kMaxSig) || (frac && value < kMaxSigNeg)))
      throw std::out_of_range("Out of range value");
    while (expon >= 8U) {
      scale *= static_cast<F>(1E8f);
      expon -= 8U;
    }
    while (expon > 0U) {
      scale *= static_cast<F>(10.0f);
      expon -= 1U;
    }
    value = frac ? (value / scale) : (value * scale);
  }
  if (p < n && (s[p] == 'f' || s[p] == 'F')) ++p;
  used = p;
  return sign ? value : -value;
}

template <class F>
F parse_field(const std::string& text, const char* type) {
  std::size_t used = 0;
  F v;
  try {
    v = parse_float<F>(text, used);
  } catch (const std::out_of_range&) {
    throw std::invalid_argument("Out of range value, value='" + text + "'");
  }
  if (used == 0)
    throw std::invalid_argument(std::string("Invalid Parameter format: expect ") + type +
                                " but value='" + text + "'");
  if (used < text.size())
    throw std::invalid_argument("Some trailing characters could not be parsed: '" +
                                text.substr(used) + "'");
  return v;
}

}  // namespace

std::string python_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == 0.0) return std::signbit(x) ? "-0.0" : "0.0";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // [-]d[.ddd]e(+|-)XX, shortest round-trip digits
  std::string out;
  std::size_t i = 0;
  if (sci[0] == '-') {
    out = "-";
    i = 1;
  }
  const std::size_t epos = sci.find('e');
  std::string digits;
  for (std::size_t k = i; k < epos; ++k)
    if (sci[k] != '.') digits += sci[k];
  const int exp10 = std::stoi(sci.substr(epos + 1));
  if (exp10 >= -5 + 1 && exp10 < 16) {  // repr uses fixed notation for 1e-4 <= |x| < 1e16
    if (exp10 >= 0) {
      std::string ip = digits.substr(0, std::min<std::size_t>(digits.size(), exp10 + 1));
      while (static_cast<int>(ip.size()) < exp10 + 1) ip += '0';
      std::string fp = digits.size() > static_cast<std::size_t>(exp10 + 1)
                           ? digits.substr(exp10 + 1)
                           : std::string("0");
      out += ip + "." + fp;
    } else {
      out += "0." + std::string(static_cast<std::size_t>(-exp10 - 1), '0') + digits;
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char e[16];
  std::snprintf(e, sizeof(e), "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
  return out + e;
}

float parse_mxnet_float(const std::string& text) { return parse_field<float>(text, "float"); }
double parse_mxnet_double(const std::string& text) { return parse_field<double>(text, "double"); }

}  // namespace mxopt
