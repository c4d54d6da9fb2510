// MXNet's hyper-parameter round trip, which bit-exact parity depends on.
//
// MXNet's Python frontend sends every operator hyper-parameter as the string str(value), and
// its C++ side parses it with dmlc-core's fast parser, which is NOT correctly rounded (about 1
// value in 12 lands one float32 ulp away from the nearest float, e.g. "1.91" -> 1.9100001f):
//   python_repr(x)        Python's repr() of a double (shortest round-trip, repr's layout);
//   parse_mxnet_float(s)  dmlc::stof (float32 operator fields: lr, wd, momentum, low, high, ...);
//   parse_mxnet_double(s) dmlc::stod (double fields: the scalar of NDArray-scalar arithmetic);
//   mxnet_float(x) / mxnet_double(x)  what an operator receives for the Python float x.
// The parsers accept inf/nan and throw std::invalid_argument with MXNet's messages ("Invalid
// Parameter format ...", "Some trailing characters could not be parsed ...", "Out of range
// value ..." for a float32 field beyond float32's range).
#pragma once

#include <string>

namespace mxopt {

std::string python_repr(double x);
float parse_mxnet_float(const std::string& text);
double parse_mxnet_double(const std::string& text);
inline float mxnet_float(double x) { return parse_mxnet_float(python_repr(x)); }
inline double mxnet_double(double x) { return parse_mxnet_double(python_repr(x)); }

}  // namespace mxopt
