#include "input_binding.h"

#include <limits>
#include <stdexcept>

#include "data_type.h"
#include "errors.h"
#include "image_decode.h"
#include "tensor_proto.h"

namespace ort_test {
namespace {

void check_is_tensor(const IoSpec& input) {
  if (!input.is_tensor) {
    throw std::runtime_error("model input '" + input.name + "' is a " + input.kind +
                             "; ort_test can only feed tensors");
  }
}

// Image H/W: a fixed dim must be positive to be a size; anything else (symbolic, unknown, 0) means "any".
int64_t image_dim(const IoSpec& input, size_t index, int image_size) {
  return input.dims[index] > 0 ? input.dims[index] : image_size;
}

// Refuses an image tensor of 3 x height x width float32 (the batch is 1) above the limit, before it is allocated.
void check_image_tensor_size(const IoSpec& input, int64_t height, int64_t width, const Limits& limits) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  constexpr uint64_t kBytesPerPixel = 3 * sizeof(float);
  const auto h = static_cast<uint64_t>(height);  // both non-negative: fixed dims > 0 or the image's size
  const auto w = static_cast<uint64_t>(width);
  if (h == 0 || w == 0) return;
  const bool overflows = h > kMax / w || h * w > kMax / kBytesPerPixel;
  if (!overflows && h * w * kBytesPerPixel <= limits.max_tensor_bytes) return;
  const std::string bytes = overflows ? "more than " + std::to_string(kMax) : std::to_string(h * w * kBytesPerPixel);
  throw RefusedInput("model input '" + input.name + "' wants a 3x" + std::to_string(height) + "x" +
                     std::to_string(width) + " float tensor (" + bytes + " bytes), " +
                     over_the_limit(limits.max_tensor_bytes, kMaxTensorBytesVariable));
}

}  // namespace

std::vector<std::optional<size_t>> match_inputs(const std::vector<IoSpec>& inputs, bool has_image,
                                                const std::vector<std::string>& file_tensor_names) {
  const size_t given = file_tensor_names.size() + (has_image ? 1 : 0);
  if (given != inputs.size()) {
    throw std::runtime_error("model has " + std::to_string(inputs.size()) + " inputs, got " + std::to_string(given));
  }
  std::vector<std::optional<size_t>> feeder(inputs.size());
  std::vector<bool> taken(inputs.size(), false);
  std::vector<bool> file_used(file_tensor_names.size(), false);
  if (has_image) taken[0] = true;  // the image always feeds the first input

  // Pass 1: files whose tensor name is a model input name.
  for (size_t f = 0; f < file_tensor_names.size(); ++f) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (file_tensor_names[f].empty() || file_tensor_names[f] != inputs[k].name) continue;
      if (taken[k]) {
        throw std::runtime_error("model input '" + inputs[k].name + "' is given twice (" +
                                 (feeder[k] ? "by two --input files" : "by -i and by an --input file") + ")");
      }
      taken[k] = true;
      feeder[k] = f;
      file_used[f] = true;
      break;
    }
  }
  // Pass 2: the remaining files, in command-line order, fill the remaining inputs in model order.
  size_t next_input = 0;
  for (size_t f = 0; f < file_tensor_names.size(); ++f) {
    if (file_used[f]) continue;
    while (taken[next_input]) ++next_input;  // counts match, so a free input exists
    taken[next_input] = true;
    feeder[next_input] = f;
  }
  return feeder;
}

void check_tensor_fits(const IoSpec& input, const Tensor& tensor, const std::string& source) {
  check_is_tensor(input);
  if (static_cast<int32_t>(tensor.dtype) != input.onnx_type) {
    throw std::runtime_error("input '" + input.name + "' from " + source + " has dtype " + data_type_name(tensor.dtype) +
                             ", the model expects " + describe_onnx_type(input.onnx_type));
  }
  if (!input.rank_known) return;  // no declared shape: ORT checks what it can when it runs
  bool fits = tensor.dims.size() == input.dims.size();
  for (size_t i = 0; fits && i < input.dims.size(); ++i) {
    fits = !is_fixed_dim(input, i) || input.dims[i] == tensor.dims[i];
  }
  if (!fits) {
    throw std::runtime_error("input '" + input.name + "' from " + source + " has shape " + format_dims(tensor.dims) +
                             ", the model expects " + describe_io_spec(input));
  }
}

