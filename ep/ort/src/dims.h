// Dimension helpers of the compiled chains and their call planning (conv_geometry / matmul_geometry); no ONNX
// Runtime dependency.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rcnn::ort {

// "[1,56,56,64]"
std::string format_dims(const std::vector<int64_t>& dims);

// Product of dims (0 when any dim is 0). Throws std::invalid_argument when a dim is negative or the product
// overflows; `name` names the tensor in the message.
int64_t element_count(const std::vector<int64_t>& dims, const char* name);

}  // namespace rcnn::ort
