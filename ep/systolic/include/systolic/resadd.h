// Residual add (QLinearAdd) with Gemmini's semantics: c = clamp(a' + b', relu ? 0 : -128, 127), where
// a' = sat8(RNE(float(a) * a_ratio)) and b' likewise, a_ratio = a_scale / c_scale in float32 (make_ratio()).
// Inputs and output are flat int8 arrays of n elements (same shape, no broadcasting); C may alias A or B exactly.
//
// Zero points (a_zero_point, b_zero_point, c_zero_point; default 0, which is the form above): each input is
// centred on its zero point before its scaled mvin and the output zero point is added before the final clamp:
//   a' = sat8(RNE(float(a - a_zp) * a_ratio)),  b' likewise,  c = clamp(a' + b' + c_zp, relu ? c_zp : -128, 127)
// (resadd_elem_zp). uint8 tensors: the caller shifts data and zero points by 128 (see conv.h). Non-zero zero points
// need `zero_points = true` in the config, else resadd throws Error.
// Against com.microsoft.QLinearAdd (ONNX Runtime rounds once: c = clamp(RNE((a - a_zp) * a_s/c_s +
// (b - b_zp) * b_s/c_s) + c_zp)) this rounds each input on its own, so results differ by at most 1 LSB where no
// intermediate saturation happens (|a'|, |b'| <= 127), and more where one input's scaled value alone leaves
// [-128, 127] (the hardware's scaled mvin saturates).
//
// CPU: an element loop. OS and WS (the reference's OS rejects resadds): the tensor is laid out like the reference,
// a DIM x floor(n/DIM) matrix plus a 1 x (n mod DIM) tail, tiled by columns so a tile fills at most the accumulator
// (WS: half of it, double-buffered); each tile is a scaled mvin of A into the accumulator, a scaled accumulating
// mvin of B, and a saturating mvout. All modes give identical results.
#pragma once

#include <cstdint>

#include "systolic/config.h"
#include "systolic/counters.h"
#include "systolic/types.h"

namespace rcnn::systolic {

struct ResaddArgs {
  int64_t n = 0;
  const int8_t* A = nullptr;
  float a_ratio = 1.0f;
  const int8_t* B = nullptr;
  float b_ratio = 1.0f;
  bool relu = false;
  int8_t* C = nullptr;
  int8_t a_zero_point = 0;
  int8_t b_zero_point = 0;
  int32_t c_zero_point = 0;  // in [-128, 127]
};

// cfg.elem must be int8. Throws Error on null pointers with n > 0, negative n or non-finite ratios.
Counters resadd(const AcceleratorConfig& cfg, Mode mode, const ResaddArgs& args, const ExecOptions& opt = {});

// Column-tile width (elements) OS/WS use for a resadd of `cols` columns laid out as `rows` rows (exposed for tests):
// the largest multiple of DIM with rows * ceil(width/DIM) <= accumulator limit (at least DIM, at most cols).
int64_t resadd_tile_cols(const AcceleratorConfig& cfg, Mode mode, int64_t rows, int64_t cols);

}  // namespace rcnn::systolic
