#include "preprocess.h"

#include <locale.h>  // newlocale, freelocale (POSIX)
#include <stdlib.h>  // strtod_l (glibc)

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

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

// Each preset is a name for a spec; python/rcnn/runtime/preprocess.py (PRESETS) holds the same table.
struct Preset {
  const char* name;
  const char* spec;
};
constexpr Preset kPresets[] = {
    {"zoo", "bgr,mean=102.9801:115.9465:122.7717"},  // ONNX model-zoo Mask R-CNN / Faster R-CNN
    {"torchvision", "rgb,/255"},                     // torchvision detectors normalise mean/std inside the graph
    {"caffe2", "bgr,mean=103.939:116.779:123.68"},
    {"caffe", "bgr,mean=103.94:116.78:123.68,scale=0.017"},
    {"mxnet", "bgr,/255,mean=0.406:0.456:0.485,std=0.225:0.224:0.229"},
    {"none", "rgb"},
};
// Names the reference's calibrate.py uses for the same presets.
constexpr Preset kAliases[] = {{"rcnn", "zoo"}, {"None", "none"}};
constexpr const char* kTokensHelp = "rgb|bgr, /255, mean=A[:B:C], std=A[:B:C], scale=S";
// Longest piece of untrusted text quoted in an error message, in bytes (Python counts characters).
constexpr size_t kQuoteLimit = 80;

// 'text' for an error line: control bytes as \xHH so the line stays one line, long text cut (not inside a UTF-8
// sequence).
std::string quote(std::string_view text) {
  size_t cut = text.size();
  if (cut > kQuoteLimit) {
    cut = kQuoteLimit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out = "'";
  constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text.substr(0, cut)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
  return out + (cut < text.size() ? "'..." : "'");
}

std::invalid_argument spec_error(std::string_view token, const std::string& problem) {
  return std::invalid_argument("bad preprocess spec: token " + quote(token) + " " + problem);
}

// Python's str.split: every separator splits, so "a," gives {"a", ""}.
std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t at = text.find(separator); at != std::string_view::npos; at = text.find(separator, start)) {
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

size_t skip_digits(std::string_view text, size_t at) {
  while (at < text.size() && is_digit(text[at])) ++at;
  return at;
}

// [+-]?(digits[.digits?] | .digits)([eE][+-]?digits)?, the syntax Python's side checks before float(): strtod
// alone would also take hex, inf, nan and leading spaces.
bool is_decimal(std::string_view text) {
  size_t at = (!text.empty() && (text[0] == '+' || text[0] == '-')) ? 1 : 0;
  const size_t int_end = skip_digits(text, at);
  size_t end = int_end;
  if (end < text.size() && text[end] == '.') end = skip_digits(text, end + 1);
  if (int_end == at && end <= int_end + 1) return false;  // no digit before or after the point
  at = end;
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    ++at;
    if (at < text.size() && (text[at] == '+' || text[at] == '-')) ++at;
    const size_t exp_end = skip_digits(text, at);
    if (exp_end == at) return false;
    at = exp_end;
  }
  return at == text.size();
}

// Decimal text -> double (correctly rounded, as Python's float(); strtod_l under the "C" locale, so a process locale
// with a decimal comma changes nothing) -> float32.
float parse_number(std::string_view token, std::string_view text) {
  const std::invalid_argument not_decimal = spec_error(token, "has " + quote(text) + ", not a finite decimal number");
  if (!is_decimal(text)) throw not_decimal;
  const std::unique_ptr<std::remove_pointer_t<locale_t>, decltype(&freelocale)> c_locale(
      newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr)), &freelocale);
  if (!c_locale) throw std::runtime_error("cannot create the C locale to read numbers");
  const std::string copy(text);  // strtod needs a terminated string
  char* end = nullptr;
  const double value = strtod_l(copy.c_str(), &end, c_locale.get());  // ERANGE underflow: the rounded value, as Python
  if (end != copy.c_str() + copy.size()) throw not_decimal;
  // Beyond FLT_MAX the double -> float conversion would be undefined; Python's side refuses the same range.
  if (!std::isfinite(value) || std::fabs(value) > static_cast<double>(std::numeric_limits<float>::max())) {
    throw spec_error(token, "has " + quote(text) + ", outside the float32 range");
  }
  return static_cast<float>(value);
}

