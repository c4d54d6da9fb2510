// Graph executor: validation of a bound plan, forward in node order, backward in reverse order
// with gradient accumulation (see mxopt/executor.h).
#include "mxopt/executor.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mxopt::graph {
namespace {

using ops::Req;

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::ostringstream o;
  o << "(";
  for (std::size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  if (s.size() == 1) o << ",";
  o << ")";
  return o.str();
}

std::int64_t prod(const std::vector<std::int64_t>& s, std::size_t from = 0) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < s.size(); ++i) p *= s[i];
  return p;
}

const char* kind_name(OpKind k) {
  switch (k) {
    case OpKind::kFullyConnected: return "FullyConnected";
    case OpKind::kActivation: return "Activation";
    case OpKind::kDropout: return "Dropout";
    case OpKind::kFlatten: return "Flatten";
    case OpKind::kSoftmaxOutput: return "SoftmaxOutput";
    case OpKind::kLinearRegressionOutput: return "LinearRegressionOutput";
    case OpKind::kLogisticRegressionOutput: return "LogisticRegressionOutput";
    case OpKind::kMAERegressionOutput: return "MAERegressionOutput";
  }
  return "?";
}

ops::RegressionType regression_type(OpKind k) {
  return k == OpKind::kLogisticRegressionOutput ? ops::RegressionType::kLogistic
         : k == OpKind::kMAERegressionOutput    ? ops::RegressionType::kMAE
                                                : ops::RegressionType::kLinear;
}

// Rows of FullyConnected's 2-D view of its data: the batch, or all leading axes.
std::int64_t fc_rows(const std::vector<std::int64_t>& d, bool flatten) {
  if (flatten) return d[0];
  std::int64_t m = 1;
  for (std::size_t i = 0; i + 1 < d.size(); ++i) m *= d[i];
  return m;
}

}  // namespace

bool is_loss(OpKind kind) {
  return kind == OpKind::kSoftmaxOutput || kind == OpKind::kLinearRegressionOutput ||
         kind == OpKind::kLogisticRegressionOutput || kind == OpKind::kMAERegressionOutput;
}

Executor::Executor(DType dtype, std::vector<Entry> entries, std::vector<Node> nodes,
                   std::vector<int> heads, std::uint64_t seed)
    : dtype_(dtype),
      entries_(std::move(entries)),
      nodes_(std::move(nodes)),
      heads_(std::move(heads)),
      rng_(static_cast<std::mt19937::result_type>(seed)) {
  validate();
}

