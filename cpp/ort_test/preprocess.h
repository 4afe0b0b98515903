// Image -> model-input numerics. A Python implementation (python/rcnn/runtime/preprocess.py) reproduces these
// bit-exactly, so everything is float32, evaluated in the written order, and this file is compiled with
// -ffp-contract=off (no fused multiply-add). It also parses the same preset names and spec strings, refusing the
// same ones with the same messages.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rgb_image.h"

namespace ort_test {

// How an image is normalised: x = v (0..255), then x/255, x-mean, x/std, x*scale, in this order and where set.
// The constants are in output channel order (B, G, R when bgr) and already rounded to float32.
struct PreprocessMode {
  std::string text;  // the preset's name or the spec as given: what outputs.json reports
  bool bgr = false;
  bool divide_by_255 = false;
  std::optional<std::array<float, 3>> mean;
  std::optional<std::array<float, 3>> stddev;
  std::optional<float> scale;
};

// A preset name (zoo, torchvision, caffe2, caffe, mxnet, none; aliases rcnn, None) or a spec:
// comma-separated tokens in any order, each at most once, no spaces:
//   rgb | bgr (default rgb), /255, mean=A:B:C or mean=A, std=A:B:C or std=A (no 0), scale=S.
// Numbers are decimals ([+-]digits[.digits][e[+-]digits]) converted decimal -> double -> float32, as Python's
// np.float32(float(text)). Throws std::invalid_argument with a one-line message naming the first bad token.
PreprocessMode parse_preprocess_mode(std::string_view text);
const char* preprocess_mode_name(const PreprocessMode& mode);
// The presets and the specs they stand for, one per line, indented by `indent` spaces, for --help.
std::string preprocess_presets_help(int indent);

// Bilinear resize of the 0..255 values with half-pixel centres and no antialiasing; row-major HWC floats.
// When the size is unchanged the values are the pixels themselves.
std::vector<float> resize_bilinear(const RgbImage& image, int out_height, int out_width);

// Resize, then normalise per `mode` into planar CHW floats (3 * out_height * out_width values).
std::vector<float> preprocess_image(const RgbImage& image, const PreprocessMode& mode, int out_height, int out_width);

}  // namespace ort_test
