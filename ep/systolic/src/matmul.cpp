// matmul / matmul_f32: CPU mode (blocked packed GEMM) and the OS/WS tile walk of the reference's tiled_matmul_outer
// (loop i0, j0, k0; D moved into the accumulator at k0 == 0; outputs scaled and moved out at the last k0). The walk's
// events are counted apart from the host execution (count_tiled_matmul, tile_counts.cpp).
#include "systolic/matmul.h"

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "gemm.h"
#include "quant_forms.h"
#include "systolic/thread_pool.h"
#include "systolic/tiling.h"
#include "tile_counts.h"

namespace rcnn::systolic {

namespace {

using detail::ceil_div;

template <class T, class Acc>
struct Problem {
  int64_t I, J, K;
  const T* A;
  int64_t lda;
  const T* B;
  int64_t ldb;
  BiasKind bias_kind;
  const Acc* bias;
  int64_t ldd;
  T* C;
  int64_t ldc;
  const Acc* col_corr = nullptr;  // int8 with an A zero point: J values added to the accumulator init
};

template <class T, class Acc>
void check_problem(const Problem<T, Acc>& p) {
  if (p.I < 1 || p.J < 1 || p.K < 1)
    throw Error("matmul: I, J, K must be >= 1 (got " + std::to_string(p.I) + ", " + std::to_string(p.J) + ", " +
                std::to_string(p.K) + ")");
  if (!p.A || !p.B || !p.C) throw Error("matmul: A, B and C must not be null");
  if (p.lda < p.K || p.ldb < p.J || p.ldc < p.J) throw Error("matmul: a row stride is smaller than the row length");
  if (p.bias_kind != BiasKind::None && !p.bias) throw Error("matmul: bias kind set but bias pointer is null");
  if (p.bias_kind == BiasKind::Full && p.ldd < p.J) throw Error("matmul: ldd is smaller than J");
  constexpr int64_t kMax = int64_t{1} << 40;
  if (p.I > kMax / p.J || p.J > kMax / p.K || p.I > kMax / p.K) throw Error("matmul: matrices too large");
}

// acc[r][c] = D value of output (i0 + r, j0 + c), or 0.
template <class T, class Acc>
void init_acc(const Problem<T, Acc>& p, int64_t i0, int64_t j0, int64_t rows, int64_t cols, Acc* acc, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) {
    Acc* a = acc + r * ld;
    if (p.bias_kind == BiasKind::None) {
      std::fill(a, a + cols, Acc{});
    } else {
      const Acc* d = p.bias_kind == BiasKind::Full ? p.bias + (i0 + r) * p.ldd + j0 : p.bias + j0;
      std::copy(d, d + cols, a);
    }
    if constexpr (std::is_same<Acc, int32_t>::value) {
      if (p.col_corr)
        for (int64_t c = 0; c < cols; ++c) a[c] = wrap_add(a[c], p.col_corr[j0 + c]);
    }
  }
}

// -x_zp * (column sums of B), int32 wrap-around: the A zero point's share of every accumulator of a column.
std::vector<int32_t> zero_point_correction(const Problem<int8_t, int32_t>& p, int8_t x_zp) {
  std::vector<int32_t> sums(static_cast<size_t>(p.J), 0);
  for (int64_t k = 0; k < p.K; ++k) {
    const int8_t* row = p.B + k * p.ldb;
    for (int64_t j = 0; j < p.J; ++j) sums[j] = wrap_add(sums[j], row[j]);
  }
  for (int64_t j = 0; j < p.J; ++j) {
    const uint32_t corr = static_cast<uint32_t>(static_cast<int32_t>(x_zp)) * static_cast<uint32_t>(sums[j]);
    sums[j] = static_cast<int32_t>(0u - corr);
  }
  return sums;
}

template <class Kern, class Post>
void execute_cpu(const Problem<typename Kern::In, typename Kern::Acc>& p, const Post& post, ThreadPool* pool) {
  using In = typename Kern::In;
  constexpr int64_t MC = 64;                                   // rows per task (a multiple of kMR)
  constexpr int64_t NBP = std::max<int64_t>(1, 256 / Kern::NR);  // B panels per task
  detail::PackedB<Kern> pb;
  pb.resize(p.K, p.J);
  std::vector<const In*> krows(static_cast<size_t>(p.K));
  for (int64_t k = 0; k < p.K; ++k) krows[static_cast<size_t>(k)] = p.B + k * p.ldb;
  const unsigned workers = worker_count(pool);
  std::vector<detail::GemmScratch<Kern>> scratch(workers);
  // Pack B in parallel, panel ranges per task.
  const int64_t pack_tasks = std::min<int64_t>(pb.panels, 4 * static_cast<int64_t>(workers));
  parallel_for(pool, static_cast<size_t>(pack_tasks), [&](size_t t, unsigned w) {
    const int64_t b = pb.panels * static_cast<int64_t>(t) / pack_tasks;
    const int64_t e = pb.panels * (static_cast<int64_t>(t) + 1) / pack_tasks;
    pb.pack_panels(krows.data(), b, e, scratch[w].b_tmp);
  });

  const int64_t m_blocks = ceil_div(p.I, MC);
  const int64_t n_blocks = ceil_div(pb.panels, NBP);
  parallel_for(pool, static_cast<size_t>(m_blocks * n_blocks), [&](size_t t, unsigned w) {
    auto& s = scratch[w];
    const int64_t mi = static_cast<int64_t>(t) / n_blocks, ni = static_cast<int64_t>(t) % n_blocks;
    const int64_t i0 = mi * MC, rows = std::min(MC, p.I - i0);
    const int64_t p0 = ni * NBP, p1 = std::min(pb.panels, p0 + NBP);
    const int64_t c0 = p0 * Kern::NR, cols = std::min(p.J - c0, (p1 - p0) * Kern::NR);
    s.a_ptrs.resize(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) s.a_ptrs[static_cast<size_t>(r)] = p.A + (i0 + r) * p.lda;
    detail::pack_a_block(s.a_ptrs.data(), rows, p.K, s.a_packed);
    const int64_t ld = (p1 - p0) * Kern::NR;
    s.acc.resize(static_cast<size_t>(rows * ld));
    init_acc(p, i0, c0, rows, cols, s.acc.data(), ld);
    detail::gemm_packed<Kern>(s.a_packed.data(), rows, pb, p0, p1, s.acc.data(), ld);
    detail::store_tile(s.acc.data(), ld, rows, cols, post, c0, p.C + i0 * p.ldc + c0, p.ldc);
  });
}

// The OS/WS tile walk on the host: one task per output tile (i0, j0), whose k0 loop runs in order inside the task,
// like the hardware's.
template <class Kern, class Post>
void execute_tiled(const MatmulTiles& tiles, int64_t dim, const Problem<typename Kern::In, typename Kern::Acc>& p,
                   const Post& post, ThreadPool* pool) {
  const int64_t TI = tiles.tI * dim, TJ = tiles.tJ * dim, TK = tiles.tK * dim;
  const int64_t nI0 = ceil_div(p.I, TI), nJ0 = ceil_div(p.J, TJ), nK0 = ceil_div(p.K, TK);
  std::vector<detail::GemmScratch<Kern>> scratch(worker_count(pool));
  parallel_for(pool, static_cast<size_t>(nI0 * nJ0), [&](size_t t, unsigned w) {
    auto& s = scratch[w];
    const int64_t i0 = static_cast<int64_t>(t) / nJ0, j0 = static_cast<int64_t>(t) % nJ0;
    const int64_t row0 = i0 * TI, rows = std::min(TI, p.I - row0);
    const int64_t col0 = j0 * TJ, cols = std::min(TJ, p.J - col0);
    s.acc.resize(static_cast<size_t>(rows * cols));
    // D -> accumulator (k0 == 0 with bias), or accumulators overwritten by the first compute (no bias).
    init_acc(p, row0, col0, rows, cols, s.acc.data(), cols);
    for (int64_t k0 = 0; k0 < nK0; ++k0) {
      const int64_t kbase = k0 * TK, kk = std::min(TK, p.K - kbase);
      // mvin A block rows and B block rows (the packing plays the role of the scratchpad layout).
      s.a_ptrs.resize(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) s.a_ptrs[static_cast<size_t>(r)] = p.A + (row0 + r) * p.lda + kbase;
      detail::pack_a_block(s.a_ptrs.data(), rows, kk, s.a_packed);
      s.b_ptrs.resize(static_cast<size_t>(kk));
      for (int64_t k = 0; k < kk; ++k) s.b_ptrs[static_cast<size_t>(k)] = p.B + (kbase + k) * p.ldb + col0;
      s.b_packed.pack(s.b_ptrs.data(), kk, cols, s.b_tmp);
      // preload/compute over the DIM blocks of the tile: accumulate into the int32 accumulator tile.
      detail::gemm_packed<Kern>(s.a_packed.data(), rows, s.b_packed, 0, s.b_packed.panels, s.acc.data(), cols);
    }
    // mvout with scaling (int8) at the last k0.
    detail::store_tile(s.acc.data(), cols, rows, cols, post, col0, p.C + row0 * p.ldc + col0, p.ldc);
  });
}

// Execution, then the counters of the call (what the hardware would issue; CPU mode: MACs only).
template <class Kern, class Post>
Counters run(const AcceleratorConfig& cfg, Mode mode, const Problem<typename Kern::In, typename Kern::Acc>& p,
             const Post& post, ThreadPool* pool, bool per_channel_scales = false) {
  const uint64_t macs = static_cast<uint64_t>(p.I) * static_cast<uint64_t>(p.J) * static_cast<uint64_t>(p.K);
  Counters c;
  if (mode == Mode::CPU) {
    execute_cpu<Kern>(p, post, pool);
  } else {
    const MatmulTiles tiles = choose_matmul_tiles(cfg, mode, p.I, p.J, p.K);
    execute_tiled<Kern>(tiles, cfg.dim, p, post, pool);
    c = detail::count_tiled_matmul(cfg.dim, mode, p.I, p.J, p.K, tiles,
                                   static_cast<int64_t>(sizeof(typename Kern::In)),
                                   static_cast<int64_t>(sizeof(typename Kern::Acc)),
                                   p.bias_kind != BiasKind::None || p.col_corr != nullptr, per_channel_scales);
  }
  detail::finish_call(c, cfg, mode, macs, true);
  return c;
}

}  // namespace

