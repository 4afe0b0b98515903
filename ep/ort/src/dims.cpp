#include "dims.h"

#include <limits>
#include <stdexcept>

namespace rcnn::ort {

std::string format_dims(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? "," : "") + std::to_string(dims[i]);
  return text + "]";
}

int64_t element_count(const std::vector<int64_t>& dims, const char* name) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw std::invalid_argument(std::string(name) + " has a negative dimension " + format_dims(dims));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      throw std::invalid_argument(std::string(name) + " is too large " + format_dims(dims));
    }
    n *= d;
  }
  return n;
}

}  // namespace rcnn::ort
