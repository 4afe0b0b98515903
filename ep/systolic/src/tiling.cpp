// Tile choosers (rules documented in tiling.h): the reference's tiled_matmul_auto and tiled_conv_auto heuristics,
// generalized to any validated config and to non-square convolutions.
#include "systolic/tiling.h"

#include <algorithm>
#include <string>

namespace rcnn::systolic {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t isqrt(int64_t v) {
  int64_t r = 0;
  while ((r + 1) * (r + 1) <= v) ++r;
  return r;
}

}  // namespace

TileLimits tile_limits(const AcceleratorConfig& cfg, Mode mode) {
  const bool double_buffered = mode == Mode::WS;
  TileLimits l;
  l.spad_rows = double_buffered ? cfg.sp_rows() / 2 : cfg.sp_rows();
  l.acc_rows = double_buffered ? cfg.acc_rows / 2 : cfg.acc_rows;
  return l;
}

int64_t matmul_tile_spad_rows(const AcceleratorConfig& cfg, int64_t tI, int64_t tJ, int64_t tK) {
  return (tI * tK + tK * tJ) * cfg.dim;
}

int64_t matmul_tile_acc_rows(const AcceleratorConfig& cfg, int64_t tI, int64_t tJ) { return tI * tJ * cfg.dim; }

MatmulTiles choose_matmul_tiles(const AcceleratorConfig& cfg, Mode mode, int64_t I, int64_t J, int64_t K) {
  if (mode == Mode::CPU) throw Error("choose_matmul_tiles: CPU mode is not tiled");
  if (I < 1 || J < 1 || K < 1) throw Error("choose_matmul_tiles: dimensions must be >= 1");
  const int64_t D = cfg.dim;
  MatmulTiles t;
  t.I = ceil_div(I, D);
  t.J = ceil_div(J, D);
  t.K = ceil_div(K, D);
  const TileLimits lim = tile_limits(cfg, mode);

  // Reference start sizes: a square I x J tile filling the accumulator partition, K filling the scratchpad half.
  // Non-double-buffered: partition = sp_rows/2, acc = acc_rows; double-buffered: sp_rows/4 and acc_rows/2.
  const int64_t partition_rows = lim.spad_rows / 2;
  const int64_t mats_in_partition = partition_rows / D;
  const int64_t mats_in_acc = lim.acc_rows / D;
  const int64_t max_tile_ij = std::max<int64_t>(1, isqrt(mats_in_acc));
  const int64_t max_tile_k = std::max<int64_t>(1, mats_in_partition / max_tile_ij);
  t.tI = std::min(t.I, max_tile_ij);
  t.tJ = std::min(t.J, max_tile_ij);
  t.tK = std::min(t.K, max_tile_k);

  auto fits = [&](int64_t ti, int64_t tj, int64_t tk) {
    return matmul_tile_spad_rows(cfg, ti, tj, tk) <= lim.spad_rows && matmul_tile_acc_rows(cfg, ti, tj) <= lim.acc_rows;
  };
  // Safety net for unusual configs (not reached with the reference-like ones): shrink until the start tile fits.
  while (!fits(t.tI, t.tJ, t.tK)) {
    if (t.tI > 1 || t.tJ > 1) {
      if (t.tI >= t.tJ) --t.tI;
      else --t.tJ;
    } else if (t.tK > 1) {
      --t.tK;
    } else {
      throw Error("choose_matmul_tiles: one DIM x DIM block does not fit the scratchpad/accumulator");
    }
  }

  bool increased = true;
  while (increased) {
    increased = false;
    if (t.tJ + 1 <= t.J && fits(t.tI, t.tJ + 1, t.tK)) {
      ++t.tJ;
      increased = true;
    }
    if (t.tI + 1 <= t.I && fits(t.tI + 1, t.tJ, t.tK)) {
      ++t.tI;
      increased = true;
    }
    if (t.tK + 1 <= t.K && fits(t.tI, t.tJ, t.tK + 1)) {
      ++t.tK;
      increased = true;
    }
  }
  return t;
}

