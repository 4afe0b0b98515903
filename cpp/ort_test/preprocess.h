// Image -> model-input numerics. A Python implementation reproduces these bit-exactly, so everything is float32,
// evaluated in the written order, and this file is compiled with -ffp-contract=off (no fused multiply-add).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "rgb_image.h"

namespace ort_test {

// Normalisation conventions of the model families ort_test runs (see preprocess.cpp for the constants).
enum class PreprocessMode { kZoo, kTorchvision, kCaffe2, kCaffe, kMxnet, kNone };

std::optional<PreprocessMode> parse_preprocess_mode(std::string_view name);
const char* preprocess_mode_name(PreprocessMode mode);
// "zoo|torchvision|caffe2|caffe|mxnet|none", for help and error text.
const char* preprocess_mode_choices();

// Bilinear resize of the 0..255 values with half-pixel centres and no antialiasing; row-major HWC floats.
// When the size is unchanged the values are the pixels themselves.
std::vector<float> resize_bilinear(const RgbImage& image, int out_height, int out_width);

// Resize, then normalise per `mode` into planar CHW floats (3 * out_height * out_width values).
std::vector<float> preprocess_image(const RgbImage& image, PreprocessMode mode, int out_height, int out_width);

}  // namespace ort_test
