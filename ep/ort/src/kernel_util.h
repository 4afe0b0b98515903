// Small checks shared by the kernels. All throw std::invalid_argument (reported as ORT_INVALID_ARGUMENT with the
// node named in front).
#pragma once

#include <cstdint>
#include <vector>

#include "dims.h"  // element_count, format_dims
#include "ort_glue.h"

namespace rcnn::ort {

// Input `index` (called `name` in messages); throws when it is absent.
InputTensor required_input(const KernelIo& io, size_t index, const char* name);

// A float attribute that must be finite and > 0 (a quantization scale).
float positive_scale(const AttributeReader& attrs, const char* name);
// A derived float (multiplier, ratio) that must be finite; `what` describes it, e.g. "(x_scale * w_scale) / y_scale".
float finite_derived(float value, const char* what);
// A 0/1 flag attribute.
// (in_scale * w_scale) / out_scale from three positive float attributes, formed as the accelerator forms it
// (systolic::make_multiplier); the error names the attributes.
float scale_multiplier(const AttributeReader& attrs, const char* in_scale, const char* w_scale, const char* out_scale);

bool flag(const AttributeReader& attrs, const char* name);
// An int list attribute with exactly `count` values, each >= `min` (default when absent).
std::vector<int64_t> int_list(const AttributeReader& attrs, const char* name, const std::vector<int64_t>& fallback,
                              int64_t min);

}  // namespace rcnn::ort
