// What one ort_test invocation did, as recorded in outputs.json.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "preprocess.h"

namespace ort_test {

struct RunSummary {
  std::string model;
  std::string ort_version;
  int execution = 0;
  int optimization_level = 99;
  int threads = 1;
  std::optional<PreprocessMode> preprocess;  // set only when an image was fed
  double session_create_ms = 0.0;
  std::vector<double> inference_ms;          // one per run, at least one
  std::optional<std::string> systolic_ep_json;  // the plugin EP's report (--ep-lib), if any
};

}  // namespace ort_test
