// The WS tiling of a conv (see conv_ws_tiling.h).
#include "conv_ws_tiling.h"

#include <algorithm>

#include "gemm.h"

namespace rcnn::systolic::detail {

WsConvTiling ws_conv_tiling(const AcceleratorConfig& cfg, const ConvGeom& G) {
  const ConvShape& s = G.s;
  ConvTileProblem tp;
  tp.batch = s.batch;
  tp.pooled_rows = G.POH;
  tp.pooled_cols = G.POW;
  tp.out_ch = G.ocg;
  tp.in_ch = G.icg;
  tp.kernel_h = s.kernel_h;
  tp.kernel_w = s.kernel_w;
  tp.stride_h = s.stride_h;
  tp.stride_w = s.stride_w;
  tp.dil_h = s.dil_h;
  tp.dil_w = s.dil_w;
  tp.pool_kh = G.pkh;
  tp.pool_kw = G.pkw;
  tp.pool_sh = G.psh;
  tp.pool_sw = G.psw;
  WsConvTiling t;
  t.size = choose_conv_tiles(cfg, tp);
  t.n_batch = ceil_div(s.batch, t.size.batches);
  t.n_prow = ceil_div(G.POH, t.size.porows);
  t.n_pcol = ceil_div(G.POW, t.size.pocols);
  t.n_och = ceil_div(G.ocg, t.size.ochs);
  t.n_krow = ceil_div(s.kernel_h, t.size.krows);
  t.n_kcol = ceil_div(s.kernel_w, t.size.kcols);
  t.n_kch = ceil_div(G.icg, t.size.kchs);
  return t;
}

WsSpatialTile ws_spatial_tile(const ConvGeom& G, const WsConvTiling& t, int64_t index) {
  const int64_t ti_pc = index % t.n_pcol;
  const int64_t ti_pr = index / t.n_pcol % t.n_prow;
  const int64_t ti_b = index / t.n_pcol / t.n_prow;
  WsSpatialTile sp;
  sp.b0 = ti_b * t.size.batches;
  sp.nb = std::min(t.size.batches, G.s.batch - sp.b0);
  sp.pr0 = ti_pr * t.size.porows;
  sp.npr = std::min(t.size.porows, G.POH - sp.pr0);
  sp.pc0 = ti_pc * t.size.pocols;
  sp.npc = std::min(t.size.pocols, G.POW - sp.pc0);
  // The pool windows of the tile's pooled outputs (1x1/1 without a pool), clipped to the conv output.
  sp.or_lo = std::max<int64_t>(0, sp.pr0 * G.psh - G.ppt);
  sp.or_hi = std::min(G.OH, (sp.pr0 + sp.npr - 1) * G.psh - G.ppt + G.pkh);
  sp.ocl_lo = std::max<int64_t>(0, sp.pc0 * G.psw - G.ppl);
  sp.ocl_hi = std::min(G.OW, (sp.pc0 + sp.npc - 1) * G.psw - G.ppl + G.pkw);
  return sp;
}

WsKernelTile ws_kernel_tile(const ConvGeom& G, const WsConvTiling& t, int64_t index) {
  const int64_t tic = index % t.n_kch;
  const int64_t tkc = index / t.n_kch % t.n_kcol;
  const int64_t tkr = index / t.n_kch / t.n_kcol;
  WsKernelTile k;
  k.kr0 = tkr * t.size.krows;
  k.nkr = std::min(t.size.krows, G.s.kernel_h - k.kr0);
  k.kc0 = tkc * t.size.kcols;
  k.nkc = std::min(t.size.kcols, G.s.kernel_w - k.kc0);
  k.ic0 = tic * t.size.kchs;
  k.nic = std::min(t.size.kchs, G.icg - k.ic0);
  return k;
}

WsChannelTile ws_channel_tile(const ConvGeom& G, const WsConvTiling& t, int64_t index) {
  WsChannelTile c;
  c.oc0 = index * t.size.ochs;
  c.noc = std::min(t.size.ochs, G.ocg - c.oc0);
  return c;
}

}  // namespace rcnn::systolic::detail
