// What a model declares about one input or output, copied out of ORT so the rest of ort_test does not need it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ort_test {

struct IoSpec {
  std::string name;
  bool is_tensor = true;        // false for sequence/map/optional types, which ort_test cannot feed or write
  std::string kind;             // for non-tensors: "sequence", "map", ...
  int32_t onnx_type = 0;        // ONNX element type number (tensors only)
  std::vector<int64_t> dims;    // -1 where the dim is symbolic or unknown
  std::vector<std::string> dim_names;  // symbolic names, "" for fixed or unnamed dims; same length as dims
  // false when the model declares no shape at all: any rank fits (dims and dim_names are then empty). ORT's C API
  // reports such an input like a scalar, so this comes from the model file itself (model_check.h).
  bool rank_known = true;
};

// "float32 [batch,3,?,16]": fixed dims as numbers, symbolic dims by name, unnamed unknown dims as "?";
// "float32 [any shape]" when the rank is unknown.
std::string describe_io_spec(const IoSpec& spec);

// Marks the specs named in `shapeless` as having no declared shape (rank_known = false, no dims).
void mark_shapeless(std::vector<IoSpec>& specs, const std::vector<std::string>& shapeless);

// True when dim `index` is a fixed size that a tensor must match.
inline bool is_fixed_dim(const IoSpec& spec, size_t index) { return spec.dims[index] >= 0; }

}  // namespace ort_test
