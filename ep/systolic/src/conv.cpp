// conv2d / conv2d_f32: argument checks, then per mode the counting of what the hardware would issue
// (conv_counts.cpp) and the host execution that computes the integers (conv_cpu.h, conv_os.h, conv_ws.h).
#include "systolic/conv.h"

#include <cmath>

#include "conv_counts.h"
#include "conv_cpu.h"
#include "conv_job.h"
#include "conv_os.h"
#include "conv_ws.h"
#include "conv_ws_tiling.h"
#include "gemm.h"
#include "systolic/tiling.h"

namespace rcnn::systolic {
namespace {

using detail::ConvGeom;
using detail::Job;

template <class Kern, class Post>
Counters run(const AcceleratorConfig& cfg, Mode mode, const Job<typename Kern::In>& j, const Post& post,
             ThreadPool* pool) {
  const ConvGeom& G = j.G;
  const detail::ConvOperands operands{static_cast<int64_t>(sizeof(typename Kern::In)),
                                      static_cast<int64_t>(sizeof(typename Kern::Acc)), j.bias != nullptr};
  switch (mode) {
    case Mode::CPU: {
      detail::execute_cpu<Kern>(j, post, pool);
      return detail::count_conv_cpu(cfg, G);
    }
    case Mode::OS: {
      const MatmulTiles tiles = choose_matmul_tiles(cfg, Mode::OS, G.s.batch * G.OH * G.OW, G.ocg, G.K);
      detail::execute_os<Kern>(tiles, cfg.dim, j, post, pool);
      return detail::count_conv_os(cfg, G, tiles, operands);
    }
    case Mode::WS: {
      const detail::WsConvTiling tiling = detail::ws_conv_tiling(cfg, G);
      detail::execute_ws<Kern>(tiling, j, post, pool);
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

}  // namespace

Counters conv2d(const AcceleratorConfig& cfg, Mode mode, const ConvArgs& a, const ExecOptions& opt) {
  cfg.validate();
  if (cfg.elem != ElemType::Int8) throw Error("conv2d: int8 data needs an int8 accelerator config (elem = \"int8\")");
  if (!std::isfinite(a.multiplier)) throw Error("conv2d: the multiplier must be finite");
  check_pointers(a.shape, a.input, a.weights, a.bias, a.output);
  const Job<int8_t> j{ConvGeom(a.shape), a.input, a.weights, a.bias, a.output};
  const detail::PostI8 post{a.multiplier, a.relu};
  Counters c;
  detail::with_kernel<int8_t>(opt.kernel, [&](auto kern) { c = run<decltype(kern)>(cfg, mode, j, post, opt.pool); });
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
