// WS mode of conv2d, the host side: computes the output tile by tile in the reference's tiled_conv order
// (conv_ws_tiling.h), accumulating every kernel tile of an out-channel tile into its accumulator tile like the
// array does, then scaling (and pooling) it out. What the hardware would issue for those tiles is counted apart,
// in conv_counts.cpp. Internal header, included by conv.cpp only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "conv_job.h"
#include "conv_ws_tiling.h"
#include "gemm.h"

namespace rcnn::systolic::detail {

// Weight rows of kernel tile k in group g, starting at group out channel oc0 (the B operand of the tile's GEMM).
template <class T>
void weight_box_rows(const Job<T>& j, int64_t g, const WsKernelTile& k, int64_t oc0, std::vector<const T*>& rows) {
  rows.resize(static_cast<size_t>(k.box()));
  size_t i = 0;
  for (int64_t kr = k.kr0; kr < k.kr0 + k.nkr; ++kr)
    for (int64_t kc = k.kc0; kc < k.kc0 + k.nkc; ++kc)
      for (int64_t ic = k.ic0; ic < k.ic0 + k.nic; ++ic) rows[i++] = weight_row(j, g, kr, kc, ic) + oc0;
}

// Every (group, out-channel tile, kernel tile) weight box packed once, not once per spatial tile (a pure function of
// the weights, so the results are unchanged), at index (g * n_och + och tile) * kernel_tiles + kernel tile. Boxes
// that take the direct GEMM stay empty.
template <class Kern>
std::vector<PackedB<Kern>> pack_ws_weights(const WsConvTiling& t, const Job<typename Kern::In>& j,
                                           std::vector<GemmScratch<Kern>>& scratch, ThreadPool* pool) {
  const int64_t kernel_tiles = t.kernel_tiles();
  std::vector<PackedB<Kern>> packed(static_cast<size_t>(j.G.s.groups * t.n_och * kernel_tiles));
  parallel_for(pool, packed.size(), [&](size_t i, unsigned wk) {
    const int64_t box = static_cast<int64_t>(i);
    const WsKernelTile k = ws_kernel_tile(j.G, t, box % kernel_tiles);
    const WsChannelTile oc = ws_channel_tile(j.G, t, box / kernel_tiles % t.n_och);
    if (use_direct_gemm(k.box(), oc.noc)) return;
    auto& sc = scratch[wk];
    weight_box_rows(j, box / kernel_tiles / t.n_och, k, oc.oc0, sc.b_ptrs);
    packed[i].pack(sc.b_ptrs.data(), k.box(), oc.noc, sc.b_tmp);
  });
  return packed;
}

// The im2col block of a spatial tile over a kernel tile (A operand), in the form the tile's GEMM takes: rows for the
// direct GEMM (scratch a_rows/a_ptrs), a packed block for the packed one (a_packed). With a single kernel tile the
// block is the same for every out-channel tile of the spatial tile, so each form is built once and reused
// (out-channel tiles may differ in the form they take: a narrow last tile); otherwise every kernel tile rebuilds it.
template <class Kern>
class WsInputBlock {
 public:
  explicit WsInputBlock(bool reusable) : reusable_(reusable) {}

  void build(const Job<typename Kern::In>& j, int64_t g, const WsSpatialTile& sp, const WsKernelTile& k, bool direct,
             GemmScratch<Kern>& sc) {
    using T = typename Kern::In;
    if (!reusable_) rows_ready_ = packed_ready_ = false;
    const int64_t pixels = sp.pixels(), nor = sp.rows(), nocl = sp.cols();
    auto fill = [&](int64_t p, T* a_dst, int64_t st) {
      fill_row_box(j.G, j.in, sp.b0 + p / (nor * nocl), sp.or_lo + p / nocl % nor, sp.ocl_lo + p % nocl, g, k.kr0,
                   k.nkr, k.kc0, k.nkc, k.ic0, k.nic, a_dst, st);
    };
    if (direct && !rows_ready_) {
      sc.a_rows.resize(static_cast<size_t>(pixels * k.box()));
      sc.a_ptrs.resize(static_cast<size_t>(pixels));
      for (int64_t p = 0; p < pixels; ++p) {
        T* row = sc.a_rows.data() + p * k.box();
        fill(p, row, 1);
        sc.a_ptrs[p] = row;
      }
      rows_ready_ = true;
    } else if (!direct && !packed_ready_) {
      fill_a_block_packed<Kern>(pixels, k.box(), sc.a_packed, sc.a_rows, sc.a_ptrs, fill);
      packed_ready_ = true;
    }
  }

