// resadd: CPU element loop; OS/WS walk the reference's layout (DIM x floor(n/DIM) matrix + 1 x (n mod DIM) tail)
// in accumulator-sized column tiles: scaled mvin of A into the accumulator, scaled accumulating mvin of B, mvout.
// The tiles' events are counted apart from the host execution.
#include "systolic/resadd.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "systolic/numerics.h"
#include "systolic/thread_pool.h"
#include "systolic/tiling.h"
#include "tile_counts.h"

namespace rcnn::systolic {

namespace {

// The scaled mvin of an int8 input depends only on its 256 possible values: tabulate it once per call (exactly
// resadd_scale_input) so the element loop is integer-only.
// The output zero point is folded into table a (|a'| + |c_zp| stays far from int32 limits).
struct ResaddTables {
  int32_t a[256];
  int32_t b[256];
  int32_t lo;
  explicit ResaddTables(const ResaddArgs& args) : lo(args.relu ? args.c_zero_point : -128) {
    for (int v = -128; v < 128; ++v) {
      a[v + 128] = resadd_scale_centered(v - args.a_zero_point, args.a_ratio) + args.c_zero_point;
      b[v + 128] = resadd_scale_centered(v - args.b_zero_point, args.b_ratio);
    }
  }
};

void add_range(const ResaddArgs& args, const ResaddTables& t, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const int32_t s = t.a[args.A[i] + 128] + t.b[args.B[i] + 128];
    args.C[i] = static_cast<int8_t>(s < t.lo ? t.lo : (s > 127 ? 127 : s));
  }
}

// The tiles of the OS/WS layout: `main_tiles` column tiles of DIM rows x `width` columns over the DIM x cols matrix,
// then, when n is not a multiple of DIM, one 1 x tail tile.
struct ResaddTiling {
  int64_t dim, cols, tail, width, main_tiles;
  int64_t tiles() const { return main_tiles + (tail > 0 ? 1 : 0); }
  int64_t rows(int64_t t) const { return t < main_tiles ? dim : 1; }
  int64_t first_col(int64_t t) const { return t * width; }
  int64_t tile_cols(int64_t t) const { return t < main_tiles ? std::min(width, cols - first_col(t)) : tail; }
};

ResaddTiling resadd_tiling(const AcceleratorConfig& cfg, Mode mode, int64_t n) {
  ResaddTiling t;
  t.dim = cfg.dim;
  t.cols = n / t.dim;
  t.tail = n % t.dim;
  t.width = t.cols > 0 ? resadd_tile_cols(cfg, mode, t.dim, t.cols) : 1;
  t.main_tiles = t.cols > 0 ? detail::blocks(t.cols, t.width) : 0;
  return t;
}

// Per tile: A (scaled mvin) and B (scaled, accumulating mvin) into the accumulator, int8 each, then the mvout.
Counters count_resadd(const AcceleratorConfig& cfg, Mode mode, const ResaddTiling& t) {
  using detail::blocks;
  using detail::u64;
  const int64_t D = t.dim;
  Counters c;
  for (int64_t i = 0; i < t.tiles(); ++i) {
    const int64_t rows = t.rows(i), tw = t.tile_cols(i);
    c.tiles += 1;
    c.mvin_acc_bytes += u64(2 * rows * tw);
    c.mvin_cmds += u64(2 * blocks(rows, D) * blocks(tw, D));
    c.mvout_bytes += u64(rows * tw);
    c.mvout_cmds += u64(blocks(rows, D) * blocks(tw, D));
  }
  detail::finish_call(c, cfg, mode, 0, false);
  return c;
}

// The element loop in 64 Ki-element chunks (CPU mode).
void execute_cpu(const ResaddArgs& args, const ResaddTables& tables, ThreadPool* pool) {
  constexpr int64_t kChunk = 1 << 16;
  const int64_t tasks = detail::blocks(args.n, kChunk);
  parallel_for(pool, static_cast<size_t>(tasks), [&](size_t t, unsigned) {
    const int64_t b = static_cast<int64_t>(t) * kChunk;
    add_range(args, tables, b, std::min(args.n, b + kChunk));
  });
}

// The element loop tile by tile (OS/WS): element (r, c) of the main matrix is at r * cols + c, the tail follows it.
void execute_tiled(const ResaddArgs& args, const ResaddTables& tables, const ResaddTiling& t, ThreadPool* pool) {
  parallel_for(pool, static_cast<size_t>(t.tiles()), [&](size_t task, unsigned) {
    const int64_t i = static_cast<int64_t>(task);
    if (i < t.main_tiles) {
      const int64_t c0 = t.first_col(i), tw = t.tile_cols(i);
      for (int64_t r = 0; r < t.dim; ++r) add_range(args, tables, r * t.cols + c0, r * t.cols + c0 + tw);
    } else {
      add_range(args, tables, t.dim * t.cols, args.n);
    }
  });
}

}  // namespace

int64_t resadd_tile_cols(const AcceleratorConfig& cfg, Mode mode, int64_t rows, int64_t cols) {
  if (mode == Mode::CPU) throw Error("resadd_tile_cols: CPU mode is not tiled");
  if (rows < 1 || cols < 1) throw Error("resadd_tile_cols: rows and cols must be >= 1");
  const int64_t limit = tile_limits(cfg, mode).acc_rows;
  // A rows x width int8 matrix occupies rows * ceil(width / DIM) accumulator rows.
  const int64_t col_blocks = std::max<int64_t>(1, limit / rows);
  return std::min(cols, col_blocks * cfg.dim);
}

Counters resadd(const AcceleratorConfig& cfg, Mode mode, const ResaddArgs& a, const ExecOptions& opt) {
  cfg.validate();
  if (cfg.elem != ElemType::Int8) throw Error("resadd: needs an int8 accelerator config (elem = \"int8\")");
  if (a.n < 0) throw Error("resadd: n must be >= 0");
  if (!std::isfinite(a.a_ratio) || !std::isfinite(a.b_ratio)) throw Error("resadd: scale ratios must be finite");
  if (a.c_zero_point < -128 || a.c_zero_point > 127)
    throw Error("resadd: the output zero point must be in [-128, 127] (int8 domain), got " +
                std::to_string(a.c_zero_point));
  if ((a.a_zero_point != 0 || a.b_zero_point != 0 || a.c_zero_point != 0) && !cfg.zero_points)
    throw Error("resadd: non-zero zero points need an accelerator with zero-point support (the config says "
                "zero_points = false)");
  if (a.n == 0) {
    Counters none;
    none.calls = 1;
    return none;
  }
  if (!a.A || !a.B || !a.C) throw Error("resadd: A, B and C must not be null");
  const ResaddTables tables(a);
  if (mode == Mode::CPU) {
    execute_cpu(a, tables, opt.pool);
    Counters c;
    detail::finish_call(c, cfg, mode, 0, false);
    return c;
  }
  const ResaddTiling tiling = resadd_tiling(cfg, mode, a.n);
  execute_tiled(a, tables, tiling, opt.pool);
  return count_resadd(cfg, mode, tiling);
}

}  // namespace rcnn::systolic
