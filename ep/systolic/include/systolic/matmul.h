// Matrix multiply on the accelerator model: C = post(D + A * B).
//   int8:  A int8 [I x K], B int8 [K x J], D int32 (none, one row per column, or a full I x J matrix),
//          post = scale by the float32 multiplier, round half to even, saturate to int8, optional ReLU (numerics.h).
//   fp32:  the same with float data, bias added, optional ReLU, no scaling (the fp32 build's multiplier-1 path).
// Quantization forms (MatmulArgs::multipliers, x_zero_point, y_zero_point; the defaults give the form above), which
// make the int8 op equal to ONNX QLinearMatMul (per-tensor or per-column B scales, int8 or uint8 A with any zero
// point):
//   acc[i][j] = D[i][j] + sum_k (A[i][k] - x_zp) * B[k][j]     int32 wrap-around, exact; implemented by adding the
//               per-column correction -x_zp * sum_k B[k][j] to the accumulator init (any BiasKind)
//   C[i][j]   = clamp(RNE(float(acc) * m[j]) + y_zp, lo, 127)  m[j] = multipliers ? multipliers[j] : multiplier,
//               lo = relu ? y_zp : -128 (ReLU clamps at the zero point)
// multipliers[j] = make_multiplier(a_scale, b_scale[j], c_scale) (float32, as ORT forms it). uint8 A/C: the caller
// shifts by 128 exactly as for conv2d (conv.h): x_zero_point = a_zp_u8 - 128, y_zero_point = c_zp_u8 - 128. B is
// int8 with zero point 0 (the caller checks). Per-column multipliers need `per_channel_scale = true` and non-zero
// zero points `zero_points = true` in the config, else matmul throws Error.
// Any I, J, K >= 1; OS/WS pad them to multiples of DIM internally. Row strides (lda, ldb, ldd, ldc) are in
// elements; 0 means "dense" (K, J, J, J). C must not overlap A, B or D. Throws Error on invalid arguments, a
// non-finite multiplier, or a config whose elem type does not match the data type.
#pragma once

#include <cstdint>

#include "systolic/config.h"
#include "systolic/counters.h"
#include "systolic/types.h"

namespace rcnn::systolic {

enum class BiasKind {
  None,       // accumulators start at 0
  PerColumn,  // bias[J], the same row for every output row (Gemmini "repeating bias")
  Full        // bias[I x J] with row stride ldd (the D matrix)
};

struct MatmulArgs {
  int64_t I = 0, J = 0, K = 0;
  const int8_t* A = nullptr;
  int64_t lda = 0;
  const int8_t* B = nullptr;
  int64_t ldb = 0;
  BiasKind bias_kind = BiasKind::None;
  const int32_t* bias = nullptr;
  int64_t ldd = 0;
  float multiplier = 1.0f;
  bool relu = false;
  int8_t* C = nullptr;
  int64_t ldc = 0;
  // Per output column multipliers (J finite values), or null: `multiplier` for every column.
  const float* multipliers = nullptr;
  int8_t x_zero_point = 0;   // A's zero point (int8 domain)
  int32_t y_zero_point = 0;  // C's zero point, in [-128, 127]
};

struct MatmulF32Args {
  int64_t I = 0, J = 0, K = 0;
  const float* A = nullptr;
  int64_t lda = 0;
  const float* B = nullptr;
  int64_t ldb = 0;
  BiasKind bias_kind = BiasKind::None;
  const float* bias = nullptr;
  int64_t ldd = 0;
  bool relu = false;
  float* C = nullptr;
  int64_t ldc = 0;
};

// cfg.elem must be int8.
Counters matmul(const AcceleratorConfig& cfg, Mode mode, const MatmulArgs& args, const ExecOptions& opt = {});
// cfg.elem must be fp32. Accumulation order differs between modes (K is split into tiles in OS/WS), so fp32 results
// agree between modes only up to float rounding; int8 results are bit-identical.
Counters matmul_f32(const AcceleratorConfig& cfg, Mode mode, const MatmulF32Args& args, const ExecOptions& opt = {});

}  // namespace rcnn::systolic
