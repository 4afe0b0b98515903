// Console-summary statistics, float16 widening and timing min/median.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "check.h"
#include "tensor_stats.h"

using namespace ort_test;

namespace {

template <typename T>
Tensor tensor_of(DataType dtype, const std::vector<T>& values) {
  Tensor tensor;
  tensor.dtype = dtype;
  tensor.dims = {static_cast<int64_t>(values.size())};
  tensor.data.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(tensor.data.data(), values.data(), tensor.data.size());
  return tensor;
}

void half_precision(test::Checker& t) {
  CHECK_EQ(half_to_float(0x3c00), 1.0f);
  CHECK_EQ(half_to_float(0xc000), -2.0f);
  CHECK_EQ(half_to_float(0x7bff), 65504.0f);
  CHECK_EQ(half_to_float(0x3555), 0.333251953125f);
  CHECK_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK_EQ(half_to_float(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
  CHECK_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  CHECK(std::signbit(half_to_float(0x8000)) && half_to_float(0x8000) == 0.0f);
  CHECK_EQ(half_to_float(0x7c00), std::numeric_limits<float>::infinity());
  CHECK_EQ(half_to_float(0xfc00), -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(half_to_float(0x7e00)));
}

void stats_per_dtype(test::Checker& t) {
  const TensorStats i8 = compute_stats(tensor_of<int8_t>(DataType::kInt8, {-128, 0, 127, 5}));
  CHECK_EQ(i8.count, size_t{4});
  CHECK_EQ(i8.min, -128.0);
  CHECK_EQ(i8.max, 127.0);
  CHECK_EQ(i8.mean, 1.0);
  const TensorStats b = compute_stats(tensor_of<uint8_t>(DataType::kBool, {1, 0, 1, 1}));
  CHECK_EQ(b.mean, 0.75);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const TensorStats f = compute_stats(tensor_of<float>(DataType::kFloat32, {nan, 2.0f, -1.0f, nan}));
  CHECK_EQ(f.non_finite, size_t{2});
  CHECK_EQ(f.min, -1.0);
  CHECK_EQ(f.max, 2.0);
  CHECK_EQ(f.mean, 0.5);
  const TensorStats h = compute_stats(tensor_of<uint16_t>(DataType::kFloat16, {0x3c00, 0xc000}));
  CHECK_EQ(h.min, -2.0);
  CHECK_EQ(h.max, 1.0);
  const TensorStats u64 = compute_stats(tensor_of<uint64_t>(DataType::kUint64, {UINT64_MAX}));
  CHECK_EQ(u64.max, 18446744073709551615.0);
  const TensorStats empty = compute_stats(tensor_of<double>(DataType::kFloat64, {}));
  CHECK_EQ(empty.count, size_t{0});
}

void timing_statistics(test::Checker& t) {
  CHECK_EQ(median_of({3.0}), 3.0);
  CHECK_EQ(median_of({5.0, 1.0, 3.0}), 3.0);
  CHECK_EQ(median_of({4.0, 1.0, 3.0, 10.0}), 3.5);
  CHECK_EQ(min_of({4.0, 1.0, 3.0}), 1.0);
  CHECK_THROWS(median_of({}), "no values");
}

}  // namespace

int main() {
  return test::run_tests("tensor_stats", {{"half_precision", half_precision},
                                          {"stats_per_dtype", stats_per_dtype},
                                          {"timing_statistics", timing_statistics}});
}
