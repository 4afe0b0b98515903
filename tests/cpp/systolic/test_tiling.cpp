// Tile choosers: invariants (limits hold, tiles within the padded problem, greedy growth finished) for many shapes
// and DIM 4/8/16/32, plus the reference's values for DIM 16.
#include <random>
#include <string>

#include "check.h"
#include "systolic/config.h"
#include "systolic/resadd.h"
#include "systolic/tiling.h"

using namespace rcnn::systolic;

static void check_matmul(const AcceleratorConfig& cfg, Mode mode, int64_t I, int64_t J, int64_t K) {
  const MatmulTiles t = choose_matmul_tiles(cfg, mode, I, J, K);
  const TileLimits lim = tile_limits(cfg, mode);
  const std::string ctx = std::string(mode_name(mode)) + " dim=" + std::to_string(cfg.dim) + " I=" +
                          std::to_string(I) + " J=" + std::to_string(J) + " K=" + std::to_string(K);
  CHECK_EQ_CTX(t.I, (I + cfg.dim - 1) / cfg.dim, ctx);
  CHECK_EQ_CTX(t.J, (J + cfg.dim - 1) / cfg.dim, ctx);
  CHECK_EQ_CTX(t.K, (K + cfg.dim - 1) / cfg.dim, ctx);
  CHECK_MSG(t.tI >= 1 && t.tJ >= 1 && t.tK >= 1, ctx);
  CHECK_MSG(t.tI <= t.I && t.tJ <= t.J && t.tK <= t.K, ctx);
  CHECK_MSG(matmul_tile_spad_rows(cfg, t.tI, t.tJ, t.tK) <= lim.spad_rows, ctx);
  CHECK_MSG(matmul_tile_acc_rows(cfg, t.tI, t.tJ) <= lim.acc_rows, ctx);
  // Greedy growth finished: no single dimension can grow by one block.
  auto fits = [&](int64_t a, int64_t b, int64_t c) {
    return matmul_tile_spad_rows(cfg, a, b, c) <= lim.spad_rows && matmul_tile_acc_rows(cfg, a, b) <= lim.acc_rows;
  };
  CHECK_MSG(t.tJ == t.J || !fits(t.tI, t.tJ + 1, t.tK), ctx);
  CHECK_MSG(t.tI == t.I || !fits(t.tI + 1, t.tJ, t.tK), ctx);
  CHECK_MSG(t.tK == t.K || !fits(t.tI, t.tJ, t.tK + 1), ctx);
}

static void check_conv(const AcceleratorConfig& cfg, const ConvTileProblem& p) {
  const ConvTiles t = choose_conv_tiles(cfg, p);
  const TileLimits lim = tile_limits(cfg, Mode::WS);
  const std::string ctx = "conv dim=" + std::to_string(cfg.dim) + " b=" + std::to_string(p.batch) + " pr=" +
                          std::to_string(p.pooled_rows) + " pc=" + std::to_string(p.pooled_cols) + " oc=" +
                          std::to_string(p.out_ch) + " ic=" + std::to_string(p.in_ch) + " k=" +
                          std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w);
  CHECK_MSG(conv_tile_spad_rows(cfg, p, t) <= lim.spad_rows, ctx);
  CHECK_MSG(conv_tile_acc_rows(cfg, p, t) <= lim.acc_rows, ctx);
  const int64_t got[7] = {t.batches, t.porows, t.pocols, t.ochs, t.krows, t.kcols, t.kchs};
  const int64_t max[7] = {p.batch, p.pooled_rows, p.pooled_cols, p.out_ch, p.kernel_h, p.kernel_w, p.in_ch};
  for (int i = 0; i < 7; ++i) {
    CHECK_MSG(got[i] >= 1 && got[i] <= max[i], ctx + " arg " + std::to_string(i));
    // Growth finished: +1 on any argument exceeds the problem or a limit.
    int64_t cand[7];
    for (int k = 0; k < 7; ++k) cand[k] = got[k];
    ++cand[i];
    if (cand[i] <= max[i]) {
      ConvTiles c{cand[0], cand[1], cand[2], cand[3], cand[4], cand[5], cand[6]};
      CHECK_MSG(conv_tile_spad_rows(cfg, p, c) > lim.spad_rows || conv_tile_acc_rows(cfg, p, c) > lim.acc_rows,
                ctx + " could grow arg " + std::to_string(i));
    }
  }
}

