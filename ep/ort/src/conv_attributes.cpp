// The custom-op kernels' half of conv_geometry.h: ConvAttributes from the node's attributes (needs ORT's kernel
// info, so it is not part of the ORT-independent geometry the plugin EP shares).
#include <stdexcept>
#include <string>

#include "conv_geometry.h"
#include "kernel_util.h"

namespace rcnn::ort {

ConvAttributes read_conv_attributes(const AttributeReader& attrs) {
  ConvAttributes a;
  const std::vector<int64_t> strides = int_list(attrs, "strides", {1, 1}, 1);
  const std::vector<int64_t> dilations = int_list(attrs, "dilations", {1, 1}, 1);
  const std::vector<int64_t> pads = int_list(attrs, "pads", {0, 0, 0, 0}, 0);
  a.stride_h = strides[0];
  a.stride_w = strides[1];
  a.dil_h = dilations[0];
  a.dil_w = dilations[1];
  a.pad_top = pads[0];
  a.pad_left = pads[1];
  a.pad_bottom = pads[2];
  a.pad_right = pads[3];
  a.group = attrs.int_or("group", 1);
  if (a.group < 1) throw std::invalid_argument("attribute group must be >= 1, got " + std::to_string(a.group));
  a.relu = flag(attrs, "relu");
  a.pool.enabled = flag(attrs, "pool");
  if (a.pool.enabled) {
    const std::vector<int64_t> kernel = int_list(attrs, "pool_kernel", {1, 1}, 1);
    const std::vector<int64_t> pool_strides = int_list(attrs, "pool_strides", {1, 1}, 1);
    const std::vector<int64_t> pool_pads = int_list(attrs, "pool_pads", {0, 0, 0, 0}, 0);
    a.pool.kh = kernel[0];
    a.pool.kw = kernel[1];
    a.pool.sh = pool_strides[0];
    a.pool.sw = pool_strides[1];
    a.pool.pad_top = pool_pads[0];
    a.pool.pad_left = pool_pads[1];
    a.pool.pad_bottom = pool_pads[2];
    a.pool.pad_right = pool_pads[3];
    a.pool.padding = systolic::PoolPadding::Zero;
    if (a.pool.pad_top >= a.pool.kh || a.pool.pad_bottom >= a.pool.kh || a.pool.pad_left >= a.pool.kw ||
        a.pool.pad_right >= a.pool.kw) {
      throw std::invalid_argument("pool_pads " + format_dims(pool_pads) + " must be smaller than pool_kernel " +
                                  format_dims(kernel));
    }
  }
  return a;
}

}  // namespace rcnn::ort
