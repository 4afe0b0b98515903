#include "kernel_util.h"

#include "systolic/numerics.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace rcnn::ort {

InputTensor required_input(const KernelIo& io, size_t index, const char* name) {
  std::optional<InputTensor> tensor = io.input(index);
  if (!tensor) throw std::invalid_argument(std::string("input ") + name + " is missing");
  return std::move(*tensor);
}

float positive_scale(const AttributeReader& attrs, const char* name) {
  const float value = attrs.required_float(name);
  if (!std::isfinite(value) || !(value > 0.0f)) {
    throw std::invalid_argument(std::string("attribute ") + name + " must be a finite positive float, got " +
                                std::to_string(value));
  }
  return value;
}

float finite_derived(float value, const char* what) {
  if (!std::isfinite(value)) {
    throw std::invalid_argument(std::string(what) + " is not a finite float32 (" + std::to_string(value) + ")");
  }
  return value;
}

float scale_multiplier(const AttributeReader& attrs, const char* in_scale, const char* w_scale, const char* out_scale) {
  const float m = systolic::make_multiplier(positive_scale(attrs, in_scale), positive_scale(attrs, w_scale),
                                            positive_scale(attrs, out_scale));
  const std::string what = std::string("(") + in_scale + " * " + w_scale + ") / " + out_scale;
  return finite_derived(m, what.c_str());
}

bool flag(const AttributeReader& attrs, const char* name) {
  const int64_t value = attrs.int_or(name, 0);
  if (value != 0 && value != 1) {
    throw std::invalid_argument(std::string("attribute ") + name + " must be 0 or 1, got " + std::to_string(value));
  }
  return value == 1;
}

std::vector<int64_t> int_list(const AttributeReader& attrs, const char* name, const std::vector<int64_t>& fallback,
                              int64_t min) {
  std::vector<int64_t> values = attrs.ints_or(name, fallback);
  bool ok = values.size() == fallback.size();
  for (int64_t v : values) ok = ok && v >= min;
  if (!ok) {
    throw std::invalid_argument(std::string("attribute ") + name + " must hold " + std::to_string(fallback.size()) +
                                " integers >= " + std::to_string(min) + ", got " + format_dims(values));
  }
  return values;
}

}  // namespace rcnn::ort
