// Size limits ort_test enforces before it allocates on behalf of a model or an image, so that a hostile or broken
// file is refused with a message instead of exhausting memory. Each limit can be changed through an environment
// variable; main() reads them once and passes the Limits down.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace ort_test {

inline constexpr const char* kMaxImagePixelsVariable = "RCNN_MAX_IMAGE_PIXELS";
inline constexpr const char* kMaxTensorBytesVariable = "RCNN_MAX_TENSOR_BYTES";

struct Limits {
  // width * height of an image, checked from its header before it is decoded.
  uint64_t max_image_pixels = 100000000;
  // Bytes of any tensor a model declares, and of the tensor ort_test builds from an image.
  uint64_t max_tensor_bytes = 2147483648;
};

// getenv-like: the variable's value, or nullptr when it is not set.
using EnvironmentLookup = std::function<const char*(const char*)>;

// The defaults, overridden by every variable that is set. Throws UsageError unless a set variable is a positive
// decimal integer (digits only, at most 2^64 - 1).
Limits read_limits(const EnvironmentLookup& lookup);

// read_limits over the process environment.
Limits read_limits_from_environment();

// "over the limit of 100 (RCNN_MAX_IMAGE_PIXELS)": the common tail of every refusal over a limit.
std::string over_the_limit(uint64_t limit, const char* variable);

}  // namespace ort_test
