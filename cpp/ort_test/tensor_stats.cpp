#include "tensor_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace ort_test {
namespace {

template <typename T>
T load(const uint8_t* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof(T));  // tensor bytes are host order (tensor.h)
  return value;
}

double element_as_double(DataType dtype, const uint8_t* p) {
  switch (dtype) {
    case DataType::kFloat32: return load<float>(p);
    case DataType::kFloat64: return load<double>(p);
    case DataType::kFloat16: return half_to_float(load<uint16_t>(p));
    case DataType::kInt8: return load<int8_t>(p);
    case DataType::kUint8: return load<uint8_t>(p);
    case DataType::kInt16: return load<int16_t>(p);
    case DataType::kUint16: return load<uint16_t>(p);
    case DataType::kInt32: return load<int32_t>(p);
    case DataType::kUint32: return load<uint32_t>(p);
    case DataType::kInt64: return static_cast<double>(load<int64_t>(p));
    case DataType::kUint64: return static_cast<double>(load<uint64_t>(p));
    case DataType::kBool: return load<uint8_t>(p) != 0 ? 1.0 : 0.0;
  }
  return 0.0;  // unreachable
}

}  // namespace

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits >> 15) << 31;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t out = 0;
  if (exponent == 0x1f) {
    out = sign | 0x7f800000u | (mantissa << 13);  // inf / NaN (payload kept)
  } else if (exponent != 0) {
    out = sign | ((exponent + 112u) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    out = sign;  // signed zero
  } else {
    // Subnormal half: normalise the mantissa into a normal float.
    uint32_t shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    out = sign | ((113u - shift) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float value;
  std::memcpy(&value, &out, sizeof value);
  return value;
}

TensorStats compute_stats(const Tensor& tensor) {
  TensorStats stats;
  const size_t size = element_size(tensor.dtype);
  stats.count = tensor.data.size() / size;
  double sum = 0.0;
  size_t finite = 0;
  for (size_t i = 0; i < stats.count; ++i) {
    const double v = element_as_double(tensor.dtype, tensor.data.data() + i * size);
    if (!std::isfinite(v)) {
      ++stats.non_finite;
      continue;
    }
    stats.min = finite == 0 ? v : std::min(stats.min, v);
    stats.max = finite == 0 ? v : std::max(stats.max, v);
    sum += v;
    ++finite;
  }
  stats.mean = finite == 0 ? 0.0 : sum / static_cast<double>(finite);
  return stats;
}

double min_of(const std::vector<double>& values) {
  if (values.empty()) throw std::invalid_argument("min_of: no values");
  return *std::min_element(values.begin(), values.end());
}

double median_of(std::vector<double> values) {
  if (values.empty()) throw std::invalid_argument("median_of: no values");
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2.0;
}

}  // namespace ort_test
