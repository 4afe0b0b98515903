// The accelerator model's argument structs filled from ORT tensors: one piece of plumbing for the int8 ops (QConv,
// QMatMul) and their fp32 twins (Conv, MatMul), which differ only in element types and the int8 multiplier.
#pragma once

#include <optional>

#include "conv_geometry.h"
#include "kernel_util.h"
#include "matmul_geometry.h"
#include "ort_glue.h"
#include "systolic/conv.h"
#include "systolic/matmul.h"

namespace rcnn::ort {

// Args: systolic::ConvArgs or ConvF32Args; T: element type of X, W and Y; Acc: bias type (int32 or float).
template <typename Args, typename T, typename Acc>
Args conv_args(const ConvCall& call, const InputTensor& x, const InputTensor& w, const std::optional<InputTensor>& b,
               bool relu, void* y) {
  Args args;
  args.shape = call.shape;
  args.input = static_cast<const T*>(x.data);
  args.weights = static_cast<const T*>(w.data);
  args.bias = b ? static_cast<const Acc*>(b->data) : nullptr;
  args.relu = relu;
  args.output = static_cast<T*>(y);
  return args;
}

// Args: systolic::MatmulArgs or MatmulF32Args; a bias, when given, is one value per output column.
template <typename Args, typename T, typename Acc>
Args matmul_args(const MatmulCall& call, const InputTensor& a, const InputTensor& b,
                 const std::optional<InputTensor>& bias, bool relu, void* y) {
  Args args;
  args.I = call.I;
  args.J = call.J;
  args.K = call.K;
  args.A = static_cast<const T*>(a.data);
  args.B = static_cast<const T*>(b.data);
  if (bias) {
    args.bias_kind = systolic::BiasKind::PerColumn;
    args.bias = static_cast<const Acc*>(bias->data);
  }
  args.relu = relu;
  args.C = static_cast<T*>(y);
  return args;
}

}  // namespace rcnn::ort
