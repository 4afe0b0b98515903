// The accelerator model's argument structs filled from planned calls and raw tensor data: one piece of plumbing for
// the compiled chains' int8 and float convs and matmuls, which differ only in element types and the int8
// quantization fields the caller adds. No ONNX Runtime dependency.
#pragma once

#include "conv_geometry.h"
#include "matmul_geometry.h"
#include "systolic/conv.h"
#include "systolic/matmul.h"

namespace rcnn::ort {

// Args: systolic::ConvArgs or ConvF32Args; T: element type of X, W and Y; Acc: bias type (int32 or float).
// x NHWC, w HWIO, b [out_ch] or null, y NHWC (call.output_dims).
template <typename Args, typename T, typename Acc>
Args conv_args(const ConvCall& call, const void* x, const void* w, const void* b, bool relu, void* y) {
  Args args;
  args.shape = call.shape;
  args.input = static_cast<const T*>(x);
  args.weights = static_cast<const T*>(w);
  args.bias = static_cast<const Acc*>(b);
  args.relu = relu;
  args.output = static_cast<T*>(y);
  return args;
}

// Args: systolic::MatmulArgs or MatmulF32Args; a [I, K], b [K, J], bias (one value per output column) or null.
template <typename Args, typename T, typename Acc>
Args matmul_args(const MatmulCall& call, const void* a, const void* b, const void* bias, bool relu, void* y) {
  Args args;
  args.I = call.I;
  args.J = call.J;
  args.K = call.K;
  args.A = static_cast<const T*>(a);
  args.B = static_cast<const T*>(b);
  if (bias != nullptr) {
    args.bias_kind = systolic::BiasKind::PerColumn;
    args.bias = static_cast<const Acc*>(bias);
  }
  args.relu = relu;
  args.C = static_cast<T*>(y);
  return args;
}

}  // namespace rcnn::ort