Counters matmul(const AcceleratorConfig& cfg, Mode mode, const MatmulArgs& a, const ExecOptions& opt) {
  cfg.validate();
  if (cfg.elem != ElemType::Int8) throw Error("matmul: int8 data needs an int8 accelerator config (elem = \"int8\")");
  Problem<int8_t, int32_t> p{a.I,         a.J,    a.K,
                             a.A,         a.lda ? a.lda : a.K,
                             a.B,         a.ldb ? a.ldb : a.J,
                             a.bias_kind, a.bias, a.ldd ? a.ldd : a.J,
                             a.C,         a.ldc ? a.ldc : a.J};
  check_problem(p);
  detail::check_quant_forms(cfg, "matmul", a.multiplier, a.multipliers, a.J, a.x_zero_point, a.y_zero_point);
  std::vector<int32_t> corr;
  if (a.x_zero_point != 0) {
    corr = zero_point_correction(p, a.x_zero_point);
    p.col_corr = corr.data();
  }
  const detail::PostI8 post(a.multiplier, a.multipliers, a.J, a.y_zero_point, a.relu);
  Counters c;
  detail::with_kernel<int8_t>(opt.kernel, [&](auto kern) {
    c = run<decltype(kern)>(cfg, mode, p, post, opt.pool, a.multipliers != nullptr);
  });
  return c;
}

Counters matmul_f32(const AcceleratorConfig& cfg, Mode mode, const MatmulF32Args& a, const ExecOptions& opt) {
  cfg.validate();
  if (cfg.elem != ElemType::Fp32) throw Error("matmul_f32: fp32 data needs an fp32 accelerator config (elem = \"fp32\")");
  Problem<float, float> p{a.I,         a.J,    a.K,
                          a.A,         a.lda ? a.lda : a.K,
                          a.B,         a.ldb ? a.ldb : a.J,
                          a.bias_kind, a.bias, a.ldd ? a.ldd : a.J,
                          a.C,         a.ldc ? a.ldc : a.J};
  check_problem(p);
  const detail::PostF32 post{a.relu};
  Counters c;
  detail::with_kernel<float>(opt.kernel, [&](auto kern) { c = run<decltype(kern)>(cfg, mode, p, post, opt.pool); });
  return c;
}

}  // namespace rcnn::systolic
