// MXNet's parameter round trip: Python sends str(value), dmlc-core parses it.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "mxopt/random.h"

namespace mxopt::random {

namespace {
// dmlc-core's ParseFloat<F> (F = float or double) as used for operator parameters: integer part
// accumulated in uint64 and converted to F; up to 19 fraction digits accumulated in uint64,
// divided in double by 10^digits, the quotient rounded to F and added in F; a decimal exponent
// applied by multiplying/dividing by a power of ten built in F from 1e8 and 10 steps.
template <class F>
F parse_dmlc(const std::string& text) {
  constexpr bool kDouble = sizeof(F) == 8;
  const char* p = text.c_str();
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') ++p;
  bool negative = false;
  if (*p == '-') {
    negative = true;
    ++p;
  } else if (*p == '+') {
    ++p;
  }
  auto lower = [](char c) { return static_cast<char>(c | 32); };
  if (lower(p[0]) == 'i' && lower(p[1]) == 'n' && lower(p[2]) == 'f')
    return negative ? -std::numeric_limits<F>::infinity() : std::numeric_limits<F>::infinity();
  if (lower(p[0]) == 'n' && lower(p[1]) == 'a' && lower(p[2]) == 'n')
    return std::numeric_limits<F>::quiet_NaN();

  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::uint64_t int_part = 0;
  for (; digit(*p); ++p) int_part = int_part * 10u + static_cast<std::uint64_t>(*p - '0');
  F value = static_cast<F>(int_part);
  if (*p == '.') {
    ++p;
    std::uint64_t frac = 0, pow10 = 1;
    for (int count = 0; digit(*p); ++p, ++count) {
      if (count < 19) {
        frac = frac * 10u + static_cast<std::uint64_t>(*p - '0');
        pow10 *= 10u;
      }
    }
    value += static_cast<F>(static_cast<double>(frac) / static_cast<double>(pow10));
  }
  if (*p == 'e' || *p == 'E') {
    ++p;
    bool divide = false;
    if (*p == '-') {
      divide = true;
      ++p;
    } else if (*p == '+') {
      ++p;
    }
    unsigned expon = 0;
    for (; digit(*p); ++p) expon = expon * 10u + static_cast<unsigned>(*p - '0');
    constexpr unsigned kMaxExp = kDouble ? 308u : 38u;
    if (expon > kMaxExp) expon = kMaxExp;
    // At the largest exponent, dmlc clips the significand so the value stays finite.
    const F max_sig = static_cast<F>(kDouble ? 1.79769313486231570 : 3.402823466);
    const F min_sig = static_cast<F>(kDouble ? 2.22507385850720139 : 1.175494351);
    if (expon == kMaxExp) {
      if (!divide && value > max_sig) value = max_sig;
      if (divide && value < min_sig) value = min_sig;
    }
    F scale = 1;
    for (; expon >= 8u; expon -= 8u) scale *= static_cast<F>(1e8f);
    for (; expon > 0u; --expon) scale *= static_cast<F>(10.0f);
    value = divide ? value / scale : value * scale;
  }
  return negative ? -value : value;
}

}  // namespace

float parse_mxnet_float(const std::string& text) { return parse_dmlc<float>(text); }
double parse_mxnet_double(const std::string& text) { return parse_dmlc<double>(text); }

// Python's repr(float): the shortest digits that round-trip, positional for exponents
// -4 <= e < 16, else d.ddde[+-]XX.
std::string python_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const std::size_t epos = sci.find('e');
  std::string digits = sci.substr(0, epos);
  const int exp10 = std::atoi(sci.c_str() + epos + 1);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  if (x == 0.0) return sign + "0.0";
  const int decpt = exp10 + 1;
  const int nd = static_cast<int>(digits.size());
  std::string out;
  if (decpt <= -4 || decpt > 16) {
    out = digits.substr(0, 1);
    if (nd > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof(e), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += e;
  } else if (decpt <= 0) {
    out = "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
  } else if (decpt >= nd) {
    out = digits + std::string(static_cast<std::size_t>(decpt - nd), '0') + ".0";
  } else {
    out = digits.substr(0, static_cast<std::size_t>(decpt)) + "." +
          digits.substr(static_cast<std::size_t>(decpt));
  }
  return sign + out;
}

float mxnet_param(double x) { return parse_mxnet_float(python_repr(x)); }

}  // namespace mxopt::random
