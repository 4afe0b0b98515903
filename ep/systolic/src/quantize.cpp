#include "systolic/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "systolic/numerics.h"
#include "systolic/thread_pool.h"

namespace rcnn::systolic {

namespace {

// RNE of |v| < 2^22 to an integer. On RISC-V one fcvt.w.s with a static round-to-nearest-even mode: under qemu every
// floating-point instruction is a call into its soft-float helpers, so this path keeps two of them per element (the
// division and this conversion) and does the clamps on integers. Elsewhere the add-and-subtract trick.
inline int32_t rne_to_int(float v) noexcept {
#if defined(__riscv) && defined(__riscv_flen)
  int32_t r;
  asm("fcvt.w.s %0, %1, rne" : "=r"(r) : "f"(v));
  return r;
#else
  return static_cast<int32_t>(rne_small(v));
#endif
}

}  // namespace

int8_t quantize_value(float x, float scale, int32_t zero_point) noexcept {
  const float v = x / scale;
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return -128;  // NaN: the lower bound, as x86 ONNX Runtime's clamp leaves it
  if (magnitude >= 0x4a800000u) return (bits >> 31) != 0 ? -128 : 127;  // |v| >= 2^22 (and inf): saturated
  const int32_t q = rne_to_int(v) + zero_point;  // rounding is monotone, so clamping after it equals before
  return static_cast<int8_t>(q < -128 ? -128 : (q > 127 ? 127 : q));
}

void quantize(const QuantizeArgs& a, const ExecOptions& opt) {
  if (a.batch < 0 || a.channels < 0 || a.spatial < 0) throw Error("quantize: negative size");
  if (a.batch == 0 || a.channels == 0 || a.spatial == 0) return;
  if (a.X == nullptr || a.Y == nullptr) throw Error("quantize: null data");
  if (!(std::isfinite(a.scale) && a.scale > 0.0f))
    throw Error("quantize: scale " + std::to_string(a.scale) + " is not finite and positive");
  if (a.zero_point < -128 || a.zero_point > 127)
    throw Error("quantize: zero point " + std::to_string(a.zero_point) + " is outside [-128, 127]");
  const int64_t C = a.channels, S = a.spatial;
  auto rows = [&](int64_t begin, int64_t end) {  // row r = (n, c): S contiguous inputs
    for (int64_t r = begin; r < end; ++r) {
      const float* x = a.X + r * S;
      const int64_t n = r / C, c = r % C;
      if (a.to_nhwc) {
        int8_t* y = a.Y + n * S * C + c;
        for (int64_t s = 0; s < S; ++s) y[s * C] = quantize_value(x[s], a.scale, a.zero_point);
      } else {
        int8_t* y = a.Y + r * S;
        for (int64_t s = 0; s < S; ++s) y[s] = quantize_value(x[s], a.scale, a.zero_point);
      }
    }
  };
  // Blocks of rows per task: enough work each to pay for the hand-off.
  const int64_t total_rows = a.batch * C;
  const int64_t per_task = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(S, 1));
  const int64_t tasks = (total_rows + per_task - 1) / per_task;
  parallel_for(opt.pool, static_cast<std::size_t>(tasks), [&](std::size_t t, unsigned) {
    const int64_t begin = static_cast<int64_t>(t) * per_task;
    rows(begin, std::min(total_rows, begin + per_task));
  });
}

}  // namespace rcnn::systolic
