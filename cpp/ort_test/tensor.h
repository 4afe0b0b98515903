// A dense tensor as ort_test moves it around: ONNX element type, shape and the element bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data_type.h"

namespace ort_test {

// TensorProto raw_data is little-endian and both targets (x86-64, riscv64) are too, so tensor bytes are handed
// to ORT and written to files unchanged. A big-endian port would have to byte-swap at those two places.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ort_test assumes a little-endian host");

struct Tensor {
  std::string name;
  DataType dtype = DataType::kFloat32;
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // element_count(dims) * element_size(dtype) bytes, host (= little-endian) order
};

// Number of elements of a shape; throws std::runtime_error for a negative dim or if the count overflows.
size_t element_count(const std::vector<int64_t>& dims);

// element_count(dims) * element_size(dtype); throws std::runtime_error on overflow.
size_t byte_count(const std::vector<int64_t>& dims, DataType dtype);

// "[1,3,16,16]"; a scalar is "[]".
std::string format_dims(const std::vector<int64_t>& dims);

// A float32 tensor holding `values` (copied); the caller makes sure values.size() matches dims.
Tensor make_float_tensor(std::string name, std::vector<int64_t> dims, const std::vector<float>& values);

}  // namespace ort_test
