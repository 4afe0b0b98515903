// Geometry of a conv unit (int8 or float): per run, the shape of the accelerator call derived from the input dims
// (checked against the weights and bias). No ONNX Runtime dependency.
#pragma once

#include <cstdint>
#include <vector>

#include "systolic/conv.h"

namespace rcnn::ort {

struct ConvAttributes {
  int64_t stride_h = 1, stride_w = 1;
  int64_t dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t group = 1;
  bool relu = false;
  systolic::PoolParams pool;  // the fused MaxPool as the unit gives it (ONNX semantics: padding ignored)
};

struct ConvCall {
  systolic::ConvShape shape;
  std::vector<int64_t> output_dims;  // [N, OH, OW, out_ch]
  bool empty = false;                // N == 0: nothing to compute, the output is empty
};

// X [N,H,W,C] NHWC, W [kh,kw,C/group,out_ch] HWIO, bias [out_ch] when present (nullptr when absent).
ConvCall plan_conv(const ConvAttributes& a, const std::vector<int64_t>& x, const std::vector<int64_t>& w,
                   const std::vector<int64_t>* bias);

}  // namespace rcnn::ort