int main() {
  const AcceleratorConfig base;
  // Reference values (DIM 16): large problems get the start tiles, which exactly fill the limits.
  {
    const MatmulTiles os = choose_matmul_tiles(base, Mode::OS, 4096, 4096, 4096);
    CHECK_EQ(os.tI, 8);
    CHECK_EQ(os.tJ, 8);
    CHECK_EQ(os.tK, 64);
    const MatmulTiles ws = choose_matmul_tiles(base, Mode::WS, 4096, 4096, 4096);
    CHECK_EQ(ws.tI, 5);
    CHECK_EQ(ws.tJ, 5);
    CHECK_EQ(ws.tK, 51);
    // 256^3: OS 8x8x16; WS starts 5x5x16, J grows to 6 (6*5*16 = 480 <= 512), then nothing fits.
    const MatmulTiles os2 = choose_matmul_tiles(base, Mode::OS, 256, 256, 256);
    CHECK_EQ(os2.tI, 8);
    CHECK_EQ(os2.tJ, 8);
    CHECK_EQ(os2.tK, 16);
    const MatmulTiles ws2 = choose_matmul_tiles(base, Mode::WS, 256, 256, 256);
    CHECK_EQ(ws2.tI, 5);
    CHECK_EQ(ws2.tJ, 6);
    CHECK_EQ(ws2.tK, 16);
    // Small problems: one tile.
    const MatmulTiles one = choose_matmul_tiles(base, Mode::WS, 1, 1, 1);
    CHECK(one.tI == 1 && one.tJ == 1 && one.tK == 1);
    const MatmulTiles tall = choose_matmul_tiles(base, Mode::OS, 1, 10000, 17);
    CHECK_EQ(tall.tI, 1);
    CHECK_EQ(tall.tK, 2);
    CHECK_EQ(tall.tJ, 64);  // acc: 1 * tJ * 16 <= 1024
    CHECK_THROWS(choose_matmul_tiles(base, Mode::CPU, 1, 1, 1), Error);
    CHECK_THROWS(choose_matmul_tiles(base, Mode::OS, 0, 1, 1), Error);
  }
  std::mt19937 rng(11);
  auto pick = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng() % static_cast<uint32_t>(hi - lo + 1)); };
  for (int64_t dim : {4, 8, 16, 32}) {
    for (int variant = 0; variant < 3; ++variant) {
      AcceleratorConfig cfg = base.with_dim(dim);
      if (variant == 1) {  // small memories
        cfg.sp_banks = 1;
        cfg.sp_bank_rows = 8 * dim;
        cfg.acc_rows = 2 * dim;
      } else if (variant == 2) {  // unbalanced: big accumulator, small scratchpad (exercises the safety net)
        cfg.sp_banks = 2;
        cfg.sp_bank_rows = 2 * dim;
        cfg.acc_rows = 4096;
      }
      cfg.validate();
      for (Mode mode : {Mode::OS, Mode::WS}) {
        for (int i = 0; i < 150; ++i) {
          const int64_t scale = (i % 3 == 0) ? 5000 : 300;
          check_matmul(cfg, mode, pick(1, scale), pick(1, scale), pick(1, scale));
        }
        check_matmul(cfg, mode, 1, 1, 1);
        check_matmul(cfg, mode, dim, dim, dim);
        check_matmul(cfg, mode, 100000, 1, 1);
      }
      for (int i = 0; i < 120; ++i) {
        ConvTileProblem p;
        p.batch = pick(1, 4);
        p.kernel_h = pick(1, 7);
        p.kernel_w = (i % 4 == 0) ? p.kernel_h : pick(1, 7);
        p.stride_h = pick(1, 3);
        p.stride_w = pick(1, 3);
        p.dil_h = (i % 5 == 0) ? 2 : 1;
        p.dil_w = (i % 7 == 0) ? 3 : 1;
        p.pooled_rows = pick(1, 120);
        p.pooled_cols = pick(1, 120);
        p.out_ch = pick(1, 600);
        p.in_ch = pick(1, 600);
        if (i % 3 == 0) {
          p.pool_kh = p.pool_kw = 3;
          p.pool_sh = p.pool_sw = 2;
        }
        try {
          check_conv(cfg, p);
        } catch (const Error&) {
          // Only allowed when even a 1x1x1 tile cannot fit (tiny configs with big windows).
          ConvTiles ones;
          const TileLimits lim = tile_limits(cfg, Mode::WS);
          CHECK(conv_tile_spad_rows(cfg, p, ones) > lim.spad_rows || conv_tile_acc_rows(cfg, p, ones) > lim.acc_rows);
        }
      }
      // Resadd column tiles fit the accumulator limit.
      for (Mode mode : {Mode::OS, Mode::WS}) {
        for (int64_t cols : {int64_t{1}, int64_t{7}, dim, int64_t{1000}, int64_t{123457}}) {
          const int64_t w = resadd_tile_cols(cfg, mode, dim, cols);
          CHECK(w >= 1 && w <= cols);
          CHECK(dim * ((w + dim - 1) / dim) <= tile_limits(cfg, mode).acc_rows || w <= dim);
        }
      }
    }
  }
  // A conv that cannot fit even at 1x1x1 throws a clear Error instead of looping.
  {
    ConvTileProblem p;
    p.pool_kh = p.pool_kw = 64;
    CHECK_THROWS(choose_conv_tiles(base, p), Error);
  }
  // Reference-like conv: ResNet 3x3 64->64 on 56x56.
  {
    ConvTileProblem p;
    p.pooled_rows = p.pooled_cols = 56;
    p.out_ch = p.in_ch = 64;
    p.kernel_h = p.kernel_w = 3;
    check_conv(base, p);
    const ConvTiles t = choose_conv_tiles(base, p);
    CHECK(t.pocols >= 16 || t.porows == 1);  // ocols kept >= DIM while rows can shrink
  }
  return check::finish("systolic_tiling");
}
