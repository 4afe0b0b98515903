#include "ort_tensor.h"

#include <stdexcept>

namespace ort_test {

Ort::Value borrow_as_ort_value(const Ort::MemoryInfo& cpu, Tensor& tensor) {
  // ORT rejects a null data pointer even for zero elements; reserving gives an empty vector a real buffer.
  tensor.data.reserve(1);
  return Ort::Value::CreateTensor(cpu, tensor.data.data(), tensor.data.size(), tensor.dims.data(), tensor.dims.size(),
                                  static_cast<ONNXTensorElementDataType>(tensor.dtype));
}

Tensor copy_from_ort_value(const Ort::Value& value, const std::string& name) {
  if (!value.IsTensor()) throw std::runtime_error("output '" + name + "' is not a tensor; ort_test writes only tensors");
  const auto info = value.GetTensorTypeAndShapeInfo();
  const auto onnx_type = static_cast<int32_t>(info.GetElementType());
  const auto dtype = data_type_from_onnx(onnx_type);
  if (!dtype) {
    throw std::runtime_error("output '" + name + "' has dtype " + describe_onnx_type(onnx_type) +
                             ", which ort_test does not support");
  }
  Tensor tensor;
  tensor.name = name;
  tensor.dtype = *dtype;
  tensor.dims = info.GetShape();
  const size_t bytes = byte_count(tensor.dims, tensor.dtype);
  if (bytes != 0) {
    const auto* data = static_cast<const uint8_t*>(value.GetTensorRawData());
    tensor.data.assign(data, data + bytes);
  }
  return tensor;
}

}  // namespace ort_test
