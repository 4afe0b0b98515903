// Counters arithmetic, the cycle estimate (formula in counters.h) and the thread-safe total.
#include "systolic/counters.h"

#include <algorithm>
#include <cstddef>
#include <sstream>
#include <type_traits>
#include <utility>

#include "systolic/config.h"

namespace rcnn::systolic {

// A field added to Counters by hand, outside counter_fields.def, would be skipped by everything generated below.
constexpr size_t kListedFields = 0
#define RCNN_SYSTOLIC_COUNTER(name, meaning) +1
#include "systolic/counter_fields.def"
    ;
static_assert(sizeof(Counters) == kListedFields * sizeof(uint64_t),
              "every field of Counters must come from counter_fields.def");

// Every derived entry of counter_fields.def needs its member function (a missing one fails here, not at run time).
#define RCNN_SYSTOLIC_DERIVED(name, meaning)                                                           \
  static_assert(std::is_same<decltype(std::declval<const Counters&>().name()), uint64_t>::value, \
                #name " is listed as derived: Counters needs uint64_t " #name "() const");
#include "systolic/counter_fields.def"

Counters& Counters::operator+=(const Counters& o) noexcept {
#define RCNN_SYSTOLIC_COUNTER(name, meaning) name += o.name;
#include "systolic/counter_fields.def"
  return *this;
}

Counters operator+(Counters a, const Counters& b) noexcept {
  a += b;
  return a;
}

bool Counters::operator==(const Counters& o) const noexcept {
  bool equal = true;
#define RCNN_SYSTOLIC_COUNTER(name, meaning) equal = equal && name == o.name;
#include "systolic/counter_fields.def"
  return equal;
}

std::string Counters::to_string() const {
  std::ostringstream os;
  const char* separator = "";
#define RCNN_SYSTOLIC_COUNTER(name, meaning) \
  os << separator << #name "=" << name;      \
  separator = " ";
#include "systolic/counter_fields.def"
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
