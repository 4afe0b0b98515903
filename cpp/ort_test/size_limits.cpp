#include "size_limits.h"

#include <charconv>
#include <cstdlib>

#include "errors.h"

namespace ort_test {
namespace {

// Digits only: from_chars alone would accept nothing else either, but an empty string, a sign or spaces must be
// refused explicitly, and zero is no usable limit.
uint64_t parse_positive(const char* variable, const std::string& value) {
  uint64_t parsed = 0;
  const char* end = value.data() + value.size();
  const auto result = std::from_chars(value.data(), end, parsed);
  if (value.empty() || result.ec != std::errc() || result.ptr != end || parsed == 0) {
    throw UsageError(std::string(variable) + " must be a positive integer, got '" + value + "'");
  }
  return parsed;
}

void override_from(const EnvironmentLookup& lookup, const char* variable, uint64_t& limit) {
  if (const char* value = lookup(variable)) limit = parse_positive(variable, value);
}

}  // namespace

Limits read_limits(const EnvironmentLookup& lookup) {
  Limits limits;
  override_from(lookup, kMaxImagePixelsVariable, limits.max_image_pixels);
  override_from(lookup, kMaxTensorBytesVariable, limits.max_tensor_bytes);
  return limits;
}

Limits read_limits_from_environment() {
  return read_limits([](const char* variable) -> const char* { return std::getenv(variable); });
}

std::string over_the_limit(uint64_t limit, const char* variable) {
  return "over the limit of " + std::to_string(limit) + " (" + variable + ")";
}

}  // namespace ort_test
