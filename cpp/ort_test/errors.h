// Error categories of ort_test. main() turns them into exit codes:
//   2  UsageError: the command line (or a limit in the environment) is wrong;
//   3  RefusedInput: a model or image ort_test will not hand to ONNX Runtime or the decoder, because it is unsafe
//      (external data outside the model's folder, inconsistent sizes) or over a limit (limits.h);
//   1  every other std::exception.
#pragma once

#include <stdexcept>
#include <string>

namespace ort_test {

class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& message) : std::runtime_error(message) {}
};

class RefusedInput : public std::runtime_error {
 public:
  explicit RefusedInput(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace ort_test
