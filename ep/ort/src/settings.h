// Run-time settings of one registration, read from the session config entries when RegisterCustomOps runs
// (ep/ort/README.md, "Run-time settings"). Pure C++: the ORT lookup is passed in, so tests can drive it directly.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "systolic/config.h"
#include "systolic/types.h"

namespace rcnn::ort {

constexpr const char* kExecutionKey = "systolic.execution";
constexpr const char* kConfigKey = "systolic.config";
constexpr const char* kDimKey = "systolic.dim";
constexpr const char* kThreadsKey = "systolic.threads";
constexpr int kMaxThreads = 1024;

struct Settings {
  systolic::AcceleratorConfig config;  // built-in defaults (= ep/systolic/accelerator.toml) unless systolic.config
  // The built-in config of the other element type (fp32 = accelerator_fp32.toml when `config` is int8, and vice
  // versa), with systolic.dim applied: ops of that element type run on it, so an fp32 model needs no config.
  systolic::AcceleratorConfig fallback = systolic::AcceleratorConfig::fp32_defaults();
  systolic::Mode mode = systolic::Mode::CPU;
  int execution = -1;  // the systolic.execution value, -1 when absent (mode then = config.dataflow)
  int threads = 1;     // workers of the kernels' pool, calling thread included

  // The config ops of element type `elem` run on.
  const systolic::AcceleratorConfig& config_for(systolic::ElemType elem) const noexcept {
    return config.elem == elem ? config : fallback;
  }
};

// Returns the value of a session config entry, or nullopt when it is not set.
using ConfigLookup = std::function<std::optional<std::string>(const char* key)>;

// Throws std::invalid_argument naming the key and the bad value, e.g.
//   "systolic.execution must be 0 (CPU), 1 (OS) or 2 (WS), got '7'"
//   "systolic.config:3: unknown key 'dimm' (known keys: ...)"
Settings read_settings(const ConfigLookup& lookup);

}  // namespace rcnn::ort
