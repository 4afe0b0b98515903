#include "preprocess.h"

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace ort_test {
namespace {

constexpr int kChannels = 3;

void check_size(int height, int width, const char* what) {
  if (height <= 0 || width <= 0) {
    throw std::invalid_argument(std::string(what) + " size " + std::to_string(height) + "x" + std::to_string(width) +
                                " is empty");
  }
}

// Source sample position for output index `out` along one axis (half-pixel centres, clamped at 0).
struct AxisSample {
  int i0;
  int i1;
  float frac;
};

AxisSample axis_sample(int out, int in_size, int out_size) {
  float s = (static_cast<float>(out) + 0.5f) * static_cast<float>(in_size) / static_cast<float>(out_size) - 0.5f;
  if (s < 0.0f) s = 0.0f;
  // s >= 0, so the truncating conversion is floor. s < in_size - 0.5 mathematically; the clamp only guards
  // indexing and never changes a result.
  const int i0 = std::min(static_cast<int>(s), in_size - 1);
  const int i1 = std::min(i0 + 1, in_size - 1);
  return AxisSample{i0, i1, s - static_cast<float>(i0)};
}

float normalise(float v, PreprocessMode mode, int channel) {
  switch (mode) {
    case PreprocessMode::kZoo: {  // ONNX model-zoo Mask R-CNN / Faster R-CNN (BGR)
      constexpr float kMean[3] = {102.9801f, 115.9465f, 122.7717f};
      return v - kMean[channel];
    }
    case PreprocessMode::kTorchvision:  // torchvision detection exports normalise mean/std inside the graph
      return v / 255.0f;
    case PreprocessMode::kCaffe2: {
      constexpr float kMean[3] = {103.939f, 116.779f, 123.68f};
      return v - kMean[channel];
    }
    case PreprocessMode::kCaffe: {
      constexpr float kMean[3] = {103.94f, 116.78f, 123.68f};
      return (v - kMean[channel]) * 0.017f;
    }
    case PreprocessMode::kMxnet: {
      constexpr float kMean[3] = {0.406f, 0.456f, 0.485f};
      constexpr float kStd[3] = {0.225f, 0.224f, 0.229f};
      return (v / 255.0f - kMean[channel]) / kStd[channel];
    }
    case PreprocessMode::kNone: return v;
  }
  return v;  // unreachable
}

bool is_bgr(PreprocessMode mode) {
  return mode == PreprocessMode::kZoo || mode == PreprocessMode::kCaffe2 || mode == PreprocessMode::kCaffe ||
         mode == PreprocessMode::kMxnet;
}

}  // namespace

std::optional<PreprocessMode> parse_preprocess_mode(std::string_view name) {
  if (name == "zoo") return PreprocessMode::kZoo;
  if (name == "torchvision") return PreprocessMode::kTorchvision;
  if (name == "caffe2") return PreprocessMode::kCaffe2;
  if (name == "caffe") return PreprocessMode::kCaffe;
  if (name == "mxnet") return PreprocessMode::kMxnet;
  if (name == "none") return PreprocessMode::kNone;
  return std::nullopt;
}

const char* preprocess_mode_name(PreprocessMode mode) {
  switch (mode) {
    case PreprocessMode::kZoo: return "zoo";
    case PreprocessMode::kTorchvision: return "torchvision";
    case PreprocessMode::kCaffe2: return "caffe2";
    case PreprocessMode::kCaffe: return "caffe";
    case PreprocessMode::kMxnet: return "mxnet";
    case PreprocessMode::kNone: return "none";
  }
  return "?";  // unreachable
}

const char* preprocess_mode_choices() { return "zoo|torchvision|caffe2|caffe|mxnet|none"; }

std::vector<float> resize_bilinear(const RgbImage& image, int out_height, int out_width) {
  check_size(image.height, image.width, "image");
  check_size(out_height, out_width, "target");
  const auto in_w = static_cast<size_t>(image.width);
  if (image.pixels.size() != static_cast<size_t>(image.height) * in_w * kChannels) {
    throw std::invalid_argument("image pixel buffer does not match its size");
  }
  std::vector<float> out(static_cast<size_t>(out_height) * static_cast<size_t>(out_width) * kChannels);
  if (out_height == image.height && out_width == image.width) {
    std::transform(image.pixels.begin(), image.pixels.end(), out.begin(),
                   [](uint8_t p) { return static_cast<float>(p); });
    return out;
  }
  auto pixel = [&](int y, int x, int c) {
    return static_cast<float>(image.pixels[(static_cast<size_t>(y) * in_w + static_cast<size_t>(x)) * kChannels +
                                           static_cast<size_t>(c)]);
  };
  size_t k = 0;
  for (int y = 0; y < out_height; ++y) {
    const AxisSample sy = axis_sample(y, image.height, out_height);
    for (int x = 0; x < out_width; ++x) {
      const AxisSample sx = axis_sample(x, image.width, out_width);
      for (int c = 0; c < kChannels; ++c) {
        const float p00 = pixel(sy.i0, sx.i0, c);
        const float p01 = pixel(sy.i0, sx.i1, c);
        const float p10 = pixel(sy.i1, sx.i0, c);
        const float p11 = pixel(sy.i1, sx.i1, c);
        const float lx = sx.frac;
        const float ly = sy.frac;
        out[k++] = (1.0f - ly) * ((1.0f - lx) * p00 + lx * p01) + ly * ((1.0f - lx) * p10 + lx * p11);
      }
    }
  }
  return out;
}

std::vector<float> preprocess_image(const RgbImage& image, PreprocessMode mode, int out_height, int out_width) {
  const std::vector<float> hwc = resize_bilinear(image, out_height, out_width);
  const size_t plane = static_cast<size_t>(out_height) * static_cast<size_t>(out_width);
  const bool bgr = is_bgr(mode);
  std::vector<float> chw(plane * kChannels);
  for (int oc = 0; oc < kChannels; ++oc) {
    const int source_channel = bgr ? 2 - oc : oc;
    float* dst = chw.data() + static_cast<size_t>(oc) * plane;
    for (size_t i = 0; i < plane; ++i) {
      dst[i] = normalise(hwc[i * kChannels + static_cast<size_t>(source_channel)], mode, oc);
    }
  }
  return chw;
}

}  // namespace ort_test