void Executor::validate() {
  if (dtype_ != DType::kFloat32 && dtype_ != DType::kFloat64)
    throw std::invalid_argument("executor dtype must be float32 or float64");
  const std::size_t elem = dtype_ == DType::kFloat32 ? 4 : 8;
  const int ne = static_cast<int>(entries_.size());
  producer_.assign(entries_.size(), -1);
  size_.resize(entries_.size());
  for (int e = 0; e < ne; ++e) {
    const Entry& en = entries_[e];
    for (auto d : en.shape)
      if (d < 0) throw std::invalid_argument("entry " + std::to_string(e) + " has a negative dimension");
    size_[e] = prod(en.shape);
    if (!en.data && size_[e] > 0)
      throw std::invalid_argument("entry " + std::to_string(e) + " has no buffer");
    if (!en.is_argument && (en.grad || en.grad_req != Req::kNull))
      throw std::invalid_argument("only arguments take gradient buffers (entry " + std::to_string(e) + ")");
    if (en.grad_req != Req::kNull && !en.grad && size_[e] > 0)
      throw std::invalid_argument("entry " + std::to_string(e) + " has grad_req but no gradient buffer");
  }
  auto entry_ok = [&](int e) { return e >= 0 && e < ne; };
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    const std::string where = std::string(kind_name(node.kind)) + " node " + std::to_string(n);
    if (!entry_ok(node.output) || entries_[node.output].is_argument || producer_[node.output] != -1)
      throw std::invalid_argument(where + ": bad output entry");
    for (int in : node.inputs) {
      if (!entry_ok(in)) throw std::invalid_argument(where + ": bad input entry");
      if (!entries_[in].is_argument && (producer_[in] == -1 || producer_[in] >= static_cast<int>(n)))
        throw std::invalid_argument(where + ": input entry " + std::to_string(in) +
                                    " is not computed before this node");
    }
    producer_[node.output] = static_cast<int>(n);
    auto in_shape = [&](std::size_t i) -> const std::vector<std::int64_t>& {
      return entries_[node.inputs[i]].shape;
    };
    const auto& out = entries_[node.output].shape;
    auto need_inputs = [&](std::size_t k) {
      if (node.inputs.size() != k)
        throw std::invalid_argument(where + " takes " + std::to_string(k) + " inputs, got " +
                                    std::to_string(node.inputs.size()));
    };
    auto mismatch = [&](const std::string& what, const std::vector<std::int64_t>& got,
                        const std::vector<std::int64_t>& want) {
      return std::invalid_argument(where + ": " + what + " has shape " + shape_str(got) +
                                   ", expected " + shape_str(want));
    };
    switch (node.kind) {
      case OpKind::kFullyConnected: {
        const auto& p = node.params;
        need_inputs(p.no_bias ? 2 : 3);
        const auto& d = in_shape(0);
        if (d.empty()) throw std::invalid_argument(where + ": data must have ndim >= 1");
        if (p.num_hidden < 1) throw std::invalid_argument(where + ": num_hidden must be >= 1");
        const std::int64_t k = p.flatten ? prod(d, 1) : d.back();
        std::vector<std::int64_t> want_out;
        if (p.flatten) want_out = {d[0], p.num_hidden};
        else {
          want_out.assign(d.begin(), d.end() - 1);
          want_out.push_back(p.num_hidden);
        }
        if (in_shape(1) != std::vector<std::int64_t>{p.num_hidden, k})
          throw mismatch("weight", in_shape(1), {p.num_hidden, k});
        if (!p.no_bias && size_[node.inputs[2]] != p.num_hidden)
          throw mismatch("bias", in_shape(2), {p.num_hidden});
        if (out != want_out) throw mismatch("output", out, want_out);
        break;
      }
      case OpKind::kActivation:
      case OpKind::kDropout:
        need_inputs(1);
        if (out != in_shape(0)) throw mismatch("output", out, in_shape(0));
        if (node.kind == OpKind::kDropout && !(node.params.p >= 0.0f && node.params.p <= 1.0f))
          throw std::invalid_argument(where + ": p must be in [0, 1]");
        break;
      case OpKind::kFlatten:
        need_inputs(1);
        if (in_shape(0).empty() || out != std::vector<std::int64_t>{in_shape(0)[0], prod(in_shape(0), 1)})
          throw mismatch("output", out, {in_shape(0).empty() ? 0 : in_shape(0)[0], prod(in_shape(0), 1)});
        break;
      case OpKind::kSoftmaxOutput: {
        need_inputs(2);
        const auto& d = in_shape(0);
        if (d.empty() || d[0] == 0) throw std::invalid_argument(where + ": data must be non-empty with ndim >= 1");
        if (out != d) throw mismatch("output", out, d);
        const auto& sp = node.params.softmax;
        const std::int64_t label_size = size_[node.inputs[1]];
        if (in_shape(1) != d) {
          if (sp.multi_output && d.size() < 2)
            throw std::invalid_argument(where + ": multi_output needs data with ndim >= 2");
          const std::int64_t want = sp.multi_output ? d[0] * prod(d, 2) : (d.back() ? size_[node.inputs[0]] / d.back() : 0);
          if (label_size != want)
            throw std::invalid_argument(where + ": label has shape " + shape_str(in_shape(1)) + " (" +
                                        std::to_string(label_size) + " elements) for data " +
                                        shape_str(d) + ", expected " + std::to_string(want) +
                                        " labels or probability labels of the data's shape");
        }
        break;
      }
      case OpKind::kLinearRegressionOutput:
      case OpKind::kLogisticRegressionOutput:
      case OpKind::kMAERegressionOutput: {
        need_inputs(2);
        const auto& d = in_shape(0);
        const auto& l = in_shape(1);
        if (out != d) throw mismatch("output", out, d);
        if (d.empty() || l.empty() || l[0] != d[0] || prod(l) != prod(d))
          throw std::invalid_argument(where + ": label shape " + shape_str(l) +
                                      " does not match data shape " + shape_str(d));
        break;
      }
      default:
        throw std::invalid_argument(where + ": unknown operator kind");
    }
  }
  for (int h : heads_)
    if (!entry_ok(h)) throw std::invalid_argument("bad head entry " + std::to_string(h));
  // Which entries carry a gradient: arguments that ask for one, and every operator output on a
  // path from such an argument (labels of loss operators never get one).
  needs_grad_.assign(entries_.size(), 0);
  for (int e = 0; e < ne; ++e)
    needs_grad_[e] = entries_[e].is_argument && entries_[e].grad_req != Req::kNull;
  for (const Node& node : nodes_) {
    const std::size_t used = is_loss(node.kind) ? 1 : node.inputs.size();
    for (std::size_t i = 0; i < used; ++i)
      if (needs_grad_[node.inputs[i]]) needs_grad_[node.output] = 1;
  }
  grad_store_.assign(entries_.size(), {});
  mask_store_.assign(nodes_.size(), {});
  std::int64_t max_dropout = 0;
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    if (needs_grad_[node.output] && !is_loss(node.kind))
      grad_store_[node.output].resize(static_cast<std::size_t>(size_[node.output]) * elem);
    if (node.kind == OpKind::kDropout) {
      mask_store_[n].resize(static_cast<std::size_t>(size_[node.output]) * elem);
      max_dropout = std::max(max_dropout, size_[node.output]);
    }
  }
  uniform_.resize(static_cast<std::size_t>(max_dropout));
  written_.assign(entries_.size(), 0);
}

