// onnx.TensorProto (the ONNX test-data format, e.g. input_0.pb) read and written with our own wire-format code.
//
// Read: dims (1), data_type (2), float_data (4), int32_data (5), int64_data (7), name (8), raw_data (9),
// double_data (10), uint64_data (11), each repeated field packed or not; every other field is skipped. Values come
// from raw_data if present, else from the typed field ONNX assigns to the dtype (int32_data also carries int8,
// uint8, int16, uint16, bool and float16 bits; uint64_data carries uint32). String, external and segmented
// tensors are rejected.
// Write: dims, data_type, name, raw_data (little-endian), which onnx.numpy_helper.to_array reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protobuf_wire.h"
#include "tensor.h"

namespace ort_test {

// Throws std::runtime_error (WireError for malformed bytes) describing the first problem found.
Tensor parse_tensor_proto(ByteView bytes);

std::vector<uint8_t> serialize_tensor_proto(const Tensor& tensor);

// File wrappers; errors name the file.
Tensor read_tensor_proto_file(const std::string& path);
void write_tensor_proto_file(const std::string& path, const Tensor& tensor);

}  // namespace ort_test
