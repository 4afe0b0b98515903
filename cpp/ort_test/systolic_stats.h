// The accelerator statistics a custom-op library reports through RcnnSystolicStats (ep/ort/README.md): parsed from
// the library's JSON and printed as a config line plus a per-op-type counters table.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace ort_test {

// One counters object of the document: every key of ep/systolic/include/systolic/counter_fields.def (stored and
// derived alike: for a reader they are all just numbers). Only that list is shared with the library, not its code:
// ort_test talks to it through the C ABI and must not link the accelerator model.
struct SystolicOpCounters {
  std::string op;    // QConv, QMatMul, QAdd, Conv, MatMul, or "total"
  std::string elem;  // "int8" | "fp32": the config the op ran on (empty for the total)
#define RCNN_SYSTOLIC_COUNTER(name, meaning) uint64_t name = 0;
#define RCNN_SYSTOLIC_DERIVED(name, meaning) uint64_t name = 0;
#include "systolic/counter_fields.def"
};

struct SystolicStats {
  std::string library;      // the --custom-op-lib path
  std::string json;         // the document as the library wrote it (goes into outputs.json unchanged)
  std::string description;  // config.description
  std::string fallback_elem;         // fallback_config.elem: ops of this element type ran on the fallback config
  std::string fallback_description;  // fallback_config.description (both empty when the library has none)
  std::string mode;         // "cpu" | "os" | "ws"
  std::optional<int64_t> execution;
  uint64_t threads = 1;
  std::vector<SystolicOpCounters> ops;  // every op type the library lists, in its order
  SystolicOpCounters total;
};

// Every counter of the list must be present in every counters object. Throws
// std::runtime_error("custom-op library '<library>' returned unusable statistics: <why>").
SystolicStats parse_systolic_stats(const std::string& json, const std::string& library);

// "Accelerator: <description>; mode ws (-x 2), 1 thread", "Accelerator for fp32 ops: <fallback description>" when
// ops of the fallback's element type ran, and a table of the op types that ran (plus a total row when several did);
// "no rcnn.systolic op ran" when none did.
void print_systolic_stats(std::ostream& out, const SystolicStats& stats, int runs);

// The plugin EP's report (ep/ort/plugin/README.md): placement in nodes and MACs, every node left on the CPU with
// its reason, and the accelerator's estimated cycles over all runs. Throws std::runtime_error naming `library` when
// the document lacks what is printed.
void print_systolic_ep_report(std::ostream& out, const std::string& json, const std::string& library);

}  // namespace ort_test
