#include "conv_geometry.h"

#include <stdexcept>
#include <string>

#include "dims.h"

namespace rcnn::ort {

ConvCall plan_conv(const ConvAttributes& a, const std::vector<int64_t>& x, const std::vector<int64_t>& w,
                   const std::vector<int64_t>* bias) {
  if (x.size() != 4) throw std::invalid_argument("X has shape " + format_dims(x) + ", expected rank 4 (NHWC)");
  if (w.size() != 4) throw std::invalid_argument("W has shape " + format_dims(w) + ", expected rank 4 (HWIO)");
  element_count(x, "X");
  element_count(w, "W");
  const int64_t out_ch = w[3];
  if (x[3] != w[2] * a.group) {
    throw std::invalid_argument("X " + format_dims(x) + " has " + std::to_string(x[3]) + " channels, but W " +
                                format_dims(w) + " with group " + std::to_string(a.group) + " expects " +
                                std::to_string(w[2] * a.group));
  }
  if (out_ch % a.group != 0) {
    throw std::invalid_argument("W " + format_dims(w) + " has " + std::to_string(out_ch) +
                                " output channels, not a multiple of group " + std::to_string(a.group));
  }
  if (bias != nullptr && (bias->size() != 1 || (*bias)[0] != out_ch)) {
    throw std::invalid_argument("B has shape " + format_dims(*bias) + ", expected [" + std::to_string(out_ch) + "]");
  }
  ConvCall call;
  systolic::ConvShape& s = call.shape;
  s.batch = x[0] == 0 ? 1 : x[0];  // an empty batch still gets its geometry checked
  s.in_h = x[1];
  s.in_w = x[2];
  s.in_ch = x[3];
  s.out_ch = out_ch;
  s.kernel_h = w[0];
  s.kernel_w = w[1];
  s.stride_h = a.stride_h;
  s.stride_w = a.stride_w;
  s.dil_h = a.dil_h;
  s.dil_w = a.dil_w;
  s.pad_top = a.pad_top;
  s.pad_left = a.pad_left;
  s.pad_bottom = a.pad_bottom;
  s.pad_right = a.pad_right;
  s.groups = a.group;
  s.pool = a.pool;
  try {
    s.validate();
  } catch (const systolic::Error& e) {
    throw std::invalid_argument(std::string(e.what()) + " (X " + format_dims(x) + ", W " + format_dims(w) + ")");
  }
  call.output_dims = {x[0], s.out_h(), s.out_w(), out_ch};
  call.empty = x[0] == 0;
  return call;
}

}  // namespace rcnn::ort
