// stb_image decoding through decode_image_file: PNG, PPM and BMP of the same pixels decode identically, grey and
// RGBA become RGB, unreadable or corrupt files give clear errors. argv[1] is tests/cpp/data.
#include <cstdio>
#include <string>

#include "check.h"
#include "image_decode.h"

using namespace ort_test;

namespace {

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
  check_tiny(t, decode_image_file(data_dir + "/tiny.png"), false);
  check_tiny(t, decode_image_file(data_dir + "/tiny.ppm"), false);
  check_tiny(t, decode_image_file(data_dir + "/tiny.bmp"), false);
  check_tiny(t, decode_image_file(data_dir + "/tiny_rgba.png"), false);  // alpha dropped
  check_tiny(t, decode_image_file(data_dir + "/tiny_grey.png"), true);
}

void decode_errors(test::Checker& t, const std::string& data_dir) {
  CHECK_THROWS(decode_image_file(data_dir + "/missing.png"), "No such file or directory");
  CHECK_THROWS(decode_image_file(data_dir + "/qconv.onnx"), "cannot decode image");
  CHECK_THROWS(decode_image_file(data_dir), "cannot read");
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
                          {"decode_errors", [&](test::Checker& t) { decode_errors(t, data_dir); }}});
}
