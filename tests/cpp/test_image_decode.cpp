// stb_image decoding through decode_image_file: PNG, PPM and BMP of the same pixels decode identically, grey and
// RGBA become RGB, unreadable or corrupt files give clear errors, images over the pixel limit are refused from
// their header. argv[1] is tests/cpp/data.
#include <cstdio>
#include <string>

#include "check.h"
#include "errors.h"
#include "image_decode.h"
#include "size_limits.h"

using namespace ort_test;

namespace {

const uint64_t kDefaultPixels = Limits{}.max_image_pixels;

// The formula make_test_data.py draws tiny.* with (5 wide, 4 high).
uint8_t expected_channel(int x, int y, int c) {
  switch (c) {
    case 0: return static_cast<uint8_t>((37 * x + 11 * y) % 256);
    case 1: return static_cast<uint8_t>(255 - 13 * x * y);
    default: return static_cast<uint8_t>(3 * x + 50 * y);
  }
}

void check_tiny(test::Checker& t, const RgbImage& image, bool grey) {
  CHECK_EQ(image.width, 5);
  CHECK_EQ(image.height, 4);
  CHECK_EQ(image.pixels.size(), size_t{5 * 4 * 3});
  if (image.pixels.size() != 5 * 4 * 3) return;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 5; ++x) {
      for (int c = 0; c < 3; ++c) {
        // A grey image replicates its single channel (the formula's R) into R, G and B.
        const uint8_t expected = expected_channel(x, y, grey ? 0 : c);
        CHECK_EQ(image.pixels[static_cast<size_t>((y * 5 + x) * 3 + c)], expected);
      }
    }
  }
}

void decode_formats(test::Checker& t, const std::string& data_dir) {
  check_tiny(t, decode_image_file(data_dir + "/tiny.png", kDefaultPixels), false);
  check_tiny(t, decode_image_file(data_dir + "/tiny.ppm", kDefaultPixels), false);
  check_tiny(t, decode_image_file(data_dir + "/tiny.bmp", kDefaultPixels), false);
  check_tiny(t, decode_image_file(data_dir + "/tiny_rgba.png", kDefaultPixels), false);  // alpha dropped
  check_tiny(t, decode_image_file(data_dir + "/tiny_grey.png", kDefaultPixels), true);
}

void decode_errors(test::Checker& t, const std::string& data_dir) {
  CHECK_THROWS(decode_image_file(data_dir + "/missing.png", kDefaultPixels), "No such file or directory");
  CHECK_THROWS(decode_image_file(data_dir + "/qconv.onnx", kDefaultPixels), "cannot decode image");
  CHECK_THROWS(decode_image_file(data_dir, kDefaultPixels), "cannot read");
}

// The message of the RefusedInput decoding throws, or "decoded".
std::string refusal_of(const std::string& path, uint64_t max_pixels) {
  try {
    decode_image_file(path, max_pixels);
  } catch (const RefusedInput& e) {
    return e.what();
  }
  return "decoded";
}

void pixel_limit(test::Checker& t, const std::string& data_dir) {
  // 20000x20000 in 48 KB of PNG: refused from the header (decoding would allocate 1.2 GB).
  const std::string huge = data_dir + "/huge_20000x20000.png";
  CHECK_EQ(refusal_of(huge, kDefaultPixels), "image '" + huge + "' is 20000x20000 (400000000 pixels), over the "
                                             "limit of 100000000 (RCNN_MAX_IMAGE_PIXELS)");
  for (const char* name : {"/tiny.png", "/tiny.ppm", "/tiny.bmp"}) {
    CHECK_EQ(refusal_of(data_dir + name, 20), std::string("decoded"));  // 5x4: exactly at the limit
    CHECK_EQ(refusal_of(data_dir + name, 19), "image '" + data_dir + name +
                                                  "' is 5x4 (20 pixels), over the limit of 19 (RCNN_MAX_IMAGE_PIXELS)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  const std::string data_dir = argv[1];
  return test::run_tests("image_decode",
                         {{"decode_formats", [&](test::Checker& t) { decode_formats(t, data_dir); }},
                          {"decode_errors", [&](test::Checker& t) { decode_errors(t, data_dir); }},
                          {"pixel_limit", [&](test::Checker& t) { pixel_limit(t, data_dir); }}});
}
