#include "io_spec.h"

#include "data_type.h"

namespace ort_test {

std::string describe_io_spec(const IoSpec& spec) {
  if (!spec.is_tensor) return spec.kind + " (not a tensor)";
  std::string text = describe_onnx_type(spec.onnx_type) + " [";
  for (size_t i = 0; i < spec.dims.size(); ++i) {
    if (i != 0) text += ",";
    if (is_fixed_dim(spec, i)) {
      text += std::to_string(spec.dims[i]);
    } else {
      text += spec.dim_names[i].empty() ? "?" : spec.dim_names[i];
    }
  }
  return text + "]";
}

}  // namespace ort_test
