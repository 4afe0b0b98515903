// ort_test's command line: the options, their defaults and the parser.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "preprocess.h"

namespace ort_test {

struct Options {
  std::string model;
  std::optional<std::string> image;
  std::vector<std::string> input_files;
  std::optional<PreprocessMode> preprocess;  // unset: taken from the model's rcnn.preprocess metadata
  int execution = 0;                         // 0 CPU, 1 OS, 2 WS: the EP's execution option
  int optimization_level = 99;               // ORT GraphOptimizationLevel value: 0, 1, 2 or 99
  int log_severity = 3;                      // OrtLoggingLevel: 0 verbose ... 4 fatal
  std::optional<std::string> trace_prefix;
  std::optional<std::string> save_optimized;
  std::optional<std::string> output_dir;
  int threads = 1;                           // intra-op threads, also the EP's pool (threads option)
  std::vector<std::string> custom_op_libs;     // --custom-op-lib PATH: registered as they are
  std::optional<std::string> ep_lib;           // --ep-lib PATH: the Systolic plugin EP library to register
  std::optional<std::string> systolic_config;  // --systolic-config FILE: its text is the EP's config option
  std::optional<int> dim;                      // --dim N: the EP's dim option
  std::optional<std::string> device;           // --device guest|host: the EP's device option
  std::optional<std::string> adds;             // --adds accelerator|cpu: the EP's adds option
  std::vector<std::pair<std::string, std::string>> session_config;  // --session-config KEY=VALUE, in order
  int repeat = 1;
  bool help = false;
};

// Parses argv[1..argc-1]. Throws UsageError for unknown flags, missing or invalid values, stray arguments, flags
// given twice (except the repeatable --input, --custom-op-lib and --session-config) and a missing -m (unless -h is
// given).
Options parse_args(int argc, const char* const* argv);

std::string help_text();

}  // namespace ort_test
