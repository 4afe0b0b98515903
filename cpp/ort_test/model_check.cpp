#include "model_check.h"

#include <optional>
#include <utility>

#include "errors.h"
#include "external_data.h"
#include "file_io.h"
#include "tensor_check.h"

namespace ort_test {
namespace {

// Field numbers of the messages on the way to a TensorProto (onnx/onnx.proto).
namespace model_field {
constexpr uint32_t kGraph = 7;
constexpr uint32_t kTrainingInfo = 20;
constexpr uint32_t kFunctions = 25;
}  // namespace model_field
namespace training_field {
constexpr uint32_t kInitialization = 1;
constexpr uint32_t kAlgorithm = 2;
}  // namespace training_field
namespace function_field {
constexpr uint32_t kName = 1;
constexpr uint32_t kNode = 7;
constexpr uint32_t kAttributeProto = 11;  // default values of the function's attributes
}  // namespace function_field
namespace graph_field {
constexpr uint32_t kNode = 1;
constexpr uint32_t kInitializer = 5;
constexpr uint32_t kInput = 11;
constexpr uint32_t kSparseInitializer = 15;
}  // namespace graph_field
namespace node_field {
constexpr uint32_t kName = 3;
constexpr uint32_t kOpType = 4;
constexpr uint32_t kAttribute = 5;
}  // namespace node_field
namespace attribute_field {
constexpr uint32_t kName = 1;
constexpr uint32_t kTensor = 5;
constexpr uint32_t kGraph = 6;
constexpr uint32_t kTensors = 10;
constexpr uint32_t kGraphs = 11;
constexpr uint32_t kSparseTensor = 22;
constexpr uint32_t kSparseTensors = 23;
}  // namespace attribute_field
namespace sparse_field {
constexpr uint32_t kValues = 1;
constexpr uint32_t kIndices = 2;
constexpr uint32_t kDims = 3;
}  // namespace sparse_field
namespace value_info_field {
constexpr uint32_t kName = 1;
constexpr uint32_t kType = 2;
}  // namespace value_info_field
namespace type_field {
constexpr uint32_t kTensorType = 1;  // the other members of TypeProto's `value` oneof:
constexpr uint32_t kOtherValues[] = {4, 5, 7, 8, 9};  // sequence, map, opaque, sparse tensor, optional
constexpr uint32_t kTensorShape = 2;  // in TypeProto.Tensor
}  // namespace type_field

std::string as_string(ByteView bytes) { return std::string(reinterpret_cast<const char*>(bytes.data), bytes.size); }

bool is_other_type_value(uint32_t field) {
  for (uint32_t other : type_field::kOtherValues) {
    if (field == other) return true;
  }
  return false;
}

bool has_field(ByteView message, uint32_t field) {
  WireReader reader(message);
  while (!reader.at_end()) {
    const WireTag tag = reader.read_tag();
    reader.skip_field(tag);
    if (tag.field == field) return true;
  }
  return false;
}

// True when a TypeProto declares a tensor without a shape. `value` is a oneof: its last member wins, and the
// tensor_type occurrences since another member was set merge.
bool is_shapeless_tensor(ByteView type) {
  MergedMessage tensor_type;
  WireReader reader(type);
  while (!reader.at_end()) {
    const WireTag tag = reader.read_tag();
    if (tag.field == type_field::kTensorType) {
      tensor_type.add(reader.read_bytes_value(tag));
      continue;
    }
    if (is_other_type_value(tag.field)) tensor_type.clear();
    reader.skip_field(tag);
  }
  return tensor_type.present() && !has_field(tensor_type.bytes(), type_field::kTensorShape);
}

// The name of a graph input (ValueInfoProto) if it is a tensor without a shape.
std::optional<std::string> shapeless_input_name(ByteView value_info) {
  std::string name;
  MergedMessage type;
  WireReader reader(value_info);
  while (!reader.at_end()) {
    const WireTag tag = reader.read_tag();
    if (tag.field == value_info_field::kName) {
      name = as_string(reader.read_bytes_value(tag));
    } else if (tag.field == value_info_field::kType) {
      type.add(reader.read_bytes_value(tag));
    } else {
      reader.skip_field(tag);
    }
  }
  if (type.present() && is_shapeless_tensor(type.bytes())) return name;
  return std::nullopt;
}

// Visits every TensorProto of a model. Graph-valued fields are walked once per occurrence: protobuf merges
// repeated occurrences of a singular graph, which only unions their nodes and initializers, so each is seen either
// way. Singular tensor-valued fields are merged first (MergedMessage), as ORT will see them.
class ModelWalker {
 public:
  ModelWalker(std::string model_path, TensorRules rules)
      : model_path_(std::move(model_path)), rules_(std::move(rules)) {}