namespace {

struct ConvRowCounts {
  int64_t orows, ocols, irows, icols;
};

ConvRowCounts conv_rows(const ConvTileProblem& p, const ConvTiles& t) {
  ConvRowCounts r{};
  r.orows = t.porows * p.pool_sh + p.pool_kh - 1;
  r.ocols = t.pocols * p.pool_sw + p.pool_kw - 1;
  const int64_t krows_dil = t.krows + (p.dil_h - 1) * (t.krows - 1);
  const int64_t kcols_dil = t.kcols + (p.dil_w - 1) * (t.kcols - 1);
  r.irows = r.orows * p.stride_h + krows_dil - 1;
  r.icols = r.ocols * p.stride_w + kcols_dil - 1;
  return r;
}

}  // namespace

int64_t conv_tile_spad_rows(const AcceleratorConfig& cfg, const ConvTileProblem& p, const ConvTiles& t) {
  const ConvRowCounts r = conv_rows(p, t);
  const int64_t a_rows = ceil_div(t.kchs, cfg.dim) * t.batches * r.irows * r.icols;
  const int64_t b_rows = ceil_div(t.ochs, cfg.dim) * t.kcols * t.krows * t.kchs;
  return a_rows + b_rows;
}

int64_t conv_tile_acc_rows(const AcceleratorConfig& cfg, const ConvTileProblem& p, const ConvTiles& t) {
  const ConvRowCounts r = conv_rows(p, t);
  return ceil_div(t.ochs, cfg.dim) * t.batches * r.orows * r.ocols;
}

ConvTiles choose_conv_tiles(const AcceleratorConfig& cfg, const ConvTileProblem& p) {
  const int64_t D = cfg.dim;
  const TileLimits lim = tile_limits(cfg, Mode::WS);  // the reference's conv is always double-buffered
  // Argument order of the reference: batch, porows, pocols, ochs, krows, kcols, kchs.
  constexpr int kN = 7, kOrows = 1, kOcols = 2, kOchs = 3, kKchs = 6;
  const int64_t max_args[kN] = {p.batch, p.pooled_rows, p.pooled_cols, p.out_ch, p.kernel_h, p.kernel_w, p.in_ch};
  for (int i = 0; i < kN; ++i)
    if (max_args[i] < 1) throw Error("choose_conv_tiles: every dimension must be >= 1");
  int64_t args[kN];
  std::copy(max_args, max_args + kN, args);
  auto to_tiles = [](const int64_t* a) {
    ConvTiles t;
    t.batches = a[0];
    t.porows = a[1];
    t.pocols = a[2];
    t.ochs = a[3];
    t.krows = a[4];
    t.kcols = a[5];
    t.kchs = a[6];
    return t;
  };
  auto fits = [&](const int64_t* a) {
    const ConvTiles t = to_tiles(a);
    return conv_tile_spad_rows(cfg, p, t) <= lim.spad_rows && conv_tile_acc_rows(cfg, p, t) <= lim.acc_rows;
  };

  while (!fits(args)) {
    int64_t max_val = -1;
    int max_idx = -1;
    for (int i = 0; i < kN; ++i) {
      // Keep ocols >= DIM while rows can still shrink, so the array stays fully used.
      if (!(i == kOcols && args[i] <= D && args[kOrows] > 1) && args[i] > max_val) {
        max_val = args[i];
        max_idx = i;
      }
    }
    if (max_val <= 1)
      throw Error("conv does not fit the accelerator even with a 1x1x1 tile (scratchpad " +
                  std::to_string(lim.spad_rows) + " rows, accumulator " + std::to_string(lim.acc_rows) +
                  " rows in WS): the pooling window or dilated kernel is too large for this config");
    if (max_idx == kOchs || max_idx == kKchs) {
      // Channels shrink by whole DIM blocks.
      if (args[max_idx] % D != 0) args[max_idx] = (args[max_idx] / D) * D;
      else args[max_idx] -= D;
      if (args[max_idx] == 0) args[max_idx] = 1;
    } else {
      --args[max_idx];
    }
  }

  // Grow ocols first (array utilization), then everything, one step at a time.
  for (;;) {
    int64_t cand[kN];
    std::copy(args, args + kN, cand);
    ++cand[kOcols];
    if (cand[kOcols] > max_args[kOcols] || !fits(cand)) break;
    args[kOcols] = cand[kOcols];
  }
  bool increased = true;
  while (increased) {
    increased = false;
    for (int i = 0; i < kN; ++i) {
      int64_t cand[kN];
      std::copy(args, args + kN, cand);
      ++cand[i];
      if (cand[i] > max_args[i] || !fits(cand)) continue;
      args[i] = cand[i];
      increased = true;
    }
  }
  return to_tiles(args);
}

}  // namespace rcnn::systolic
