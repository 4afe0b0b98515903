// Numbers for the console summary of a tensor, and the timing statistics of repeated runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor.h"

namespace ort_test {

struct TensorStats {
  size_t count = 0;      // elements
  size_t non_finite = 0; // NaN/inf elements, left out of min/max/mean
  double min = 0.0;      // over the finite elements; 0 when there are none
  double max = 0.0;
  double mean = 0.0;
};

// Statistics of any supported dtype (bool counts as 0/1, float16 is widened). int64/uint64 values beyond 2^53
// lose precision in the double result, which is fine for a summary.
TensorStats compute_stats(const Tensor& tensor);

// IEEE half-precision bits to float (exact: every half is a float).
float half_to_float(uint16_t bits);

// Minimum and median (mean of the middle two for an even count) of a non-empty list.
double min_of(const std::vector<double>& values);
double median_of(std::vector<double> values);

}  // namespace ort_test
