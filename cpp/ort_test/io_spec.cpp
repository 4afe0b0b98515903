#include "io_spec.h"

#include <algorithm>

#include "data_type.h"

namespace ort_test {

std::string describe_io_spec(const IoSpec& spec) {
  if (!spec.is_tensor) return spec.kind + " (not a tensor)";
  if (!spec.rank_known) return describe_onnx_type(spec.onnx_type) + " [any shape]";
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

void mark_shapeless(std::vector<IoSpec>& specs, const std::vector<std::string>& shapeless) {
  for (IoSpec& spec : specs) {
    if (std::find(shapeless.begin(), shapeless.end(), spec.name) == shapeless.end()) continue;
    if (!spec.dims.empty()) continue;  // ORT knows a shape after all (it reports none for shapeless inputs)
    spec.rank_known = false;
    spec.dims.clear();
    spec.dim_names.clear();
  }
}

}  // namespace ort_test
