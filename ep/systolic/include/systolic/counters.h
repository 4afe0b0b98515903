// Per-call event counters of the accelerator model and the analytic cycle estimate.
//
// Every operation returns a Counters value describing that call: OS/WS count the events the hardware would issue for
// the call's tiling (a pure function of the shapes and the config, computed apart from the host execution), CPU mode
// reports only MACs. CounterTotals aggregates calls from several threads. The fields and their meaning are listed
// once, in counter_fields.def; everything that enumerates them (+=, ==, to_string, the statistics JSON, the Python
// dict) is generated from that list, so a new counter cannot be forgotten in one of them.
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
#define RCNN_SYSTOLIC_COUNTER(name, meaning) uint64_t name = 0;
#include "systolic/counter_fields.def"

  // The derived values of counter_fields.def.
  uint64_t mvin_bytes() const noexcept { return mvin_sp_bytes + mvin_acc_bytes; }
  uint64_t computes() const noexcept { return compute_preloaded + compute_accumulated; }

  Counters& operator+=(const Counters& o) noexcept;
  bool operator==(const Counters& o) const noexcept;
  bool operator!=(const Counters& o) const noexcept { return !(*this == o); }
  // "calls=.. macs=.. ... cycles=.." (every field, in list order) on one line.
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
