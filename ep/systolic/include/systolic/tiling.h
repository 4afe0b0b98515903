// Tile choosers of the reference (Gemmini's tiled_matmul_auto and tiled_conv_auto), generalized to any config and
// to non-square convolutions. Exposed so tests can check their invariants for many shapes and configs.
//
// Matmul (all sizes in DIM blocks after padding I, J, K up to multiples of DIM):
//   spad limit S = sp_rows, acc limit A = acc_rows; WS is double-buffered: S/2 and A/2.
//   start: OS: tI = tJ = min(n, max_ij), tK = min(n, max_k) with max_ij = floor(sqrt(A / DIM)),
//              max_k = (sp_rows / 2 / DIM) / max_ij                 (DIM 16: 8 and 64)
//          WS: the same with A/2 and sp_rows/4                       (DIM 16: 5 and 51)
//   then grow greedily, in rounds trying J, then I, then K, by one block each, while
//     (tI*tK + tK*tJ) * DIM <= S,  tI*tJ*DIM <= A,  and the tile does not exceed the padded dimension.
//   (Beyond the reference: if a tiny config makes the start tile violate a limit, the larger of tI/tJ, then tK,
//   shrinks until it fits; the reference configs never need this.)
//
// Conv (WS; the reference has no OS conv): tiled over {batch, pooled rows, pooled cols, out channels, kernel rows,
// kernel cols, in channels} (channels per group). Row cost model (reference tiled_conv_total_spad_rows):
//   orows = porows*pool_stride_h + pool_kh - 1     ocols likewise
//   irows = orows*stride_h + (krows + (dil_h-1)*(krows-1)) - 1     icols likewise
//   spad  = ceil(kchs/DIM)*batches*irows*icols + ceil(ochs/DIM)*krows*kcols*kchs
//   acc   = ceil(ochs/DIM)*batches*orows*ocols
//   limits: spad <= sp_rows/2, acc <= acc_rows/2 (double-buffered)
//   start from full sizes; while over a limit shrink the largest argument (first wins ties; ocols is skipped while
//   ocols <= DIM and orows > 1; channels drop to the next lower multiple of DIM, never below 1; others by one);
//   then grow ocols by one while it fits; then grow every argument in rounds by one while it fits.
//   Throws Error if even the all-ones tile does not fit (e.g. a pooling window larger than the accumulator).
#pragma once

#include <cstdint>

#include "systolic/config.h"
#include "systolic/types.h"

namespace rcnn::systolic {

struct MatmulTiles {
  int64_t I = 0, J = 0, K = 0;     // padded dimensions in DIM blocks
  int64_t tI = 0, tJ = 0, tK = 0;  // tile sizes in DIM blocks
};

// Limits used by the choosers for a mode (WS halves both).
struct TileLimits {
  int64_t spad_rows = 0;
  int64_t acc_rows = 0;
};
TileLimits tile_limits(const AcceleratorConfig& cfg, Mode mode);

int64_t matmul_tile_spad_rows(const AcceleratorConfig& cfg, int64_t tI, int64_t tJ, int64_t tK);
int64_t matmul_tile_acc_rows(const AcceleratorConfig& cfg, int64_t tI, int64_t tJ);

// I, J, K >= 1 (elements). mode must be OS or WS.
MatmulTiles choose_matmul_tiles(const AcceleratorConfig& cfg, Mode mode, int64_t I, int64_t J, int64_t K);

// Conv geometry as seen by the tiler (one group).
struct ConvTileProblem {
  int64_t batch = 1;
  int64_t pooled_rows = 1, pooled_cols = 1;  // output rows/cols after the fused pool (or the conv output)
  int64_t out_ch = 1, in_ch = 1;             // per group
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dil_h = 1, dil_w = 1;
  int64_t pool_kh = 1, pool_kw = 1, pool_sh = 1, pool_sw = 1;  // 1/1 without pooling
};

struct ConvTiles {
  int64_t batches = 1, porows = 1, pocols = 1, ochs = 1, krows = 1, kcols = 1, kchs = 1;
};

// Row costs of a conv tile (see above).
int64_t conv_tile_spad_rows(const AcceleratorConfig& cfg, const ConvTileProblem& p, const ConvTiles& t);
int64_t conv_tile_acc_rows(const AcceleratorConfig& cfg, const ConvTileProblem& p, const ConvTiles& t);

ConvTiles choose_conv_tiles(const AcceleratorConfig& cfg, const ConvTileProblem& p);

}  // namespace rcnn::systolic
