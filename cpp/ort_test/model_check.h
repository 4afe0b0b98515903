// An ONNX model file checked before ONNX Runtime loads it, by walking its protobuf with our own wire-format code
// (no protobuf library): every TensorProto anywhere in it (graph initializers, sparse initializers, node
// attributes, subgraphs of If/Loop/Scan, functions, training graphs) goes through check_tensor_proto
// (tensor_check.h), so a model cannot make ORT read files outside its folder or allocate more than the limit.
// The walk also reports which graph inputs declare no shape, which ORT's C API cannot tell from scalars.
#pragma once

#include <string>
#include <vector>

#include "protobuf_wire.h"
#include "size_limits.h"

namespace ort_test {

struct ModelCheck {
  // Tensor inputs of the main graph declared without a shape (unknown rank), in graph order.
  std::vector<std::string> shapeless_inputs;
};

// Subgraphs (attributes of type GRAPH) nested deeper than this are refused: the walk recurses once per level.
inline constexpr int kMaxGraphDepth = 64;

// `model_path` is the path as ORT will be given it: external data resolves against its folder. Throws
// RefusedInput naming the first problem: "cannot read model '<path>': ..." for bytes that are not an ONNX model.
ModelCheck check_model_bytes(ByteView bytes, const std::string& model_path, const Limits& limits);

// check_model_bytes on the file's contents; an unreadable file is a plain std::runtime_error.
ModelCheck check_model_file(const std::string& model_path, const Limits& limits);

}  // namespace ort_test
