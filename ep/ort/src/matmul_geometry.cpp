#include "matmul_geometry.h"

#include <stdexcept>
#include <string>

#include "dims.h"

namespace rcnn::ort {

MatmulCall plan_matmul(const std::vector<int64_t>& a, const std::vector<int64_t>& b, const std::vector<int64_t>* bias) {
  if (a.empty()) throw std::invalid_argument("A is a scalar; expected shape [..., K]");
  if (b.size() != 2) throw std::invalid_argument("B has shape " + format_dims(b) + ", expected rank 2 [K, N]");
  element_count(a, "A");
  element_count(b, "B");
  MatmulCall call;
  call.K = a.back();
  call.J = b[1];
  if (b[0] != call.K) {
    throw std::invalid_argument("A " + format_dims(a) + " and B " + format_dims(b) + " do not agree on K (" +
                                std::to_string(call.K) + " vs " + std::to_string(b[0]) + ")");
  }
  if (bias != nullptr && (bias->size() != 1 || (*bias)[0] != call.J)) {
    throw std::invalid_argument("bias has shape " + format_dims(*bias) + ", expected [" + std::to_string(call.J) +
                                "]");
  }
  call.I = 1;
  for (size_t i = 0; i + 1 < a.size(); ++i) call.I *= a[i];
  call.output_dims.assign(a.begin(), a.end() - 1);
  call.output_dims.push_back(call.J);
  call.empty = call.I == 0 || call.J == 0;
  if (!call.empty && call.K == 0) throw std::invalid_argument("A " + format_dims(a) + " has K = 0");
  return call;
}

}  // namespace rcnn::ort
