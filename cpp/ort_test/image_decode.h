// Image file -> 8-bit RGB via stb_image (PNG, JPEG, BMP, PPM/PGM). Grey or RGBA images are converted to RGB
// (alpha dropped).
#pragma once

#include <cstdint>
#include <string>

#include "rgb_image.h"

namespace ort_test {

// Throws std::runtime_error naming the file and stb's reason when it cannot be read or decoded, and RefusedInput,
// before decoding, when its header declares more than `max_pixels` pixels (Limits::max_image_pixels).
RgbImage decode_image_file(const std::string& path, uint64_t max_pixels);

}  // namespace ort_test
