// Turns the command line's image and TensorProto files into one tensor per model input, in model input order,
// checking count, dtype and shape against what the model declares.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io_spec.h"
#include "preprocess.h"
#include "rgb_image.h"
#include "size_limits.h"
#include "tensor.h"

namespace ort_test {

struct BoundInput {
  Tensor tensor;       // tensor.name is the model input's name
  std::string source;  // "image:<path>" or "file:<path>", as outputs.json reports it
};

// For each model input, the index of the file tensor that feeds it, or nullopt for the image (input 0).
// A file whose tensor name equals a model input's name feeds that input; the others fill the remaining inputs
// in model order. Throws std::runtime_error for a count mismatch ("model has N inputs, got M") or an input named
// twice.
std::vector<std::optional<size_t>> match_inputs(const std::vector<IoSpec>& inputs, bool has_image,
                                                const std::vector<std::string>& file_tensor_names);

// Throws unless `tensor` has the input's dtype, rank and fixed dims (symbolic dims accept any size; an input
// without a declared shape accepts any shape).
void check_tensor_fits(const IoSpec& input, const Tensor& tensor, const std::string& source);

// Shape of the image tensor for `input` ([3,H,W] or [1,3,H,W]); symbolic H/W take the image's size, a symbolic
// batch becomes 1, an input without a declared shape gets [1,3,H,W]. Throws unless the input is float32 with such
// a shape.
std::vector<int64_t> image_input_dims(const IoSpec& input, int image_height, int image_width);

// The preprocessed image as the tensor for `input`. Throws RefusedInput, before allocating it, when the tensor
// would be larger than limits.max_tensor_bytes.
Tensor make_image_tensor(const IoSpec& input, const RgbImage& image, PreprocessMode mode, const Limits& limits);

// Reads the files, decodes and preprocesses the image (`mode` is required when `image_path` is set), matches and
// checks everything; returns the inputs in model order. Images and image tensors are held to `limits`.
std::vector<BoundInput> bind_inputs(const std::vector<IoSpec>& inputs, const std::optional<std::string>& image_path,
                                    std::optional<PreprocessMode> mode, const std::vector<std::string>& files,
                                    const Limits& limits);

}  // namespace ort_test