bool Executor::head_needs_grad(std::size_t i) const {
  const int e = heads_.at(i);
  const int p = producer_[e];
  if (p >= 0 && is_loss(nodes_[p].kind)) return false;
  return needs_grad_[e] != 0;
}

void Executor::forward(bool is_train) {
  if (dtype_ == DType::kFloat32) forward_impl<float>(is_train);
  else forward_impl<double>(is_train);
}

void Executor::backward(const std::vector<const void*>& head_grads) {
  if (head_grads.size() != heads_.size())
    throw std::invalid_argument("backward: " + std::to_string(head_grads.size()) +
                                " head gradients for " + std::to_string(heads_.size()) + " outputs");
  for (std::size_t i = 0; i < heads_.size(); ++i)
    if (head_needs_grad(i) && !head_grads[i])
      throw std::invalid_argument(
          "backward: output " + std::to_string(i) +
          " is not a loss output and needs a head gradient (the last operator is not Loss "
          "function, head_gradient is required)");
  if (dtype_ == DType::kFloat32) backward_impl<float>(head_grads);
  else backward_impl<double>(head_grads);
}

template <class T>
void Executor::forward_impl(bool is_train) {
  auto ptr = [&](int e) { return static_cast<T*>(entries_[e].data); };
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    const auto& p = node.params;
    const int out = node.output;
    const T* x = ptr(node.inputs[0]);
    const auto& dshape = entries_[node.inputs[0]].shape;
    switch (node.kind) {
      case OpKind::kFullyConnected: {
        const std::int64_t k = p.flatten ? prod(dshape, 1) : dshape.back();
        const std::int64_t m = fc_rows(dshape, p.flatten);
        ops::fully_connected_forward<T>(x, ptr(node.inputs[1]), p.no_bias ? nullptr : ptr(node.inputs[2]),
                                        ptr(out), m, k, p.num_hidden);
        break;
      }
      case OpKind::kActivation:
        ops::activation_forward<T>(p.act_type, x, ptr(out), size_[out]);
        break;
      case OpKind::kDropout: {
        T* mask = reinterpret_cast<T*>(mask_store_[n].data());
        const std::int64_t size = size_[out];
        if ((is_train || p.dropout_always) && p.p > 0.0f) {
          for (std::int64_t i = 0; i < size; ++i)
            uniform_[i] = static_cast<float>(rng_() >> 8) * (1.0f / 16777216.0f);
          ops::dropout_forward<T>(p.p, uniform_.data(), x, ptr(out), mask, size);
        } else {
          std::fill(mask, mask + size, T(1));
          ops::assign<T>(x, ptr(out), Req::kWrite, size);
        }
        break;
      }
      case OpKind::kFlatten:
        ops::assign<T>(x, ptr(out), Req::kWrite, size_[out]);
        break;
      case OpKind::kSoftmaxOutput:
        ops::softmax_output_forward<T>(p.softmax, x, ptr(out), dshape);
        break;
      default:
        ops::regression_forward<T>(regression_type(node.kind), x, ptr(out), size_[out]);
    }
  }
}

