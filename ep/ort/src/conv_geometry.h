// Geometry of QConv / Conv: the attributes (read and checked at kernel creation) and, per Compute, the shape of the
// call derived from the input dims (checked against the weights and bias). plan_conv has no ORT dependency: the
// plugin EP's compiled chains (ep/ort/plugin) plan their convs with it too; read_conv_attributes (defined in
// conv_attributes.cpp) is the custom-op kernels' own.
#pragma once

#include <cstdint>
#include <vector>

#include "systolic/conv.h"

namespace rcnn::ort {

class AttributeReader;  // ort_glue.h

struct ConvAttributes {
  int64_t stride_h = 1, stride_w = 1;
  int64_t dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t group = 1;
  bool relu = false;
  systolic::PoolParams pool;  // padding counts as value 0 (PoolPadding::Zero), the reference's semantics
};

// strides [sh,sw], dilations [dh,dw], pads [t,l,b,r], group, relu, pool, pool_kernel [kh,kw],
// pool_strides [sh,sw], pool_pads [t,l,b,r] (ep/ort/README.md); absent ones take ONNX's defaults.
ConvAttributes read_conv_attributes(const AttributeReader& attrs);

struct ConvCall {
  systolic::ConvShape shape;
  std::vector<int64_t> output_dims;  // [N, OH, OW, out_ch]
  bool empty = false;                // N == 0: nothing to compute, the output is empty
};

// X [N,H,W,C] NHWC, W [kh,kw,C/group,out_ch] HWIO, bias [out_ch] when present (nullptr when absent).
ConvCall plan_conv(const ConvAttributes& a, const std::vector<int64_t>& x, const std::vector<int64_t>& w,
                   const std::vector<int64_t>* bias);

}  // namespace rcnn::ort
