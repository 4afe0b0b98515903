// Geometry of a matmul unit (int8 or float): A [..., K] times B [K, N] (+ bias [N]) gives Y [..., N]; the leading
// dims of A are flattened into the I rows of one accelerator matmul.
#pragma once

#include <cstdint>
#include <vector>

namespace rcnn::ort {

struct MatmulCall {
  int64_t I = 0, J = 0, K = 0;
  std::vector<int64_t> output_dims;
  bool empty = false;  // I == 0 or N == 0: the output has no elements
};

// Throws std::invalid_argument on rank or size mismatches (K == 0 included: the accelerator needs K >= 1).
MatmulCall plan_matmul(const std::vector<int64_t>& a, const std::vector<int64_t>& b, const std::vector<int64_t>* bias);

}  // namespace rcnn::ort
