#include "image_decode.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "file_io.h"

// The one translation unit holding stb_image's implementation. Only the formats ort_test documents are compiled
// in, and STBI_NO_SIMD keeps the JPEG decoder on its portable path, so x86-64 and riscv64 decode identically.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_NO_SIMD
#define STBI_FAILURE_USERMSG
#include <stb_image.h>

namespace ort_test {
namespace {

constexpr int kRgbChannels = 3;

struct StbiFree {
  void operator()(stbi_uc* pixels) const { stbi_image_free(pixels); }
};

}  // namespace

RgbImage decode_image_file(const std::string& path) {
  // Reading the file ourselves gives OS-level errors ("No such file or directory") instead of stb's generic one.
  const std::vector<uint8_t> bytes = read_file(path);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw std::runtime_error("image '" + path + "' is too large");
  }
  int width = 0;
  int height = 0;
  int channels_in_file = 0;
  std::unique_ptr<stbi_uc, StbiFree> pixels(stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width,
                                                                  &height, &channels_in_file, kRgbChannels));
  if (!pixels) {
    const char* reason = stbi_failure_reason();
    throw std::runtime_error("cannot decode image '" + path + "': " + (reason ? reason : "unknown error"));
  }
  RgbImage image;
  image.width = width;
  image.height = height;
  const size_t size = static_cast<size_t>(width) * static_cast<size_t>(height) * kRgbChannels;
  image.pixels.assign(pixels.get(), pixels.get() + size);
  return image;
}

}  // namespace ort_test
