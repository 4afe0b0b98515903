// Tensor element types, numbered as ONNX's TensorProto.DataType (ORT's ONNXTensorElementDataType uses the same
// numbers, so the two convert with a cast).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ort_test {

enum class DataType : int32_t {
  kFloat32 = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUint32 = 12,
  kUint64 = 13,
};

// The ONNX number of `string` tensors: named in errors, never supported.
constexpr int32_t kOnnxStringType = 8;

// The supported DataType with this ONNX number, or nullopt (string, bfloat16, float8, int4, complex, unknown).
std::optional<DataType> data_type_from_onnx(int32_t onnx_type);

// Bytes per element in raw_data / in an ORT tensor buffer.
size_t element_size(DataType type);

// Bits per element of any ONNX type with a fixed size, supported by ort_test or not (bfloat16 16, complex64 64,
// int4 4, ...); nullopt for string and unknown types. Sizes a model's tensors before ONNX Runtime loads them.
std::optional<uint32_t> onnx_element_bits(int32_t onnx_type);

// numpy's name for the type ("float32", "int8", "bool", ...): what outputs.json and the console report.
const char* data_type_name(DataType type);

// A readable name for any ONNX type number, supported or not ("bfloat16", "string", "type 42"), for messages.
std::string describe_onnx_type(int32_t onnx_type);

}  // namespace ort_test
