// Provider options of the Systolic EP (README.md, "Options"): the accelerator's (accelerator_settings.h) plus the
// report's keys. ORT hands them to CreateEp as session config entries
// `ep.<lower-case EP name>.<key>`; parse_options sees them without that prefix.
#pragma once

#include <map>
#include <string>

#include "accelerator_settings.h"

namespace rcnn::ep {

constexpr const char* kEpName = "SystolicExecutionProvider";
constexpr const char* kEpVendor = "rcnn";
constexpr const char* kEpVersion = "0.1.0";
constexpr const char* kOptionPrefix = "ep.systolicexecutionprovider.";  // "ep." + lower-case kEpName + "."

struct EpOptions {
  ort::Settings settings;   // execution, config, dim, threads
  // Residual adds on the CPU EP (ORT's QLinearAdd, bit-exact against it) instead of the accelerator's resadd, whose
  // double rounding differs from QLinearAdd by 1 LSB on part of the elements: the "adds" option, accelerator | cpu.
  bool adds_on_cpu = false;
  std::string report_id;    // key of the report in the library's registry ("" = none; the latest EP is kept too)
  std::string report_file;  // written atomically (temp file + rename) when the EP is released ("" = none)
};

// The known option keys, for messages and checks.
const char* known_option_keys() noexcept;

// Throws std::invalid_argument naming the option, e.g. "execution must be 0 (CPU), 1 (OS) or 2 (WS), got '7'",
// "config:3: unknown key 'rows' (...)", "unknown option 'exec' (known: ...)".
EpOptions parse_options(const std::map<std::string, std::string>& options);

}  // namespace rcnn::ep
