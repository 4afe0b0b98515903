// 2-D convolution on the accelerator model, NHWC input, HWIO weights, NHWC output, with fused bias, scaling
// (int8), ReLU and max-pool.
//
// Shapes: input [batch][in_h][in_w][in_ch]; weights [kernel_h][kernel_w][in_ch/groups][out_ch] (output channel oc
// belongs to group oc / (out_ch/groups) and reads input channels g*in_ch/groups ...); bias [out_ch] or null;
// output [batch][out_h()][out_w()][out_ch].
//   conv_out_h = (in_h + pad_top + pad_bottom - dil_h*(kernel_h-1) - 1) / stride_h + 1   (floor), conv_out_w alike
//   with pool: out_h = (conv_out_h + pool.pad_top + pool.pad_bottom - pool.kh) / pool.sh + 1 (floor), out_w alike
// Depthwise is groups == in_ch (out_ch = in_ch * multiplier, any multiplier >= 1).
//
// Numerics per output element (int8): acc = bias[oc] + sum x*w (int32 wrap), y = sat8(RNE(float(acc)*multiplier)),
// ReLU after saturation, then the max-pool over the window of post-ReLU int8 values.
// Pool padding: PoolPadding::Zero (default, the reference's semantics) makes padded window positions count as the
// value 0, so without ReLU a window touching the padding yields max(0, ...); PoolPadding::Ignore skips them (ONNX
// MaxPool semantics; every window must then touch at least one real position, which holds when pads < kernel).
// All three modes implement both identically.
//
// Quantization forms (ConvArgs::multipliers, x_zero_point, y_zero_point; all default to the form above), which
// make the op equal to ONNX QLinearConv (per-tensor or per-channel weight scales, int8 or uint8 activations with
// any zero point):
//   acc[oc] = bias[oc] + sum over the kernel taps of (x - x_zp) * w        int32 wrap-around, exact
//             where a padded input position counts as x = x_zp (ONNX QLinearConv pads with the zero point), so
//             padded taps contribute nothing. Implemented by folding -x_zp * (sum of w over the taps of oc) into
//             the int32 bias of each output channel (the accumulator init) and padding im2col rows / direct loops
//             with x_zp: every path (CPU im2col, 1x1 and depthwise loops, OS, WS) reads the same integers.
//   y       = clamp(RNE(float(acc) * m[oc]) + y_zp, lo, 127)    m[oc] = multipliers ? multipliers[oc] : multiplier
//             lo = relu ? y_zp : -128  (ReLU clamps at the zero point, the real value 0)
//   pool    = max over the window of those int8 values; with PoolPadding::Zero, padded window positions count as
//             y_zp (the real value 0, as before); PoolPadding::Ignore skips them, which is exactly ONNX MaxPool on
//             the quantized tensor (max commutes with the monotonic dequantization). With ReLU every value is
//             >= y_zp, so both paddings agree.
// Each multiplier is float32 (x_scale * w_scale[oc]) / y_scale formed by make_multiplier(), as ORT forms it.
// uint8 data is the caller's business, exactly: x_i8 = x_u8 - 128, x_zero_point = x_zp_u8 - 128 (x - x_zp is
// unchanged); y_zero_point = y_zp_u8 - 128 and y_u8 = y_i8 + 128 (the clamp [0, 255] maps to [-128, 127]).
// Weights are int8 with zero point 0 in this model: the caller must check the weight zero points are 0 (or, for
// uint8 weights, subtract w_zp itself when every w - w_zp fits int8).
// Hardware: per-channel multipliers need `per_channel_scale = true` and non-zero zero points `zero_points = true`
// in the accelerator config; otherwise conv2d throws Error (the caller keeps such a node elsewhere).
//
// Modes: CPU runs im2col + packed GEMM (1x1 stride-1 convs read the input directly; depthwise uses a direct loop).
// WS follows the reference's tiled_conv_auto tile loop (generalized to groups: one tiled conv per group). OS, which
// the reference rejects, lowers each group to im2col tiles + OS matmul tiles; its fused pool runs on the host after
// the unpooled output was moved out (counted as mvout bytes).
#pragma once

#include <cstdint>

#include "systolic/config.h"
#include "systolic/counters.h"
#include "systolic/types.h"

namespace rcnn::systolic {

enum class PoolPadding { Zero, Ignore };

struct PoolParams {
  bool enabled = false;
  int64_t kh = 1, kw = 1;
  int64_t sh = 1, sw = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  PoolPadding padding = PoolPadding::Zero;
};

struct ConvShape {
  int64_t batch = 1;
  int64_t in_h = 1, in_w = 1, in_ch = 1;
  int64_t out_ch = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t groups = 1;
  PoolParams pool;

  int64_t conv_out_h() const noexcept;
  int64_t conv_out_w() const noexcept;
  int64_t out_h() const noexcept;  // after the pool when enabled
  int64_t out_w() const noexcept;
  int64_t in_ch_per_group() const noexcept { return in_ch / groups; }
  int64_t out_ch_per_group() const noexcept { return out_ch / groups; }
  int64_t input_elems() const noexcept { return batch * in_h * in_w * in_ch; }
  int64_t weight_elems() const noexcept { return kernel_h * kernel_w * in_ch_per_group() * out_ch; }
  int64_t output_elems() const noexcept { return batch * out_h() * out_w() * out_ch; }
  int64_t macs() const noexcept;  // batch * conv_out_h * conv_out_w * out_ch * kernel_h * kernel_w * in_ch/groups
  // Throws Error: sizes >= 1, pads >= 0, groups divide both channel counts, outputs non-empty, pool pads < pool
  // kernel, element counts below 2^40.
  void validate() const;
};

struct ConvArgs {
  ConvShape shape;
  const int8_t* input = nullptr;
  const int8_t* weights = nullptr;
  const int32_t* bias = nullptr;  // out_ch values, or null
  float multiplier = 1.0f;
  bool relu = false;
  int8_t* output = nullptr;  // must not overlap the inputs
  // Per output channel multipliers (out_ch finite values), or null: `multiplier` for every channel.
  const float* multipliers = nullptr;
  int8_t x_zero_point = 0;   // input zero point (int8 domain); padded positions count as it
  int32_t y_zero_point = 0;  // output zero point, in [-128, 127]
};

struct ConvF32Args {
  ConvShape shape;
  const float* input = nullptr;
  const float* weights = nullptr;
  const float* bias = nullptr;
  bool relu = false;
  float* output = nullptr;
};

// cfg.elem must be int8.
Counters conv2d(const AcceleratorConfig& cfg, Mode mode, const ConvArgs& args, const ExecOptions& opt = {});
// cfg.elem must be fp32; accumulation order differs between modes (results agree up to float rounding).
Counters conv2d_f32(const AcceleratorConfig& cfg, Mode mode, const ConvF32Args& args, const ExecOptions& opt = {});

}  // namespace rcnn::systolic
