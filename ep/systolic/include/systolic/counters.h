// Per-call event counters of the accelerator model and the analytic cycle estimate.
//
// Every operation returns a Counters value describing that call; OS/WS count the events their tile loops issue (the
// counting happens inside the same loops that execute the tiles), CPU mode reports only MACs. CounterTotals
// aggregates calls from several threads.
//
// Counted events (OS/WS):
//   tiles                 tile-loop iterations (matmul: (i0, j0, k0) triples; conv WS: 7-D conv tiles; resadd: tiles)
//   mvin_sp_bytes         bytes moved DRAM -> scratchpad (A and B blocks; only real data, edge padding is not moved)
//   mvin_acc_bytes        bytes moved DRAM -> accumulator (bias/D as int32, resadd inputs as int8)
//   mvout_bytes           bytes moved accumulator -> DRAM (scaled outputs; after pooling when pooling is fused)
//   mvin_cmds/mvout_cmds  DMA commands, one per block of <= DIM rows x DIM columns
//   preloads              preload commands (one per compute: it names the output accumulator block)
//   compute_preloaded     computes that start on freshly preloaded data (WS: new weights; OS: new output block)
//   compute_accumulated   computes reusing the preloaded data (WS: same weights; OS: same outputs)
//   macs                  useful MACs of the operation (matmul I*J*K; conv N*OH*OW*OC*KH*KW*IC/groups)
//   padded_macs           MACs the array executes: DIM^3 per compute command (CPU mode: = macs)
//
// Cycle estimate (an estimate for comparing modes and shapes, not a timing model), with D = dim and
// B = dma_bytes_per_cycle:
//   compute = D * (computes + compute_preloaded)       computes = compute_preloaded + compute_accumulated
//             i.e. D cycles to stream each DIM x DIM x DIM block, plus D cycles to fill (WS: shift weights in) or
//             drain (OS: shift results out) the array for every compute_preloaded
//   dma     = ceil((mvin_sp_bytes + mvin_acc_bytes + mvout_bytes) / B)
//   OS      = compute + dma                            (single-buffered: loads, compute and stores do not overlap)
//   WS      = max(compute, dma) + ceil(dma / tiles)    (double-buffered: loads overlap compute; the first tile's
//                                                        load, approximated by the average tile, is not hidden)
//   resadd  = dma (no array compute);   CPU = 0
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "systolic/types.h"

namespace rcnn::systolic {

struct AcceleratorConfig;

struct Counters {
  uint64_t calls = 0;  // operation calls aggregated into this value
  uint64_t tiles = 0;
  uint64_t mvin_sp_bytes = 0;
  uint64_t mvin_acc_bytes = 0;
  uint64_t mvout_bytes = 0;
  uint64_t mvin_cmds = 0;
  uint64_t mvout_cmds = 0;
  uint64_t preloads = 0;
  uint64_t compute_preloaded = 0;
  uint64_t compute_accumulated = 0;
  uint64_t macs = 0;
  uint64_t padded_macs = 0;
  uint64_t cycles = 0;  // estimate, see above

  uint64_t computes() const noexcept { return compute_preloaded + compute_accumulated; }
  Counters& operator+=(const Counters& o) noexcept;
  bool operator==(const Counters& o) const noexcept;
  bool operator!=(const Counters& o) const noexcept { return !(*this == o); }
  // "tiles=.. mvin_sp=..B ... cycles=.." on one line.
  std::string to_string() const;
};

Counters operator+(Counters a, const Counters& b) noexcept;

// Fills c.cycles from the other fields for an op that ran in `mode` (see the formula above). `array_op` is false for
// resadd (no array compute).
void estimate_cycles(Counters& c, const AcceleratorConfig& cfg, Mode mode, bool array_op);

// Thread-safe running total (e.g. one per session or per node).
class CounterTotals {
 public:
  void add(const Counters& c);
  Counters snapshot() const;
  void reset();

 private:
  mutable std::mutex mu_;
  Counters total_;
};

}  // namespace rcnn::systolic
