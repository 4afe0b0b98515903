// What ort_test hands to ONNX Runtime besides the model: the session config entries (--session-config KEY=VALUE,
// plus one default of its own) and the Systolic EP's provider options (-x, --threads, --systolic-config, --dim;
// ep/ort/README.md, "Options"). ORT-independent so that tests/cpp can check it.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "args.h"

namespace ort_test {

// ORT's intra-op threads spin while they wait; with the EP running its own worker pool the spinning threads take
// the cores those workers need (measured: 2 threads gave no speed-up natively). So with --ep-lib and threads > 1,
// ort_test turns spinning off unless --session-config sets it.
constexpr const char* kAllowSpinningKey = "session.intra_op.allow_spinning";

// Each key once, in the order first set; --session-config wins over ort_test's default.
std::vector<std::pair<std::string, std::string>> session_config_entries(const Options& options);

// The Systolic EP's registration name, device name, and the report id ort_test gives it.
constexpr const char* kSystolicEpRegistration = "rcnn_systolic_ep";
constexpr const char* kSystolicEpName = "SystolicExecutionProvider";
constexpr const char* kSystolicEpReportId = "ort_test";

// Provider options of the EP (--ep-lib): execution (-x), threads (--threads), config (the text of the
// --systolic-config file, std::runtime_error naming it if it cannot be read), dim (--dim), report_id.
std::unordered_map<std::string, std::string> systolic_ep_options(const Options& options);

}  // namespace ort_test
