// image: image file bytes -> decode_image_file with a pixel limit, then preprocess_image to a small size.
// Documented errors: std::runtime_error (RefusedInput over the limit). An accepted image must be non-empty, within
// the limit, and hold width x height x 3 bytes; its preprocessed tensor must have the requested size and be finite.
#include <cmath>
#include <stdexcept>

#include "image_decode.h"
#include "preprocess.h"
#include "target.h"

namespace fuzz {
namespace {

// Small enough that decoding stays fast under ASan, large enough for multi-block JPEGs and multi-row PNGs.
constexpr uint64_t kMaxPixels = uint64_t{1} << 18;

constexpr const char* kModes[] = {"zoo", "torchvision", "caffe2", "caffe", "mxnet", "none"};

class ImageTarget : public Target {
 public:
  explicit ImageTarget(const Scratch& scratch) : path_((scratch.root() / "image").string()) {}

  const char* name() const override { return "image"; }
  const char* documented_errors() const override { return "std::runtime_error (ort_test::RefusedInput)"; }
  bool takes_seed(const std::filesystem::path& file) const override {
    const std::string ext = file.extension().string();
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".ppm" || ext == ".pgm";
  }

  std::vector<std::string> dictionary() const override {
    return {std::string("\x89PNG\r\n\x1a\n", 8), std::string("\0\0\0\x0dIHDR", 8), "IDAT", "IEND", "PLTE", "tRNS",
            "CgBI", "\xff\xd8\xff\xe0", "\xff\xc0", "\xff\xc2", "\xff\xc4", "\xff\xdb", "\xff\xda", "\xff\xdd",
            "\xff\xd9", "\xff\xd0", "BM", std::string("\x28\0\0\0", 4), "P6\n", "P5\n", "255\n", "65535\n", " 1 1 "};
  }

  Outcome run(const Bytes& input) override {
    const uint64_t hash = input_hash(input);
    // One input in eight meets a tiny pixel limit: refusals from the header must happen before any decoding.
    const uint64_t max_pixels = hash % 8 == 0 ? 1 + (hash >> 3) % 64 : kMaxPixels;
    write_scratch_file(path_, input);
    ort_test::RgbImage image;
    try {
      image = ort_test::decode_image_file(path_, max_pixels);
    } catch (const std::runtime_error& e) {
      return Outcome{false, message_feature(e.what())};
    }
    const uint64_t pixels = static_cast<uint64_t>(image.width) * static_cast<uint64_t>(image.height);
    if (image.width <= 0 || image.height <= 0 || pixels > max_pixels || image.pixels.size() != pixels * 3) {
      throw FuzzFailure{"decoded image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                        " with " + std::to_string(image.pixels.size()) + " bytes (pixel limit " +
                        std::to_string(max_pixels) + ")"};
    }
    // The model's input size: mostly a resize, sometimes the image's own size (the copying path).
    const bool same_size = (hash >> 12) % 4 == 0;
    const int height = same_size ? image.height : 1 + static_cast<int>((hash >> 16) % 12);
    const int width = same_size ? image.width : 1 + static_cast<int>((hash >> 24) % 12);
    const ort_test::PreprocessMode mode = ort_test::parse_preprocess_mode(kModes[(hash >> 32) % 6]);
    const std::vector<float> tensor = ort_test::preprocess_image(image, mode, height, width);
    if (tensor.size() != 3 * static_cast<size_t>(height) * static_cast<size_t>(width)) {
      throw FuzzFailure{"preprocessed tensor has " + std::to_string(tensor.size()) + " values"};
    }
    for (float value : tensor) {
      if (!std::isfinite(value)) throw FuzzFailure{"preprocessed tensor holds a non-finite value"};
    }
    // The format (by its first byte) tells accepted inputs apart: a decodable mutant of each one joins the pool.
    return Outcome{true, "ok, format byte " + std::to_string(input[0])};
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<Target> make_image_target(const Scratch& scratch) { return std::make_unique<ImageTarget>(scratch); }

}  // namespace fuzz
