// The size limits and their environment variables: defaults, overrides, and a usage error for anything but a
// positive decimal integer.
#include <map>
#include <string>

#include "check.h"
#include "errors.h"
#include "size_limits.h"

using namespace ort_test;

namespace {

// An environment holding exactly `variables`.
EnvironmentLookup environment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const char* name) -> const char* {
    const auto found = variables.find(name);
    return found == variables.end() ? nullptr : found->second.c_str();
  };
}

void defaults(test::Checker& t) {
  const Limits limits = read_limits(environment({}));
  CHECK_EQ(limits.max_image_pixels, uint64_t{100000000});
  CHECK_EQ(limits.max_tensor_bytes, uint64_t{2147483648});
  CHECK_EQ(over_the_limit(7, kMaxTensorBytesVariable), std::string("over the limit of 7 (RCNN_MAX_TENSOR_BYTES)"));
}

void overrides(test::Checker& t) {
  const Limits both = read_limits(environment({{"RCNN_MAX_IMAGE_PIXELS", "20"}, {"RCNN_MAX_TENSOR_BYTES", "1"}}));
  CHECK_EQ(both.max_image_pixels, uint64_t{20});
  CHECK_EQ(both.max_tensor_bytes, uint64_t{1});
  const Limits one = read_limits(environment({{"RCNN_MAX_TENSOR_BYTES", "18446744073709551615"}}));
  CHECK_EQ(one.max_image_pixels, uint64_t{100000000});
  CHECK_EQ(one.max_tensor_bytes, uint64_t{18446744073709551615u});
  CHECK_EQ(read_limits(environment({{"RCNN_MAX_IMAGE_PIXELS", "007"}})).max_image_pixels, uint64_t{7});
}

void refuses_bad_values(test::Checker& t) {
  for (const char* bad : {"0", "-5", "", "abc", "1e9", " 5", "5 ", "+5", "0x10", "18446744073709551616", "1.5"}) {
    const std::string expected = std::string("RCNN_MAX_IMAGE_PIXELS must be a positive integer, got '") + bad + "'";
    CHECK_THROWS(read_limits(environment({{"RCNN_MAX_IMAGE_PIXELS", bad}})), expected);
  }
  CHECK_THROWS(read_limits(environment({{"RCNN_MAX_TENSOR_BYTES", "0"}})),
               "RCNN_MAX_TENSOR_BYTES must be a positive integer, got '0'");
  bool usage_error = false;
  try {
    read_limits(environment({{"RCNN_MAX_TENSOR_BYTES", "x"}}));
  } catch (const UsageError&) {
    usage_error = true;  // exit status 2, like a bad flag
  }
  CHECK(usage_error);
}

}  // namespace

int main() {
  return test::run_tests("size_limits", {{"defaults", defaults},
                                         {"overrides", overrides},
                                         {"refuses_bad_values", refuses_bad_values}});
}