  ModelCheck walk(ByteView model) {
    ModelCheck result;
    bool has_graph = false;
    WireReader reader(model);
    while (!reader.at_end()) {
      const WireTag tag = reader.read_tag();
      switch (tag.field) {
        case model_field::kGraph:
          has_graph = true;
          walk_graph(reader.read_bytes_value(tag), 1, &result.shapeless_inputs);
          break;
        case model_field::kTrainingInfo: walk_training_info(reader.read_bytes_value(tag)); break;
        case model_field::kFunctions: walk_function(reader.read_bytes_value(tag)); break;
        default: reader.skip_field(tag); break;
      }
    }
    if (!has_graph) throw WireError("not an ONNX model (no graph)");
    return result;
  }

 private:
  // `shapeless_inputs` is set for the main graph only: subgraph inputs are not fed by ort_test.
  void walk_graph(ByteView graph, int depth, std::vector<std::string>* shapeless_inputs) {
    if (depth > kMaxGraphDepth) {
      throw RefusedInput("model '" + model_path_ + "' nests subgraphs more than " + std::to_string(kMaxGraphDepth) +
                         " levels deep");
    }
    WireReader reader(graph);
    while (!reader.at_end()) {
      const WireTag tag = reader.read_tag();
      switch (tag.field) {
        case graph_field::kNode: walk_node(reader.read_bytes_value(tag), "", depth); break;
        case graph_field::kInitializer: check_tensor(reader.read_bytes_value(tag), "an initializer"); break;
        case graph_field::kSparseInitializer:
          walk_sparse_tensor(reader.read_bytes_value(tag), "a sparse initializer");
          break;
        case graph_field::kInput: {
          const ByteView input = reader.read_bytes_value(tag);
          if (!shapeless_inputs) break;
          if (std::optional<std::string> name = shapeless_input_name(input)) shapeless_inputs->push_back(*name);
          break;
        }
        default: reader.skip_field(tag); break;
      }
    }
  }

  // `scope` follows the node's label in messages: "" in a graph, " in function 'f'" in a function body.
  void walk_node(ByteView node, const std::string& scope, int depth) {
    std::string name;
    std::string op_type;
    std::vector<ByteView> attributes;
    WireReader reader(node);
    while (!reader.at_end()) {
      const WireTag tag = reader.read_tag();
      switch (tag.field) {
        case node_field::kName: name = as_string(reader.read_bytes_value(tag)); break;
        case node_field::kOpType: op_type = as_string(reader.read_bytes_value(tag)); break;
        case node_field::kAttribute: attributes.push_back(reader.read_bytes_value(tag)); break;
        default: reader.skip_field(tag); break;
      }
    }
    const std::string owner = (name.empty() ? "an unnamed " + op_type + " node" : "node '" + name + "'") + scope;
    for (const ByteView& attribute : attributes) walk_attribute(attribute, owner, depth);
  }

  void walk_attribute(ByteView attribute, const std::string& owner, int depth) {
    std::string name;
    MergedMessage tensor;
    MergedMessage sparse_tensor;
    std::vector<ByteView> tensors;
    std::vector<ByteView> sparse_tensors;
    std::vector<ByteView> graphs;
    WireReader reader(attribute);
    while (!reader.at_end()) {
      const WireTag tag = reader.read_tag();
      switch (tag.field) {
        case attribute_field::kName: name = as_string(reader.read_bytes_value(tag)); break;
        case attribute_field::kTensor: tensor.add(reader.read_bytes_value(tag)); break;
        case attribute_field::kTensors: tensors.push_back(reader.read_bytes_value(tag)); break;
        case attribute_field::kSparseTensor: sparse_tensor.add(reader.read_bytes_value(tag)); break;
        case attribute_field::kSparseTensors: sparse_tensors.push_back(reader.read_bytes_value(tag)); break;
        case attribute_field::kGraph:
        case attribute_field::kGraphs: graphs.push_back(reader.read_bytes_value(tag)); break;
        default: reader.skip_field(tag); break;
      }
    }
    const std::string where = "attribute '" + name + "' of " + owner;
    if (tensor.present()) check_tensor(tensor.bytes(), where);
    for (const ByteView& each : tensors) check_tensor(each, where);
    if (sparse_tensor.present()) walk_sparse_tensor(sparse_tensor.bytes(), where);
    for (const ByteView& each : sparse_tensors) walk_sparse_tensor(each, where);
    for (const ByteView& graph : graphs) walk_graph(graph, depth + 1, nullptr);
  }

