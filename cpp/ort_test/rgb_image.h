// A decoded 8-bit RGB image, the hand-off between image decoding and preprocessing.
#pragma once

#include <cstdint>
#include <vector>

namespace ort_test {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes (R, G, B) per pixel: height * width * 3
};

}  // namespace ort_test
