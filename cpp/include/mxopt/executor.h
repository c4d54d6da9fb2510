// A bound operator graph: runs forward and backward over preallocated, caller-owned buffers
// (the Python executor hands numpy buffers in; nothing is copied or allocated per call).
//
// Entries are the graph's values: arguments (data, labels, parameters) and operator outputs.
// Nodes list the operators in topological order. Gradients follow MXNet's rules: an argument
// gets a gradient when its grad_req is write/add; 'write' overwrites on every backward, 'add'
// accumulates across calls; an entry consumed several times receives the sum of its gradients.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "mxopt/ops.h"

namespace mxopt::graph {

enum class OpKind : int {
  kFullyConnected = 0,
  kActivation = 1,
  kDropout = 2,
  kFlatten = 3,
  kSoftmaxOutput = 4,
  kLinearRegressionOutput = 5,
  kLogisticRegressionOutput = 6,
  kMAERegressionOutput = 7,
};

struct OpParams {
  std::int64_t num_hidden = 1;  // FullyConnected
  bool no_bias = false;
  bool flatten = true;
  ops::ActType act_type = ops::ActType::kRelu;  // Activation
  float p = 0.5f;                               // Dropout
  bool dropout_always = false;                  //   mode='always': also at inference
  ops::SoftmaxOutputParam softmax;              // SoftmaxOutput
  float grad_scale = 1.0f;                      // regression outputs
};

struct Node {
  OpKind kind = OpKind::kFlatten;
  OpParams params;
  std::vector<int> inputs;  // entry ids, in the operator's input order
  int output = -1;          // entry id
};

struct Entry {
  void* data = nullptr;  // C-contiguous buffer of prod(shape) elements of the executor's dtype
  std::vector<std::int64_t> shape;
  bool is_argument = false;
  void* grad = nullptr;  // arguments only: gradient buffer (same shape), or null
  ops::Req grad_req = ops::Req::kNull;
};

enum class DType : int { kFloat32 = 0, kFloat64 = 1 };

bool is_loss(OpKind kind);

class Executor {
 public:
  // Validates the whole plan (std::invalid_argument naming the node and shapes) before
  // anything runs. `heads` are the entry ids of the outputs.
  Executor(DType dtype, std::vector<Entry> entries, std::vector<Node> nodes,
           std::vector<int> heads, std::uint64_t seed);

  void forward(bool is_train);
  // head_grads[i] is the gradient of heads[i] (same shape) or null. Loss heads ignore it; the
  // others need one when they lead to a gradient (std::invalid_argument otherwise).
  void backward(const std::vector<const void*>& head_grads);

  // True when heads[i] is not a loss output but some argument's gradient depends on it.
  bool head_needs_grad(std::size_t i) const;
  void seed(std::uint64_t s) { rng_.seed(s); }
  DType dtype() const { return dtype_; }

 private:
  template <class T>
  void forward_impl(bool is_train);
  template <class T>
  void backward_impl(const std::vector<const void*>& head_grads);
  void validate();

  DType dtype_;
  std::vector<Entry> entries_;
  std::vector<Node> nodes_;
  std::vector<int> heads_;
  std::vector<int> producer_;       // node id producing each entry, -1 for arguments
  std::vector<char> needs_grad_;    // per entry
  std::vector<std::int64_t> size_;  // elements per entry
  std::vector<std::vector<unsigned char>> grad_store_;  // internal gradients of op outputs
  std::vector<std::vector<unsigned char>> mask_store_;  // Dropout masks, per node
  std::vector<float> uniform_;                          // Dropout draws (workspace)
  std::vector<char> written_;
  std::mt19937 rng_;
};

}  // namespace mxopt::graph
