// Matrix multiply on the accelerator model: C = post(D + A * B).
//   int8:  A int8 [I x K], B int8 [K x J], D int32 (none, one row per column, or a full I x J matrix),
//          post = scale by the float32 multiplier, round half to even, saturate to int8, optional ReLU (numerics.h).
//   fp32:  the same with float data, bias added, optional ReLU, no scaling (the fp32 build's multiplier-1 path).
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
