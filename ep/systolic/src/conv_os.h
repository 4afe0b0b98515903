// OS mode of conv2d, the host side (the reference has no OS conv): each group is lowered to im2col tiles and OS
// matmul tiles of `tiles` (choose_matmul_tiles over M = batch*OH*OW, N = out_ch/groups, K = kh*kw*in_ch/groups); a
// fused pool runs on the host after the unpooled output was moved out. The events are counted apart, in
// conv_counts.cpp. Internal header, included by conv.cpp only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "conv_job.h"
#include "gemm.h"
#include "systolic/tiling.h"

namespace rcnn::systolic::detail {

// The OS tile grid of one group's GEMM, in elements.
struct OsConvGrid {
  int64_t M, TI, TJ, TK, nI0, nJ0, nK0;
  OsConvGrid(const ConvGeom& G, const MatmulTiles& tiles, int64_t dim)
      : M(G.s.batch * G.OH * G.OW), TI(tiles.tI * dim), TJ(tiles.tJ * dim), TK(tiles.tK * dim),
        nI0(ceil_div(M, TI)), nJ0(ceil_div(G.ocg, TJ)), nK0(ceil_div(G.K, TK)) {}
};

// Every (group, k tile, column tile) weight block packed once, not once per row tile (a pure function of the
// weights, so the results are unchanged), at index (g * nK0 + k tile) * nJ0 + column tile. Blocks that take the
// direct GEMM stay empty.
template <class Kern>
std::vector<PackedB<Kern>> pack_os_weights(const OsConvGrid& grid, const Job<typename Kern::In>& j,
                                           std::vector<GemmScratch<Kern>>& scratch, ThreadPool* pool) {
  const ConvGeom& G = j.G;
  std::vector<PackedB<Kern>> packed(static_cast<size_t>(G.s.groups * grid.nK0 * grid.nJ0));
  parallel_for(pool, packed.size(), [&](size_t i, unsigned wk) {
    const int64_t g = static_cast<int64_t>(i) / (grid.nK0 * grid.nJ0);
    const int64_t k0 = static_cast<int64_t>(i) / grid.nJ0 % grid.nK0;
    const int64_t col0 = static_cast<int64_t>(i) % grid.nJ0 * grid.TJ, cols = std::min(grid.TJ, G.ocg - col0);
    const int64_t kbase = k0 * grid.TK, kk = std::min(grid.TK, G.K - kbase);
    if (use_direct_gemm(kk, cols)) return;
    auto& sc = scratch[wk];
    sc.b_ptrs.resize(static_cast<size_t>(kk));
    for (int64_t k = 0; k < kk; ++k) sc.b_ptrs[k] = j.w + (kbase + k) * G.s.out_ch + g * G.ocg + col0;
    packed[i].pack(sc.b_ptrs.data(), kk, cols, sc.b_tmp);
  });
  return packed;
}

// One output tile (rows [row0, row0 + rows), group columns [col0, col0 + cols)) of group g: its k tiles in order,
// each an im2col block times a weight block, accumulated, then scaled into dst (the conv output).
template <class Kern, class Post>
void run_os_tile(const OsConvGrid& grid, const Job<typename Kern::In>& j, const Post& post,
                 const std::vector<PackedB<Kern>>& packed_weights, int64_t g, int64_t ti, int64_t tj,
                 GemmScratch<Kern>& sc, typename Kern::In* dst) {
  using T = typename Kern::In;
  const ConvGeom& G = j.G;
  const int64_t OC = G.s.out_ch;
  const int64_t row0 = ti * grid.TI, rows = std::min(grid.TI, grid.M - row0);
  const int64_t col0 = tj * grid.TJ, cols = std::min(grid.TJ, G.ocg - col0);
  sc.acc.resize(static_cast<size_t>(rows * cols));
  init_acc_tile(j, g, col0, rows, cols, sc.acc.data());
  for (int64_t k0 = 0; k0 < grid.nK0; ++k0) {
    const int64_t kbase = k0 * grid.TK, kk = std::min(grid.TK, G.K - kbase);
    // The host builds the im2col block of this tile (K range [kbase, kbase + kk)), then it is moved in.
    auto fill = [&](int64_t r, T* a_dst, int64_t st) {
      int64_t b, oh, ow;
      G.pixel(row0 + r, b, oh, ow);
      fill_row_linear(G, j.in, b, oh, ow, g, kbase, kbase + kk, a_dst, st);
    };
    if (use_direct_gemm(kk, cols)) {
      sc.b_ptrs.resize(static_cast<size_t>(kk));
      for (int64_t k = 0; k < kk; ++k) sc.b_ptrs[k] = j.w + (kbase + k) * OC + g * G.ocg + col0;
      sc.a_rows.resize(static_cast<size_t>(rows * kk));
      sc.a_ptrs.resize(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) {
        T* row = sc.a_rows.data() + r * kk;
        fill(r, row, 1);
        sc.a_ptrs[r] = row;
      }
      direct_gemm(sc.a_ptrs.data(), rows, kk, sc.b_ptrs.data(), cols, sc.acc.data(), cols);
    } else {
      fill_a_block_packed<Kern>(rows, kk, sc.a_packed, sc.a_rows, sc.a_ptrs, fill);
      const PackedB<Kern>& pb = packed_weights[static_cast<size_t>((g * grid.nK0 + k0) * grid.nJ0 + tj)];
      gemm_packed<Kern>(sc.a_packed.data(), rows, pb, 0, pb.panels, sc.acc.data(), cols);
    }
  }
  store_tile(sc.acc.data(), cols, rows, cols, post, g * G.ocg + col0, dst + row0 * OC + g * G.ocg + col0, OC);
}

// The whole conv: one task per (group, output tile), then the pool pass when a pool is fused.
template <class Kern, class Post>
void execute_os(const MatmulTiles& tiles, int64_t dim, const Job<typename Kern::In>& j, const Post& post,
                ThreadPool* pool) {
  using T = typename Kern::In;
  const ConvGeom& G = j.G;
  const OsConvGrid grid(G, tiles, dim);
  std::vector<T> conv_out;
  T* dst = j.out;
  if (G.pooled()) {
    conv_out.resize(static_cast<size_t>(grid.M * G.s.out_ch));
    dst = conv_out.data();
  }
  std::vector<GemmScratch<Kern>> scratch(worker_count(pool));
  const std::vector<PackedB<Kern>> packed_weights = pack_os_weights<Kern>(grid, j, scratch, pool);
  const int64_t per_group = grid.nI0 * grid.nJ0;
  parallel_for(pool, static_cast<size_t>(G.s.groups * per_group), [&](size_t task, unsigned wk) {
    const int64_t g = static_cast<int64_t>(task) / per_group, t = static_cast<int64_t>(task) % per_group;
    run_os_tile<Kern>(grid, j, post, packed_weights, g, t / grid.nJ0, t % grid.nJ0, scratch[wk], dst);
  });
  if (G.pooled()) pool_full(G, conv_out.data(), j.out, pool);
}

}  // namespace rcnn::systolic::detail