 private:
  bool reusable_;
  bool rows_ready_ = false, packed_ready_ = false;
};

// mvout of an accumulator tile: scaled into the output, or (fused pool) scaled into `scaled`, then max-pooled into
// the output.
template <class T, class Acc, class Post>
void store_ws_tile(const Job<T>& j, const Post& post, int64_t g, const WsSpatialTile& sp, const WsChannelTile& oc,
                   const Acc* acc, std::vector<T>& scaled) {
  const ConvGeom& G = j.G;
  const int64_t OC = G.s.out_ch, noc = oc.noc, nor = sp.rows(), nocl = sp.cols();
  const int64_t col0 = g * G.ocg + oc.oc0;
  T* dst_base = j.out + col0;
  if (!G.pooled()) {
    int64_t p = 0;
    for (int64_t b = sp.b0; b < sp.b0 + sp.nb; ++b)
      for (int64_t oh = sp.or_lo; oh < sp.or_hi; ++oh, p += nocl)
        store_tile(acc + p * noc, noc, nocl, noc, post, col0, dst_base + ((b * G.OH + oh) * G.OW + sp.ocl_lo) * OC,
                   OC);
    return;
  }
  scaled.resize(static_cast<size_t>(sp.pixels() * noc));
  store_tile(acc, noc, sp.pixels(), noc, post, col0, scaled.data(), noc);
  for (int64_t b = sp.b0; b < sp.b0 + sp.nb; ++b) {
    const T* tb = scaled.data() + (b - sp.b0) * nor * nocl * noc;
    auto at = [&](int64_t oh, int64_t ow) { return tb + ((oh - sp.or_lo) * nocl + (ow - sp.ocl_lo)) * noc; };
    for (int64_t ph = sp.pr0; ph < sp.pr0 + sp.npr; ++ph)
      for (int64_t pw = sp.pc0; pw < sp.pc0 + sp.npc; ++pw)
        pool_one<T>(G, ph, pw, noc, at, dst_base + ((b * G.POH + ph) * G.POW + pw) * OC);
  }
}

// One task: spatial tile `sp` of group g for out-channel tiles [och_begin, och_end), each through all kernel tiles
// in the reference's loop order (kernel rows, kernel cols, in channels).
template <class Kern, class Post>
void run_ws_task(const WsConvTiling& t, const Job<typename Kern::In>& j, const Post& post,
                 const std::vector<PackedB<Kern>>& packed_weights, int64_t g, const WsSpatialTile& sp,
                 int64_t och_begin, int64_t och_end, GemmScratch<Kern>& sc, std::vector<typename Kern::In>& scaled) {
  const int64_t pixels = sp.pixels(), kernel_tiles = t.kernel_tiles();
  WsInputBlock<Kern> input(kernel_tiles == 1);
  for (int64_t ti_oc = och_begin; ti_oc < och_end; ++ti_oc) {
    const WsChannelTile oc = ws_channel_tile(j.G, t, ti_oc);
    sc.acc.resize(static_cast<size_t>(pixels * oc.noc));
    init_acc_tile(j, g, oc.oc0, pixels, oc.noc, sc.acc.data());
    for (int64_t tk = 0; tk < kernel_tiles; ++tk) {
      const WsKernelTile k = ws_kernel_tile(j.G, t, tk);
      const bool direct = use_direct_gemm(k.box(), oc.noc);
      input.build(j, g, sp, k, direct, sc);
      if (direct) {
        weight_box_rows(j, g, k, oc.oc0, sc.b_ptrs);
        direct_gemm(sc.a_ptrs.data(), pixels, k.box(), sc.b_ptrs.data(), oc.noc, sc.acc.data(), oc.noc);
      } else {
        const PackedB<Kern>& pb = packed_weights[static_cast<size_t>((g * t.n_och + ti_oc) * kernel_tiles + tk)];
        gemm_packed<Kern>(sc.a_packed.data(), pixels, pb, 0, pb.panels, sc.acc.data(), oc.noc);
      }
    }
    store_ws_tile(j, post, g, sp, oc, sc.acc.data(), scaled);
  }
}

// The whole conv. Tasks: (group, spatial tile, range of out-channel tiles); the out-channel tiles are grouped so
// that there are a few tasks per worker (how they are grouped does not change a result).
template <class Kern, class Post>
void execute_ws(const WsConvTiling& t, const Job<typename Kern::In>& j, const Post& post, ThreadPool* pool) {
  const int64_t groups = j.G.s.groups, spatial = t.spatial_tiles();
  const unsigned workers = worker_count(pool);
  const int64_t och_groups = std::min(t.n_och, ceil_div(4 * static_cast<int64_t>(workers), groups * spatial));
  const int64_t per_group = spatial * och_groups;
  std::vector<GemmScratch<Kern>> scratch(workers);
  std::vector<std::vector<typename Kern::In>> scaled(workers);
  const std::vector<PackedB<Kern>> packed_weights = pack_ws_weights<Kern>(t, j, scratch, pool);
  parallel_for(pool, static_cast<size_t>(groups * per_group), [&](size_t task, unsigned wk) {
    const int64_t g = static_cast<int64_t>(task) / per_group, rest = static_cast<int64_t>(task) % per_group;
    const int64_t och_group = rest % och_groups;
    const int64_t och_begin = t.n_och * och_group / och_groups, och_end = t.n_och * (och_group + 1) / och_groups;
    run_ws_task<Kern>(t, j, post, packed_weights, g, ws_spatial_tile(j.G, t, rest / och_groups), och_begin, och_end,
                      scratch[wk], scaled[wk]);
  });
}

}  // namespace rcnn::systolic::detail