std::vector<int64_t> image_input_dims(const IoSpec& input, int image_height, int image_width) {
  check_is_tensor(input);
  if (!input.rank_known && input.onnx_type == static_cast<int32_t>(DataType::kFloat32)) {
    return {1, 3, image_height, image_width};
  }
  const size_t rank = input.dims.size();
  const bool rank_ok = rank == 3 || rank == 4;
  // Offset of the channel dim: [3,H,W] or [1,3,H,W].
  const size_t c = rank == 4 ? 1 : 0;
  const bool batch_ok = rank != 4 || input.dims[0] <= 0 || input.dims[0] == 1;
  const bool channels_ok = rank_ok && (input.dims[c] <= 0 || input.dims[c] == 3);
  if (input.onnx_type != static_cast<int32_t>(DataType::kFloat32) || !rank_ok || !batch_ok || !channels_ok) {
    throw std::runtime_error("-i needs the first model input to be float32 [3,H,W] or [1,3,H,W]; '" + input.name +
                             "' is " + describe_io_spec(input));
  }
  std::vector<int64_t> dims;
  if (rank == 4) dims.push_back(1);
  dims.push_back(3);
  dims.push_back(image_dim(input, c + 1, image_height));
  dims.push_back(image_dim(input, c + 2, image_width));
  return dims;
}

Tensor make_image_tensor(const IoSpec& input, const RgbImage& image, PreprocessMode mode, const Limits& limits) {
  std::vector<int64_t> dims = image_input_dims(input, image.height, image.width);
  const int64_t height = dims[dims.size() - 2];
  const int64_t width = dims[dims.size() - 1];
  check_image_tensor_size(input, height, width, limits);
  // preprocess_image takes int sizes: within the limit that holds unless the limit was raised beyond 24 GiB.
  if (height > std::numeric_limits<int>::max() || width > std::numeric_limits<int>::max()) {
    throw RefusedInput("model input '" + input.name + "' wants a " + std::to_string(height) + "x" +
                       std::to_string(width) + " image, more than " + std::to_string(std::numeric_limits<int>::max()) +
                       " pixels on a side");
  }
  const std::vector<float> values =
      preprocess_image(image, mode, static_cast<int>(height), static_cast<int>(width));
  return make_float_tensor(input.name, std::move(dims), values);
}

std::vector<BoundInput> bind_inputs(const std::vector<IoSpec>& inputs, const std::optional<std::string>& image_path,
                                    std::optional<PreprocessMode> mode, const std::vector<std::string>& files,
                                    const Limits& limits) {
  std::vector<Tensor> file_tensors;
  std::vector<std::string> file_tensor_names;
  for (const std::string& path : files) {
    file_tensors.push_back(read_tensor_proto_file(path));
    file_tensor_names.push_back(file_tensors.back().name);
  }
  const std::vector<std::optional<size_t>> feeder = match_inputs(inputs, image_path.has_value(), file_tensor_names);

  std::vector<BoundInput> bound;
  bound.reserve(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!feeder[k]) {
      if (!mode) throw std::logic_error("bind_inputs: an image needs a preprocess mode");
      const RgbImage image = decode_image_file(*image_path, limits.max_image_pixels);
      bound.push_back(BoundInput{make_image_tensor(inputs[k], image, *mode, limits), "image:" + *image_path});
      continue;
    }
    const size_t f = *feeder[k];
    const std::string source = "file:" + files[f];
    check_tensor_fits(inputs[k], file_tensors[f], source);
    Tensor tensor = std::move(file_tensors[f]);
    tensor.name = inputs[k].name;
    bound.push_back(BoundInput{std::move(tensor), source});
  }
  return bound;
}

}  // namespace ort_test
