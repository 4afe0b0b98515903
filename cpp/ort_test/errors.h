// Error categories of ort_test. main() turns them into exit codes: a UsageError (the command line itself is
// wrong) exits 2, every other std::exception exits 1.
#pragma once

#include <stdexcept>
#include <string>

namespace ort_test {

class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace ort_test
