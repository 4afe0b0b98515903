// A plain C++ copy of what the placement rules need from an ONNX Runtime graph: nodes (op, domain, inputs,
// outputs, attributes), tensors (element type, dims, constant data, producer, consumers). Built from an OrtGraph
// by ort_graph.cpp; the C++ unit tests build it by hand. No ORT types here.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace rcnn::ep {

// ONNX TensorProto element types used here (same values as ONNXTensorElementDataType).
enum ElemType : int32_t { kUndefined = 0, kFloat = 1, kUint8 = 2, kInt8 = 3, kInt32 = 6 };
const char* elem_type_name(int32_t elem) noexcept;

struct Attr {
  enum Kind { Int, Ints, Float, Floats, String, Other } kind = Other;
  int64_t i = 0;
  std::vector<int64_t> ints;
  float f = 0.0f;
  std::vector<float> floats;
  std::string s;
};

struct TensorInfo {
  int32_t elem = kUndefined;
  bool has_shape = false;
  std::vector<int64_t> dims;          // -1: symbolic / unknown
  bool is_const = false;              // a constant initializer (data below)
  std::vector<unsigned char> data;    // raw little-endian bytes of a constant
  int producer = -1;                  // node index, -1 for graph inputs and initializers
  std::vector<int> consumers;         // node indices (a node consuming it twice appears twice)
  bool graph_output = false;

  int64_t numel() const noexcept {    // -1 when unknown
    if (!has_shape) return -1;
    int64_t n = 1;
    for (int64_t d : dims) {
      if (d < 0) return -1;
      n *= d;
    }
    return n;
  }
  bool known_shape() const noexcept { return numel() >= 0; }
  template <typename T>
  std::vector<T> values() const {     // the constant's elements (empty when not a constant)
    std::vector<T> out(data.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), data.data(), out.size() * sizeof(T));
    return out;
  }
};

struct NodeInfo {
  std::string name, op, domain;       // domain "" = ai.onnx
  int since_version = 0;
  std::vector<std::string> inputs;    // "" for a missing optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attr> attrs;

  const Attr* attr(const std::string& key) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? nullptr : &it->second;
  }
  int64_t attr_int(const std::string& key, int64_t dflt) const {
    const Attr* a = attr(key);
    return a != nullptr && a->kind == Attr::Int ? a->i : dflt;
  }
  float attr_float(const std::string& key, float dflt) const {
    const Attr* a = attr(key);
    return a != nullptr && a->kind == Attr::Float ? a->f : dflt;
  }
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> dflt) const {
    const Attr* a = attr(key);
    return a != nullptr && a->kind == Attr::Ints ? a->ints : dflt;
  }
  std::string attr_string(const std::string& key, const std::string& dflt) const {
    const Attr* a = attr(key);
    return a != nullptr && a->kind == Attr::String ? a->s : dflt;
  }
  std::string input(size_t i) const { return i < inputs.size() ? inputs[i] : std::string(); }
  std::string label() const { return op + " '" + name + "'"; }
};

struct GraphModel {
  std::vector<NodeInfo> nodes;
  std::map<std::string, TensorInfo> tensors;

  const TensorInfo* tensor(const std::string& name) const {
    if (name.empty()) return nullptr;
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
  }
  // The single node consuming `name` when there is exactly one consumer and it is not a graph output, else -1.
  int sole_consumer(const std::string& name) const {
    const TensorInfo* t = tensor(name);
    if (t == nullptr || t->graph_output || t->consumers.size() != 1) return -1;
    return t->consumers[0];
  }
  int producer(const std::string& name) const {
    const TensorInfo* t = tensor(name);
    return t == nullptr ? -1 : t->producer;
  }
  // Fills producer / consumers of every tensor from the nodes (tensors referenced but absent get a default entry).
  void link();
  // Node indices in a topological order (nodes of a cycle, which a valid graph has not, are appended last).
  std::vector<int> topological_order() const;
};

}  // namespace rcnn::ep