template <class T>
void Executor::backward_impl(const std::vector<const void*>& head_grads) {
  auto ptr = [&](int e) { return static_cast<T*>(entries_[e].data); };
  auto grad = [&](int e) -> T* {
    return entries_[e].is_argument ? static_cast<T*>(entries_[e].grad)
                                   : reinterpret_cast<T*>(grad_store_[e].data());
  };
  std::fill(written_.begin(), written_.end(), 0);
  // The request for the next gradient contribution to entry e.
  auto req_for = [&](int e) -> Req {
    if (!needs_grad_[e]) return Req::kNull;
    Req r = written_[e] ? Req::kAdd : (entries_[e].is_argument ? entries_[e].grad_req : Req::kWrite);
    written_[e] = 1;
    return r;
  };
  for (std::size_t i = 0; i < heads_.size(); ++i) {
    if (!head_needs_grad(i)) continue;
    const int e = heads_[i];
    ops::assign<T>(static_cast<const T*>(head_grads[i]), grad(e), req_for(e), size_[e]);
  }
  for (std::size_t n = nodes_.size(); n-- > 0;) {
    const Node& node = nodes_[n];
    const int out = node.output;
    if (!needs_grad_[out]) continue;
    const auto& p = node.params;
    const T* gy = nullptr;
    if (!is_loss(node.kind)) {
      if (!written_[out]) {  // no consumer passed a gradient back: it is zero
        std::fill(grad(out), grad(out) + size_[out], T(0));
        written_[out] = 1;
      }
      gy = grad(out);
    }
    const int in0 = node.inputs[0];
    const auto& dshape = entries_[in0].shape;
    switch (node.kind) {
      case OpKind::kFullyConnected: {
        const std::int64_t k = p.flatten ? prod(dshape, 1) : dshape.back();
        const std::int64_t m = fc_rows(dshape, p.flatten);
        const Req rx = req_for(in0), rw = req_for(node.inputs[1]);
        const Req rb = p.no_bias ? Req::kNull : req_for(node.inputs[2]);
        ops::fully_connected_backward<T>(gy, ptr(in0), ptr(node.inputs[1]), m, k, p.num_hidden,
                                         grad(in0), rx, grad(node.inputs[1]), rw,
                                         p.no_bias ? nullptr : grad(node.inputs[2]), rb);
        break;
      }
      case OpKind::kActivation:
        ops::activation_backward<T>(p.act_type, gy, ptr(in0), ptr(out), grad(in0), req_for(in0), size_[out]);
        break;
      case OpKind::kDropout:
        ops::dropout_backward<T>(gy, reinterpret_cast<const T*>(mask_store_[n].data()), grad(in0),
                                 req_for(in0), size_[out]);
        break;
      case OpKind::kFlatten:
        ops::assign<T>(gy, grad(in0), req_for(in0), size_[out]);
        break;
      case OpKind::kSoftmaxOutput:
        ops::softmax_output_backward<T>(p.softmax, ptr(out), ptr(node.inputs[1]), dshape,
                                        entries_[node.inputs[1]].shape, grad(in0), req_for(in0));
        break;
      default:
        ops::regression_backward<T>(regression_type(node.kind), p.grad_scale, ptr(out),
                                    ptr(node.inputs[1]), size_[out],
                                    entries_[node.inputs[1]].shape[0], grad(in0), req_for(in0));
    }
  }
  // 'write' arguments that received no gradient at all (e.g. labels bound with grad_req
  // 'write') read as zero, as in MXNet.
  for (std::size_t e = 0; e < entries_.size(); ++e) {
    const Entry& en = entries_[e];
    if (en.is_argument && en.grad_req == Req::kWrite && en.grad && !written_[e])
      std::fill(static_cast<T*>(en.grad), static_cast<T*>(en.grad) + size_[e], T(0));
  }
}

template void Executor::forward_impl<float>(bool);
template void Executor::forward_impl<double>(bool);
template void Executor::backward_impl<float>(const std::vector<const void*>&);
template void Executor::backward_impl<double>(const std::vector<const void*>&);

}  // namespace mxopt::graph
