// Counters arithmetic, the cycle estimate (formula in counters.h) and the thread-safe total.
#include "systolic/counters.h"

#include <algorithm>
#include <sstream>

#include "systolic/config.h"

namespace rcnn::systolic {

Counters& Counters::operator+=(const Counters& o) noexcept {
  calls += o.calls;
  tiles += o.tiles;
  mvin_sp_bytes += o.mvin_sp_bytes;
  mvin_acc_bytes += o.mvin_acc_bytes;
  mvout_bytes += o.mvout_bytes;
  mvin_cmds += o.mvin_cmds;
  mvout_cmds += o.mvout_cmds;
  preloads += o.preloads;
  compute_preloaded += o.compute_preloaded;
  compute_accumulated += o.compute_accumulated;
  macs += o.macs;
  padded_macs += o.padded_macs;
  cycles += o.cycles;
  return *this;
}

Counters operator+(Counters a, const Counters& b) noexcept {
  a += b;
  return a;
}

bool Counters::operator==(const Counters& o) const noexcept {
  return calls == o.calls && tiles == o.tiles && mvin_sp_bytes == o.mvin_sp_bytes &&
         mvin_acc_bytes == o.mvin_acc_bytes && mvout_bytes == o.mvout_bytes && mvin_cmds == o.mvin_cmds &&
         mvout_cmds == o.mvout_cmds && preloads == o.preloads && compute_preloaded == o.compute_preloaded &&
         compute_accumulated == o.compute_accumulated && macs == o.macs && padded_macs == o.padded_macs &&
         cycles == o.cycles;
}

std::string Counters::to_string() const {
  std::ostringstream os;
  os << "calls=" << calls << " tiles=" << tiles << " mvin_sp=" << mvin_sp_bytes << "B mvin_acc=" << mvin_acc_bytes
     << "B mvout=" << mvout_bytes << "B mvin_cmds=" << mvin_cmds << " mvout_cmds=" << mvout_cmds
     << " preloads=" << preloads << " compute_preloaded=" << compute_preloaded
     << " compute_accumulated=" << compute_accumulated << " macs=" << macs << " padded_macs=" << padded_macs
     << " cycles=" << cycles;
  return os.str();
}

void estimate_cycles(Counters& c, const AcceleratorConfig& cfg, Mode mode, bool array_op) {
  if (mode == Mode::CPU) {
    c.cycles = 0;
    return;
  }
  const uint64_t bw = static_cast<uint64_t>(cfg.dma_bytes_per_cycle);
  const uint64_t bytes = c.mvin_sp_bytes + c.mvin_acc_bytes + c.mvout_bytes;
  const uint64_t dma = (bytes + bw - 1) / bw;
  if (!array_op) {
    c.cycles = dma;
    return;
  }
  const uint64_t compute = static_cast<uint64_t>(cfg.dim) * (c.computes() + c.compute_preloaded);
  if (mode == Mode::OS) {
    c.cycles = compute + dma;
  } else {
    const uint64_t tiles = std::max<uint64_t>(c.tiles, 1);
    c.cycles = std::max(compute, dma) + (dma + tiles - 1) / tiles;
  }
}

void CounterTotals::add(const Counters& c) {
  std::lock_guard<std::mutex> lock(mu_);
  total_ += c;
}

Counters CounterTotals::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

void CounterTotals::reset() {
  std::lock_guard<std::mutex> lock(mu_);
  total_ = Counters{};
}

}  // namespace rcnn::systolic
