// The accelerator part of the EP's provider options (execution, config, dim, threads, device; README.md, "Options"): their
// values checked and turned into the config, mode and pool size a session runs with. Pure C++: the lookup is passed
// in, so tests and fuzzers drive it without ONNX Runtime.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "systolic/config.h"
#include "systolic/types.h"

namespace rcnn::ort {

constexpr const char* kExecutionKey = "execution";
constexpr const char* kConfigKey = "config";
constexpr const char* kDimKey = "dim";
constexpr const char* kThreadsKey = "threads";
constexpr const char* kDeviceKey = "device";
constexpr int kMaxThreads = 1024;

struct Settings {
  systolic::AcceleratorConfig config;  // built-in defaults (= ep/systolic/accelerator.toml) unless `config` is given
  systolic::Mode mode = systolic::Mode::CPU;
  int execution = -1;  // the `execution` value, -1 when absent (mode then = config.dataflow)
  int threads = 1;     // workers of the EP's pool, calling thread included
  // Where OS/WS ops run: guest = in this process (under qemu: emulated RISC-V code), host = in the native device
  // process this one was started under (rcnn_device, ep/device). CPU mode always runs here: it models the core.
  bool device_host = false;
};

// Returns the value of an option, or nullopt when it is not set.
using ConfigLookup = std::function<std::optional<std::string>(const char* key)>;

// Throws std::invalid_argument naming the key and the bad value, e.g.
//   "execution must be 0 (CPU), 1 (OS) or 2 (WS), got '7'"
//   "config:3: unknown key 'dimm' (known keys: ...)"
Settings read_settings(const ConfigLookup& lookup);

}  // namespace rcnn::ort
