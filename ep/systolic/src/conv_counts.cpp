// Event counting of conv2d per mode (conv_counts.h; the rules are in counters.h and counter_fields.def).
#include "conv_counts.h"

#include <algorithm>

#include "tile_counts.h"

namespace rcnn::systolic::detail {
namespace {

// Every group runs the same tiled GEMM or conv, so a group is counted once and added `groups` times.
Counters times_groups(const Counters& group, int64_t groups) {
  Counters total;
  for (int64_t g = 0; g < groups; ++g) total += group;
  return total;
}

// Array rows come in DIM-pixel chunks of one output row.
int64_t pixel_blocks(int64_t D, const WsSpatialTile& sp) { return sp.nb * sp.rows() * blocks(sp.cols(), D); }

// One WS tile (spatial tile sp, an out-channel tile of noc channels, kernel tile k): the input patch and the weight
// box moved into the scratchpad, and the computes over them (each with its preload).
void count_ws_tile(Counters& c, int64_t D, const ConvGeom& G, const WsSpatialTile& sp, const WsKernelTile& k,
                   int64_t noc, int64_t elem_bytes) {
  const ConvShape& s = G.s;
  c.tiles += 1;
  // Input patch: the bounding rows/cols the tile's taps touch, clipped to the image (padding is not moved).
  const int64_t ir_lo = sp.or_lo * s.stride_h - s.pad_top + k.kr0 * s.dil_h;
  const int64_t ir_hi = (sp.or_hi - 1) * s.stride_h - s.pad_top + (k.kr0 + k.nkr - 1) * s.dil_h + 1;
  const int64_t icl_lo = sp.ocl_lo * s.stride_w - s.pad_left + k.kc0 * s.dil_w;
  const int64_t icl_hi = (sp.ocl_hi - 1) * s.stride_w - s.pad_left + (k.kc0 + k.nkc - 1) * s.dil_w + 1;
  const int64_t irows = std::max<int64_t>(0, std::min(s.in_h, ir_hi) - std::max<int64_t>(0, ir_lo));
  const int64_t icols = std::max<int64_t>(0, std::min(s.in_w, icl_hi) - std::max<int64_t>(0, icl_lo));
  c.mvin_sp_bytes += u64(sp.nb * irows * icols * k.nic * elem_bytes);
  c.mvin_cmds += u64(sp.nb * irows * blocks(icols, D) * blocks(k.nic, D));
  // Weight box.
  c.mvin_sp_bytes += u64(k.box() * noc * elem_bytes);
  c.mvin_cmds += u64(k.nkr * k.nkc * blocks(k.nic, D) * blocks(noc, D));
  // Every weight block meets every chunk of DIM pixels.
  const int64_t weight_blocks = blocks(noc, D) * k.nkr * k.nkc * blocks(k.nic, D);
  const int64_t computes = weight_blocks * pixel_blocks(D, sp);
  c.preloads += u64(computes);
  c.compute_preloaded += u64(weight_blocks);
  c.compute_accumulated += u64(computes - weight_blocks);
  c.padded_macs += u64(computes) * u64(D * D * D);
}

// The bias of the accumulator tile (sp, noc channels) moved in before its first kernel tile.
void count_ws_bias_load(Counters& c, int64_t D, const WsSpatialTile& sp, int64_t noc, const ConvOperands& o) {
  if (!o.has_bias) return;
  c.mvin_acc_bytes += u64(sp.pixels() * noc * o.acc_bytes);
  c.mvin_cmds += u64(pixel_blocks(D, sp) * blocks(noc, D));
}

// The outputs of the accumulator tile (sp, noc channels) moved out after its last kernel tile, after the fused pool
// when there is one.
void count_ws_store(Counters& c, int64_t D, const ConvGeom& G, const WsSpatialTile& sp, int64_t noc,
                    const ConvOperands& o) {
  const int64_t elem_bytes = o.elem_bytes;
  if (o.per_channel_scales) count_scale_load(c, D, noc);
  if (!G.pooled()) {
    c.mvout_bytes += u64(sp.pixels() * noc * elem_bytes);
    c.mvout_cmds += u64(pixel_blocks(D, sp) * blocks(noc, D));
  } else {
    c.mvout_bytes += u64(sp.nb * sp.npr * sp.npc * noc * elem_bytes);
    c.mvout_cmds += u64(sp.nb * sp.npr * blocks(sp.npc, D) * blocks(noc, D));
  }
}

}  // namespace

Counters count_conv_cpu(const AcceleratorConfig& cfg, const ConvGeom& G) {
  Counters c;
  finish_call(c, cfg, Mode::CPU, u64(G.s.macs()), true);
  return c;
}

Counters count_conv_os(const AcceleratorConfig& cfg, const ConvGeom& G, const MatmulTiles& tiles,
                       const ConvOperands& operands) {
  const Counters group = count_tiled_matmul(cfg.dim, Mode::OS, G.s.batch * G.OH * G.OW, G.ocg, G.K, tiles,
                                            operands.elem_bytes, operands.acc_bytes, operands.has_bias,
                                            operands.per_channel_scales);
  Counters c = times_groups(group, G.s.groups);
  finish_call(c, cfg, Mode::OS, u64(G.s.macs()), true);
  return c;
}

Counters count_conv_ws(const AcceleratorConfig& cfg, const ConvGeom& G, const WsConvTiling& tiling,
                       const ConvOperands& operands) {
  const int64_t D = cfg.dim;
  Counters group;
  for (int64_t si = 0; si < tiling.spatial_tiles(); ++si) {
    const WsSpatialTile sp = ws_spatial_tile(G, tiling, si);
    for (int64_t ti_oc = 0; ti_oc < tiling.n_och; ++ti_oc) {
      const int64_t noc = ws_channel_tile(G, tiling, ti_oc).noc;
      count_ws_bias_load(group, D, sp, noc, operands);
      for (int64_t tk = 0; tk < tiling.kernel_tiles(); ++tk)
        count_ws_tile(group, D, G, sp, ws_kernel_tile(G, tiling, tk), noc, operands.elem_bytes);
      count_ws_store(group, D, G, sp, noc, operands);
    }
  }
  Counters c = times_groups(group, G.s.groups);
  finish_call(c, cfg, Mode::WS, u64(G.s.macs()), true);
  return c;
}

}  // namespace rcnn::systolic::detail
