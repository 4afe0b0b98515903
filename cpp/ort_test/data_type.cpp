#include "data_type.h"

namespace ort_test {

std::optional<DataType> data_type_from_onnx(int32_t onnx_type) {
  switch (onnx_type) {
    case 1: return DataType::kFloat32;
    case 2: return DataType::kUint8;
    case 3: return DataType::kInt8;
    case 4: return DataType::kUint16;
    case 5: return DataType::kInt16;
    case 6: return DataType::kInt32;
    case 7: return DataType::kInt64;
    case 9: return DataType::kBool;
    case 10: return DataType::kFloat16;
    case 11: return DataType::kFloat64;
    case 12: return DataType::kUint32;
    case 13: return DataType::kUint64;
    default: return std::nullopt;
  }
}

size_t element_size(DataType type) {
  switch (type) {
    case DataType::kUint8:
    case DataType::kInt8:
    case DataType::kBool: return 1;
    case DataType::kUint16:
    case DataType::kInt16:
    case DataType::kFloat16: return 2;
    case DataType::kFloat32:
    case DataType::kInt32:
    case DataType::kUint32: return 4;
    case DataType::kInt64:
    case DataType::kUint64:
    case DataType::kFloat64: return 8;
  }
  return 0;  // unreachable: every enumerator is handled above
}

std::optional<uint32_t> onnx_element_bits(int32_t onnx_type) {
  if (auto type = data_type_from_onnx(onnx_type)) return static_cast<uint32_t>(8 * element_size(*type));
  switch (onnx_type) {
    case 14: return 64;   // complex64
    case 15: return 128;  // complex128
    case 16: return 16;   // bfloat16
    case 17:              // float8e4m3fn
    case 18:              // float8e4m3fnuz
    case 19:              // float8e5m2
    case 20:              // float8e5m2fnuz
    case 24: return 8;    // float8e8m0
    case 21:              // uint4
    case 22:              // int4
    case 23: return 4;    // float4e2m1
    default: return std::nullopt;
  }
}

const char* data_type_name(DataType type) {
  switch (type) {
    case DataType::kFloat32: return "float32";
    case DataType::kUint8: return "uint8";
    case DataType::kInt8: return "int8";
    case DataType::kUint16: return "uint16";
    case DataType::kInt16: return "int16";
    case DataType::kInt32: return "int32";
    case DataType::kInt64: return "int64";
    case DataType::kBool: return "bool";
    case DataType::kFloat16: return "float16";
    case DataType::kFloat64: return "float64";
    case DataType::kUint32: return "uint32";
    case DataType::kUint64: return "uint64";
  }
  return "?";  // unreachable
}

std::string describe_onnx_type(int32_t onnx_type) {
  if (auto type = data_type_from_onnx(onnx_type)) return data_type_name(*type);
  switch (onnx_type) {
    case 0: return "undefined";
    case kOnnxStringType: return "string";
    case 14: return "complex64";
    case 15: return "complex128";
    case 16: return "bfloat16";
    case 17: return "float8e4m3fn";
    case 18: return "float8e4m3fnuz";
    case 19: return "float8e5m2";
    case 20: return "float8e5m2fnuz";
    case 21: return "uint4";
    case 22: return "int4";
    case 23: return "float4e2m1";
    case 24: return "float8e8m0";
    default: return "type " + std::to_string(onnx_type);
  }
}

}  // namespace ort_test