  void walk_sparse_tensor(ByteView sparse, const std::string& where) {
    MergedMessage values;
    MergedMessage indices;
    std::vector<uint64_t> dims;
    WireReader reader(sparse);
    while (!reader.at_end()) {
      const WireTag tag = reader.read_tag();
      switch (tag.field) {
        case sparse_field::kValues: values.add(reader.read_bytes_value(tag)); break;
        case sparse_field::kIndices: indices.add(reader.read_bytes_value(tag)); break;
        case sparse_field::kDims: reader.append_varints(tag, dims); break;
        default: reader.skip_field(tag); break;
      }
    }
    const TensorDeclaration declared = check_tensor(values.bytes(), "values of a sparse tensor in " + where);
    if (indices.present()) check_tensor(indices.bytes(), "indices of sparse " + declared.label);
    // ORT turns sparse initializers into dense tensors of `dims`: that size must be within the limit too.
    std::vector<int64_t> dense_dims;
    for (uint64_t dim : dims) dense_dims.push_back(static_cast<int64_t>(dim));  // two's complement int64
    check_declared_size("sparse " + declared.label, dense_dims, declared.onnx_type, rules_.max_tensor_bytes);
  }

  void walk_function(ByteView function) {
    std::string name;
    std::vector<ByteView> nodes;
    std::vector<ByteView> default_attributes;
    WireReader reader(function);
    while (!reader.at_end()) {
      const WireTag tag = reader.read_tag();
      switch (tag.field) {
        case function_field::kName: name = as_string(reader.read_bytes_value(tag)); break;
        case function_field::kNode: nodes.push_back(reader.read_bytes_value(tag)); break;
        case function_field::kAttributeProto: default_attributes.push_back(reader.read_bytes_value(tag)); break;
        default: reader.skip_field(tag); break;
      }
    }
    const std::string scope = " in function '" + name + "'";
    for (const ByteView& node : nodes) walk_node(node, scope, 1);
    for (const ByteView& attribute : default_attributes) walk_attribute(attribute, "function '" + name + "'", 1);
  }

  // Training graphs are not run by ort_test, but they are part of the file ORT parses.
  void walk_training_info(ByteView info) {
    WireReader reader(info);
    while (!reader.at_end()) {
      const WireTag tag = reader.read_tag();
      if (tag.field == training_field::kInitialization || tag.field == training_field::kAlgorithm) {
        walk_graph(reader.read_bytes_value(tag), 1, nullptr);
      } else {
        reader.skip_field(tag);
      }
    }
  }

  TensorDeclaration check_tensor(ByteView tensor, const std::string& where) {
    return check_tensor_proto(tensor, where, rules_);
  }

  std::string model_path_;
  TensorRules rules_;
};

}  // namespace

ModelCheck check_model_bytes(ByteView bytes, const std::string& model_path, const Limits& limits) {
  TensorRules rules;
  rules.model_folder = canonical_model_folder(model_path);
  rules.max_tensor_bytes = limits.max_tensor_bytes;
  try {
    return ModelWalker(model_path, std::move(rules)).walk(bytes);
  } catch (const WireError& e) {
    throw RefusedInput("cannot read model '" + model_path + "': " + e.what());
  }
}

ModelCheck check_model_file(const std::string& model_path, const Limits& limits) {
  const std::vector<uint8_t> bytes = read_file(model_path);
  return check_model_bytes(ByteView{bytes.data(), bytes.size()}, model_path, limits);
}

}  // namespace ort_test
