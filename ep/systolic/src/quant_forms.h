// Checks shared by the ops that take the quantization forms (conv.h, matmul.h): per-channel multipliers, input and
// output zero points, against what the accelerator config says the hardware has. Internal header.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "systolic/config.h"
#include "systolic/types.h"

namespace rcnn::systolic::detail {

// Throws Error: a non-finite multiplier (the per-tensor one when `multipliers` is null, else each of the `columns`
// per-channel ones), an output zero point outside [-128, 127], per-channel multipliers on a config without
// per_channel_scale, non-zero zero points on a config without zero_points.
inline void check_quant_forms(const AcceleratorConfig& cfg, const char* op, float multiplier,
                              const float* multipliers, int64_t columns, int32_t x_zero_point,
                              int32_t y_zero_point) {
  const std::string name(op);
  if (!multipliers && !std::isfinite(multiplier)) throw Error(name + ": the multiplier must be finite");
  if (multipliers) {
    if (!cfg.per_channel_scale)
      throw Error(name + ": per-channel multipliers need an accelerator with per-channel output scales "
                         "(the config says per_channel_scale = false)");
    for (int64_t c = 0; c < columns; ++c)
      if (!std::isfinite(multipliers[c]))
        throw Error(name + ": multiplier " + std::to_string(c) + " of the per-channel multipliers is not finite");
  }
  if (y_zero_point < -128 || y_zero_point > 127)
    throw Error(name + ": the output zero point must be in [-128, 127] (int8 domain), got " +
                std::to_string(y_zero_point));
  if ((x_zero_point != 0 || y_zero_point != 0) && !cfg.zero_points)
    throw Error(name + ": non-zero zero points (input " + std::to_string(x_zero_point) + ", output " +
                std::to_string(y_zero_point) + ") need an accelerator with zero-point support (the config says "
                "zero_points = false)");
}

}  // namespace rcnn::systolic::detail
