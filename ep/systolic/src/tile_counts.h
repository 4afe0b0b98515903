// Event counting shared by the operations (rules in counters.h and counter_fields.def): what the hardware issues
// for a tile, for a tiled matmul walk, and the closing of one call's counters. Counting is a pure function of the
// shapes, the tiling and the config; the host executions never count. Internal header.
#pragma once

#include <cstdint>

#include "systolic/config.h"
#include "systolic/counters.h"
#include "systolic/tiling.h"
#include "systolic/types.h"

namespace rcnn::systolic::detail {

inline uint64_t u64(int64_t v) { return static_cast<uint64_t>(v); }
inline int64_t blocks(int64_t n, int64_t dim) { return (n + dim - 1) / dim; }

// The per-channel scales of `cols` output columns (float32) loaded for an mvout.
inline void count_scale_load(Counters& c, int64_t dim, int64_t cols) {
  c.mvin_acc_bytes += u64(cols * 4);
  c.mvin_cmds += u64(blocks(cols, dim));
}

// One matmul tile iteration (i0, j0, k0) with `rows` x `cols` outputs and a k extent of `kk` elements.
//   A: rows x kk, B: kk x cols elements into the scratchpad (block commands bI*bK + bK*bJ);
//   D: rows x cols accumulators when `load_d` (first k0 with a bias);
//   compute: one per DIM block triple, each with its preload; the preloaded ones are the first compute of every
//   output block (OS, i/j/k loop) or of every weight block (WS, j/k/i loop);
//   C: rows x cols outputs moved out when `store_c` (last k0); with `per_channel_scales` the mvout first loads the
//   cols float32 scales of the tile's columns (counted as accumulator-side DMA: mvin_acc_bytes, one command per
//   DIM columns).
inline void count_matmul_tile(Counters& c, int64_t dim, Mode mode, int64_t rows, int64_t cols, int64_t kk,
                              int64_t elem_bytes, int64_t acc_bytes, bool load_d, bool store_c,
                              bool per_channel_scales = false) {
  const int64_t bI = blocks(rows, dim), bJ = blocks(cols, dim), bK = blocks(kk, dim);
  c.tiles += 1;
  if (load_d) {
    c.mvin_acc_bytes += u64(rows * cols * acc_bytes);
    c.mvin_cmds += u64(bI * bJ);
  }
  c.mvin_sp_bytes += u64((rows * kk + kk * cols) * elem_bytes);
  c.mvin_cmds += u64(bI * bK + bK * bJ);
  const int64_t computes = bI * bJ * bK;
  const int64_t preloaded = mode == Mode::OS ? bI * bJ : bJ * bK;
  c.preloads += u64(computes);
  c.compute_preloaded += u64(preloaded);
  c.compute_accumulated += u64(computes - preloaded);
  c.padded_macs += u64(computes) * u64(dim * dim * dim);
  if (store_c) {
    if (per_channel_scales) count_scale_load(c, dim, cols);
    c.mvout_bytes += u64(rows * cols * elem_bytes);
    c.mvout_cmds += u64(bI * bJ);
  }
}

// The tiled matmul walk of an I x J x K problem (elements) in `tiles`: every output tile (i0, j0) over its k tiles
// in order, count_matmul_tile per iteration; D is moved in at the first k tile when `has_bias`, C out at the last
// (after its per-channel scales when `per_channel_scales`).
Counters count_tiled_matmul(int64_t dim, Mode mode, int64_t I, int64_t J, int64_t K, const MatmulTiles& tiles,
                            int64_t elem_bytes, int64_t acc_bytes, bool has_bias, bool per_channel_scales = false);

// Closes the counters of one call: calls = 1, its useful MACs, and the cycle estimate (estimate_cycles). CPU mode
// executes exactly the useful MACs (padded_macs = macs, no cycles).
void finish_call(Counters& c, const AcceleratorConfig& cfg, Mode mode, uint64_t macs, bool array_op);

}  // namespace rcnn::systolic::detail
