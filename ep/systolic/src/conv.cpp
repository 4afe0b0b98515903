// conv2d / conv2d_f32: argument checks, then per mode the counting of what the hardware would issue
// (conv_counts.cpp) and the host execution that computes the integers (conv_cpu.h, conv_os.h, conv_ws.h).
#include "systolic/conv.h"

#include <cmath>
#include <string>
#include <vector>

#include "conv_counts.h"
#include "conv_cpu.h"
#include "conv_job.h"
#include "conv_os.h"
#include "conv_ws.h"
#include "conv_ws_tiling.h"
#include "gemm.h"
#include "quant_forms.h"
#include "systolic/tiling.h"

namespace rcnn::systolic {
namespace {

using detail::ConvGeom;
using detail::Job;

// Depthwise-like convs (one input channel per group) compute their integers with the direct tap loop in every
// mode: walking the OS/WS tiling group by group only repeats a 1-channel tile setup per group (23x / 16x the direct
// loop's time on a 56x56x128 depthwise conv), while the sums are exact int32 either way, so the integers cannot
// differ (tests check all modes bit-identical). What the hardware would issue is still counted from the mode's
// tiling below.
bool depthwise_like(const ConvGeom& G) { return G.icg == 1 && G.s.groups > 1; }

template <class Kern, class Post>
Counters run(const AcceleratorConfig& cfg, Mode mode, const Job<typename Kern::In>& j, const Post& post,
             ThreadPool* pool, bool per_channel_scales = false) {
  const ConvGeom& G = j.G;
  const detail::ConvOperands operands{static_cast<int64_t>(sizeof(typename Kern::In)),
                                      static_cast<int64_t>(sizeof(typename Kern::Acc)), j.bias != nullptr,
                                      per_channel_scales};
  switch (mode) {
    case Mode::CPU: {
      detail::execute_cpu<Kern>(j, post, pool);
      return detail::count_conv_cpu(cfg, G);
    }
    case Mode::OS: {
      const MatmulTiles tiles = choose_matmul_tiles(cfg, Mode::OS, G.s.batch * G.OH * G.OW, G.ocg, G.K);
      if (depthwise_like(G)) detail::execute_cpu<Kern>(j, post, pool);
      else detail::execute_os<Kern>(tiles, cfg.dim, j, post, pool);
      return detail::count_conv_os(cfg, G, tiles, operands);
    }
    case Mode::WS: {
      const detail::WsConvTiling tiling = detail::ws_conv_tiling(cfg, G);
      if (depthwise_like(G)) detail::execute_cpu<Kern>(j, post, pool);
      else detail::execute_ws<Kern>(tiling, j, post, pool);
      return detail::count_conv_ws(cfg, G, tiling, operands);
    }
  }
  throw Error("conv2d: unknown mode");
}

template <class T, class B>
void check_pointers(const ConvShape& s, const T* in, const T* w, const B*, const T* out) {
  s.validate();
  if (!in || !w || !out) throw Error("conv2d: input, weights and output must not be null");
}

// The accumulator init with the input zero point folded in: bias[oc] - x_zp * (sum of the weights of oc over all
// kernel taps), int32 wrap-around (exact modulo 2^32 like the accumulator itself).
std::vector<int32_t> fold_input_zero_point(const ConvShape& s, const int8_t* w, const int32_t* bias, int8_t x_zp) {
  const int64_t OC = s.out_ch, K = s.kernel_h * s.kernel_w * s.in_ch_per_group();
  std::vector<int32_t> sums(static_cast<size_t>(OC), 0);  // |sum| <= 128 * K < 2^31 for K < 2^24; wrapped anyway
  for (int64_t k = 0; k < K; ++k) {
    const int8_t* row = w + k * OC;
    for (int64_t oc = 0; oc < OC; ++oc) sums[oc] = wrap_add(sums[oc], row[oc]);
  }
  std::vector<int32_t> folded(static_cast<size_t>(OC));
  for (int64_t oc = 0; oc < OC; ++oc) {
    const uint32_t corr = static_cast<uint32_t>(static_cast<int32_t>(x_zp)) * static_cast<uint32_t>(sums[oc]);
    folded[oc] = wrap_add(bias ? bias[oc] : 0, static_cast<int32_t>(0u - corr));
  }
  return folded;
}

}  // namespace

Counters conv2d(const AcceleratorConfig& cfg, Mode mode, const ConvArgs& a, const ExecOptions& opt) {
  cfg.validate();
  if (cfg.elem != ElemType::Int8) throw Error("conv2d: int8 data needs an int8 accelerator config (elem = \"int8\")");
  check_pointers(a.shape, a.input, a.weights, a.bias, a.output);
  detail::check_quant_forms(cfg, "conv2d", a.multiplier, a.multipliers, a.shape.out_ch, a.x_zero_point,
                            a.y_zero_point);
  std::vector<int32_t> folded_bias;
  if (a.x_zero_point != 0) folded_bias = fold_input_zero_point(a.shape, a.weights, a.bias, a.x_zero_point);
  ConvGeom G(a.shape);
  G.pad_value = a.x_zero_point;
  G.pool_pad_value = a.y_zero_point;
  const Job<int8_t> j{G, a.input, a.weights, folded_bias.empty() ? a.bias : folded_bias.data(), a.output};
  const detail::PostI8 post(a.multiplier, a.multipliers, a.shape.out_ch, a.y_zero_point, a.relu);
  Counters c;
  detail::with_kernel<int8_t>(opt.kernel, [&](auto kern) {
    c = run<decltype(kern)>(cfg, mode, j, post, opt.pool, a.multipliers != nullptr);
  });
  return c;
}

Counters conv2d_f32(const AcceleratorConfig& cfg, Mode mode, const ConvF32Args& a, const ExecOptions& opt) {
  cfg.validate();
  if (cfg.elem != ElemType::Fp32) throw Error("conv2d_f32: fp32 data needs an fp32 accelerator config (elem = \"fp32\")");
  check_pointers(a.shape, a.input, a.weights, a.bias, a.output);
  const Job<float> j{ConvGeom(a.shape), a.input, a.weights, a.bias, a.output};
  const detail::PostF32 post{a.relu};
  Counters c;
  detail::with_kernel<float>(opt.kernel, [&](auto kern) { c = run<decltype(kern)>(cfg, mode, j, post, opt.pool); });
  return c;
}

}  // namespace rcnn::systolic
