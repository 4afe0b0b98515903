// What the accelerator would issue for one conv2d call, per mode (counters.h, counter_fields.def): pure functions of
// the geometry, the tiling, the config and the operands' sizes. The host executions (conv_cpu.h, conv_os.h,
// conv_ws.h) compute the integers and never count. Internal header.
#pragma once

#include <cstdint>

#include "conv_geom.h"
#include "conv_ws_tiling.h"
#include "systolic/config.h"
#include "systolic/counters.h"
#include "systolic/tiling.h"

namespace rcnn::systolic::detail {

// Sizes of what moves: input/weight/output elements (int8: 1, fp32: 4), accumulator/bias elements (4), whether a
// bias is loaded into the accumulator (also when only the input zero point's correction is: it is a bias), and
// whether every mvout loads per-channel scales (float32 per output channel).
struct ConvOperands {
  int64_t elem_bytes = 1;
  int64_t acc_bytes = 4;
  bool has_bias = false;
  bool per_channel_scales = false;
};

// CPU: the MACs only.
Counters count_conv_cpu(const AcceleratorConfig& cfg, const ConvGeom& G);
// OS: per group, the OS matmul walk of its im2col GEMM in `tiles`; outputs moved out unpooled.
Counters count_conv_os(const AcceleratorConfig& cfg, const ConvGeom& G, const MatmulTiles& tiles,
                       const ConvOperands& operands);
// WS: per group, every (spatial tile, out-channel tile, kernel tile) of `tiling`; outputs moved out pooled.
Counters count_conv_ws(const AcceleratorConfig& cfg, const ConvGeom& G, const WsConvTiling& tiling,
                       const ConvOperands& operands);

}  // namespace rcnn::systolic::detail
