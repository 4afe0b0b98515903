// One onnx.TensorProto of a model, checked before ONNX Runtime loads it: its declared size (within the limit),
// its data (as many bytes or values as the dims declare) and, for external data, the file it points to
// (external_data.h). Reads only the wire format; the tensor's values are never copied.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "protobuf_wire.h"

namespace ort_test {

struct TensorRules {
  std::filesystem::path model_folder;  // canonical: external data must lie inside it
  uint64_t max_tensor_bytes = 0;       // Limits::max_tensor_bytes
};

// What the model's walk needs to know of a checked tensor.
struct TensorDeclaration {
  std::string label;       // how messages name it: "tensor 'W'"
  int32_t onnx_type = -1;  // its data_type (-1 when out of range)
};

// Throws RefusedInput naming the first problem (WireError for malformed bytes). `where` says where an unnamed
// tensor sits ("attribute 'value' of node 'c'"); messages use it only when the tensor has no name.
TensorDeclaration check_tensor_proto(ByteView bytes, const std::string& where, const TensorRules& rules);

// Refuses dims with a negative entry, or whose size in bytes (elements x element size; one byte per element for
// types without a fixed size, such as string) overflows 64 bits or exceeds max_tensor_bytes. Returns that size
// for types with a fixed element size, nullopt for the others.
std::optional<uint64_t> check_declared_size(const std::string& label, const std::vector<int64_t>& dims,
                                            int32_t onnx_type, uint64_t max_tensor_bytes);

}  // namespace ort_test