// The values after '=': `one_or_three` allows 1 or 3 of them (a single one stands for all channels), else 1.
std::array<float, 3> parse_values(std::string_view token, std::string_view text, bool one_or_three) {
  const std::vector<std::string_view> parts = split(text, ':');
  if (parts.size() != 1 && !(one_or_three && parts.size() == 3)) {
    throw spec_error(token, std::string("needs ") + (one_or_three ? "1 or 3 values" : "1 value") + ", got " +
                                std::to_string(parts.size()));
  }
  std::array<float, 3> values{};
  for (size_t i = 0; i < parts.size(); ++i) values[i] = parse_number(token, parts[i]);
  if (parts.size() == 1) values[1] = values[2] = values[0];
  return values;
}

// The setting a token gives: "order", "/255", "mean", "std" or "scale"; throws for an unknown token.
std::string token_key(std::string_view token) {
  if (token == "rgb" || token == "bgr") return "order";
  if (token == "/255") return "/255";
  const size_t equals = token.find('=');
  const std::string_view key = token.substr(0, equals);
  if (equals != std::string_view::npos && (key == "mean" || key == "std" || key == "scale")) return std::string(key);
  std::string presets;
  for (const Preset& preset : kPresets) presets += (presets.empty() ? "" : "|") + std::string(preset.name);
  throw spec_error(token, "is unknown (a spec is a preset, " + presets + ", or tokens: " + kTokensHelp + ")");
}

// One token into `mode`; `seen` maps each setting to the token that gave it, so a repeat is named with the first.
void apply_token(std::string_view token, std::map<std::string, std::string_view>& seen, PreprocessMode& mode) {
  const std::string key = token_key(token);
  const auto [first, inserted] = seen.emplace(key, token);
  if (!inserted) throw spec_error(token, "repeats " + quote(first->second));
  const std::string_view value = token.substr(std::min(token.size(), token.find('=') + 1));
  if (key == "order") {
    mode.bgr = token == "bgr";
  } else if (key == "/255") {
    mode.divide_by_255 = true;
  } else if (key == "scale") {
    mode.scale = parse_values(token, value, false)[0];
  } else if (key == "mean") {
    mode.mean = parse_values(token, value, true);
  } else {
    mode.stddev = parse_values(token, value, true);
    for (const float s : *mode.stddev) {
      if (s == 0.0f) throw spec_error(token, "has a std of 0 (after rounding to float32)");
    }
  }
}

PreprocessMode parse_spec(std::string_view spec) {
  if (spec.empty()) {
    throw std::invalid_argument(std::string("bad preprocess spec: it is empty (give a preset or tokens: ") +
                                kTokensHelp + ")");
  }
  PreprocessMode mode;
  mode.text = std::string(spec);
  std::map<std::string, std::string_view> seen;
  for (const std::string_view token : split(spec, ',')) apply_token(token, seen, mode);
  return mode;
}

float normalise(float v, const PreprocessMode& mode, int channel) {
  const auto c = static_cast<size_t>(channel);
  float x = v;
  if (mode.divide_by_255) x = x / 255.0f;
  if (mode.mean) x = x - (*mode.mean)[c];
  if (mode.stddev) x = x / (*mode.stddev)[c];
  if (mode.scale) x = x * *mode.scale;
  return x;
}

}  // namespace

PreprocessMode parse_preprocess_mode(std::string_view text) {
  for (const Preset& alias : kAliases) {
    if (text == alias.name) text = alias.spec;
  }
  for (const Preset& preset : kPresets) {
    if (text == preset.name) {
      PreprocessMode mode = parse_spec(preset.spec);
      mode.text = preset.name;
      return mode;
    }
  }
  return parse_spec(text);
}

const char* preprocess_mode_name(const PreprocessMode& mode) { return mode.text.c_str(); }

std::string preprocess_presets_help(int indent) {
  std::string out;
  for (const Preset& preset : kPresets) {
    std::string name = preset.name;
    name.resize(std::max<size_t>(name.size(), 13), ' ');
    out += std::string(static_cast<size_t>(std::max(indent, 0)), ' ') + name + preset.spec + "\n";
  }
  return out;
}

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

std::vector<float> preprocess_image(const RgbImage& image, const PreprocessMode& mode, int out_height,
                                    int out_width) {
  const std::vector<float> hwc = resize_bilinear(image, out_height, out_width);
  const size_t plane = static_cast<size_t>(out_height) * static_cast<size_t>(out_width);
  const bool bgr = mode.bgr;
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
