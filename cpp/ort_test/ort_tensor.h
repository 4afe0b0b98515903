// Conversions between ort_test's Tensor and Ort::Value.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <string>
#include <vector>

#include "tensor.h"

namespace ort_test {

// An Ort::Value that borrows `tensor`'s buffer (no copy): `tensor` must outlive the value and stay unmodified.
Ort::Value borrow_as_ort_value(const Ort::MemoryInfo& cpu, Tensor& tensor);

// Copies a CPU tensor output into a Tensor named `name`; throws for non-tensors and unsupported dtypes.
Tensor copy_from_ort_value(const Ort::Value& value, const std::string& name);

}  // namespace ort_test
