#include "image_decode.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "errors.h"
#include "file_io.h"
#include "size_limits.h"

// stb_image copies a PNG's empty IDAT chunk with memcpy(nullptr, src, 0) (found by fuzzing under UBSan): undefined
// behaviour, which also lets the compiler drop stb's later "no IDAT" null check. Its memcpy calls go through this
// wrapper, which skips empty copies (<cstring>, included above, keeps its own declaration).
namespace {
void* stbi_memcpy(void* destination, const void* source, std::size_t size) {
  return size == 0 ? destination : std::memcpy(destination, source, size);
}
}  // namespace
#define memcpy stbi_memcpy

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
#undef memcpy

namespace ort_test {
namespace {

constexpr int kRgbChannels = 3;

struct StbiFree {
  void operator()(stbi_uc* pixels) const { stbi_image_free(pixels); }
};

std::runtime_error decode_error(const std::string& path) {
  const char* reason = stbi_failure_reason();
  return std::runtime_error("cannot decode image '" + path + "': " + (reason ? reason : "unknown error"));
}

// Refuses an image whose header declares more pixels than allowed: decoding allocates for all of them, and a few
// kilobytes of PNG can declare billions. A header stb cannot read is not decoded either.
void check_pixel_count(const std::vector<uint8_t>& bytes, const std::string& path, uint64_t max_pixels) {
  int width = 0;
  int height = 0;
  int channels = 0;
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &channels)) {
    throw decode_error(path);
  }
  // stb accepts a BMP header of width or height 0 and "decodes" it to no pixels (found by fuzzing).
  if (width <= 0 || height <= 0) {
    throw std::runtime_error("cannot decode image '" + path + "': it is " + std::to_string(width) + "x" +
                             std::to_string(height) + " pixels");
  }
  const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);  // < 2^62
  if (pixels <= max_pixels) return;
  throw RefusedInput("image '" + path + "' is " + std::to_string(width) + "x" + std::to_string(height) + " (" +
                     std::to_string(pixels) + " pixels), " + over_the_limit(max_pixels, kMaxImagePixelsVariable));
}

}  // namespace

RgbImage decode_image_file(const std::string& path, uint64_t max_pixels) {
  // Reading the file ourselves gives OS-level errors ("No such file or directory") instead of stb's generic one.
  const std::vector<uint8_t> bytes = read_file(path);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw std::runtime_error("image '" + path + "' is too large");
  }
  check_pixel_count(bytes, path, max_pixels);
  int width = 0;
  int height = 0;
  int channels_in_file = 0;
  std::unique_ptr<stbi_uc, StbiFree> pixels(stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width,
                                                                  &height, &channels_in_file, kRgbChannels));
  if (!pixels) throw decode_error(path);
  RgbImage image;
  image.width = width;
  image.height = height;
  const size_t size = static_cast<size_t>(width) * static_cast<size_t>(height) * kRgbChannels;
  image.pixels.assign(pixels.get(), pixels.get() + size);
  return image;
}

}  // namespace ort_test
