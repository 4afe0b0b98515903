// Float32 -> int8 on the way into the accelerator: the quantization of an input activation (ONNX QuantizeLinear,
// per tensor), done where the accelerator's arithmetic runs so that a driver hands it float data as it comes from
// the CPU's float ops (an image, RoiAlign's crops) instead of quantizing element by element on the CPU.
//
//   y = clamp(RNE(x / scale) + zero_point, -128, 127)      x / scale one float32 division, RNE half to even
//
// NaN quantizes to -128 (x86 ONNX Runtime's kernel does the same: its clamp keeps the bound when x / scale is NaN).
// uint8 tensors: the caller passes the int8-domain zero point (zp_u8 - 128) and gets y_u8 - 128, which is the
// same integer shifted (clamp(r + zp_u8, 0, 255) - 128 == clamp(r + zp_u8 - 128, -128, 127)).
// Layout: x is [batch, channels, spatial] (NCHW with spatial = H * W); y is the same, or [batch, spatial, channels]
// (NHWC, the layout the conv reads) when to_nhwc. Not counted: no MACs, no tiles.
#pragma once

#include <cstdint>

#include "systolic/types.h"

namespace rcnn::systolic {

struct QuantizeArgs {
  int64_t batch = 0, channels = 0, spatial = 0;
  const float* X = nullptr;
  int8_t* Y = nullptr;  // must not overlap X
  float scale = 1.0f;
  int32_t zero_point = 0;  // int8 domain, in [-128, 127]
  bool to_nhwc = false;
};

// Throws Error on negative sizes, null pointers with elements, a scale that is not finite and > 0, or a zero point
// outside [-128, 127].
void quantize(const QuantizeArgs& args, const ExecOptions& opt = {});

// One value (exposed for the tests and the EP's tables).
int8_t quantize_value(float x, float scale, int32_t zero_point) noexcept;

}  // namespace rcnn::systolic
