#include "tensor.h"

#include <cstring>
#include <limits>
#include <stdexcept>

namespace ort_test {

size_t element_count(const std::vector<int64_t>& dims) {
  size_t count = 1;
  for (int64_t dim : dims) {
    if (dim < 0) throw std::runtime_error("negative dimension " + std::to_string(dim) + " in shape " + format_dims(dims));
    const auto d = static_cast<uint64_t>(dim);
    if (d != 0 && count > std::numeric_limits<size_t>::max() / d) {
      throw std::runtime_error("shape " + format_dims(dims) + " has too many elements");
    }
    count *= static_cast<size_t>(d);
  }
  return count;
}

size_t byte_count(const std::vector<int64_t>& dims, DataType dtype) {
  const size_t count = element_count(dims);
  const size_t size = element_size(dtype);
  if (count > std::numeric_limits<size_t>::max() / size) {
    throw std::runtime_error("shape " + format_dims(dims) + " is too large");
  }
  return count * size;
}

std::string format_dims(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i != 0) text += ",";
    text += std::to_string(dims[i]);
  }
  return text + "]";
}

Tensor make_float_tensor(std::string name, std::vector<int64_t> dims, const std::vector<float>& values) {
  Tensor tensor;
  tensor.name = std::move(name);
  tensor.dtype = DataType::kFloat32;
  tensor.dims = std::move(dims);
  tensor.data.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(tensor.data.data(), values.data(), tensor.data.size());
  return tensor;
}

}  // namespace ort_test
