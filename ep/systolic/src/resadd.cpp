// resadd: CPU element loop; OS/WS walk the reference's layout (DIM x floor(n/DIM) matrix + 1 x (n mod DIM) tail)
// in accumulator-sized column tiles: scaled mvin of A into the accumulator, scaled accumulating mvin of B, mvout.
#include "systolic/resadd.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "systolic/numerics.h"
#include "systolic/thread_pool.h"
#include "systolic/tiling.h"
#include "tile_counts.h"

namespace rcnn::systolic {

namespace {

// The scaled mvin of an int8 input depends only on its 256 possible values: tabulate it once per call (exactly
// resadd_scale_input) so the element loop is integer-only.
struct ResaddTables {
  int32_t a[256];
  int32_t b[256];
  int32_t lo;
  explicit ResaddTables(const ResaddArgs& args) : lo(args.relu ? 0 : -128) {
    for (int v = -128; v < 128; ++v) {
      a[v + 128] = resadd_scale_input(static_cast<int8_t>(v), args.a_ratio);
      b[v + 128] = resadd_scale_input(static_cast<int8_t>(v), args.b_ratio);
    }
  }
};

void add_range(const ResaddArgs& args, const ResaddTables& t, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const int32_t s = t.a[args.A[i] + 128] + t.b[args.B[i] + 128];
    args.C[i] = static_cast<int8_t>(s < t.lo ? t.lo : (s > 127 ? 127 : s));
  }
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
  Counters total;
  total.calls = 1;
  if (a.n == 0) return total;
  if (!a.A || !a.B || !a.C) throw Error("resadd: A, B and C must not be null");
  const ResaddTables tables(a);

  if (mode == Mode::CPU) {
    constexpr int64_t kChunk = 1 << 16;
    const int64_t tasks = detail::blocks(a.n, kChunk);
    parallel_for(opt.pool, static_cast<size_t>(tasks), [&](size_t t, unsigned) {
      const int64_t b = static_cast<int64_t>(t) * kChunk;
      add_range(a, tables, b, std::min(a.n, b + kChunk));
    });
    return total;
  }

  using detail::blocks;
  using detail::u64;
  const int64_t D = cfg.dim;
  const int64_t cols = a.n / D, tail = a.n % D;
  const int64_t width = cols > 0 ? resadd_tile_cols(cfg, mode, D, cols) : 1;
  const int64_t main_tiles = cols > 0 ? blocks(cols, width) : 0;
  const int64_t n_tiles = main_tiles + (tail > 0 ? 1 : 0);
  const unsigned workers = worker_count(opt.pool);
  std::vector<Counters> counts(workers);
  parallel_for(opt.pool, static_cast<size_t>(n_tiles), [&](size_t t, unsigned w) {
    Counters& c = counts[w];
    int64_t rows, tw;
    if (static_cast<int64_t>(t) < main_tiles) {
      // Main matrix: rows r in [0, D), columns [c0, c0 + tw); element (r, c) is at r * cols + c.
      const int64_t c0 = static_cast<int64_t>(t) * width;
      rows = D;
      tw = std::min(width, cols - c0);
      for (int64_t r = 0; r < D; ++r) add_range(a, tables, r * cols + c0, r * cols + c0 + tw);
    } else {
      rows = 1;  // the 1 x (n mod DIM) tail
      tw = tail;
      add_range(a, tables, D * cols, a.n);
    }
    c.tiles += 1;
    c.mvin_acc_bytes += u64(2 * rows * tw);  // A (scaled mvin) and B (scaled, accumulating mvin), int8 each
    c.mvin_cmds += u64(2 * blocks(rows, D) * blocks(tw, D));
    c.mvout_bytes += u64(rows * tw);
    c.mvout_cmds += u64(blocks(rows, D) * blocks(tw, D));
  });
  for (const auto& c : counts) total += c;
  total.calls = 1;
  estimate_cycles(total, cfg, mode, false);
  return total;
}

}  // namespace rcnn::systolic
