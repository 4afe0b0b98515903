// The session config entries ort_test sets before registering custom-op libraries: what the rcnn.systolic library
// reads (systolic.execution, systolic.threads, systolic.config, systolic.dim, see ep/ort/README.md) and any
// --session-config KEY=VALUE, which wins over the former. ORT-independent so that tests/cpp can check it.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "args.h"

namespace ort_test {

constexpr const char* kExecutionConfigKey = "systolic.execution";
constexpr const char* kThreadsConfigKey = "systolic.threads";
constexpr const char* kSystolicConfigKey = "systolic.config";
constexpr const char* kDimConfigKey = "systolic.dim";
// ORT's intra-op threads spin while they wait; with a custom-op library running its own worker pool the spinning
// threads take the cores those workers need (measured: 2 threads gave no speed-up natively). So when a library is
// registered and threads > 1, ort_test turns spinning off unless --session-config sets it.
constexpr const char* kAllowSpinningKey = "session.intra_op.allow_spinning";

// Each key once, in the order first set. Reads the --systolic-config file (std::runtime_error naming it if it
// cannot be read).
std::vector<std::pair<std::string, std::string>> session_config_entries(const Options& options);

// The Systolic plugin EP's registration name, device name, and the report id ort_test gives it.
constexpr const char* kSystolicEpRegistration = "rcnn_systolic_ep";
constexpr const char* kSystolicEpName = "SystolicExecutionProvider";
constexpr const char* kSystolicEpReportId = "ort_test";

// Provider options of the plugin EP (--ep-lib): the systolic.* entries above without their prefix (execution,
// threads, config, dim; --session-config systolic.X=V wins as for the library) plus report_id.
std::unordered_map<std::string, std::string> systolic_ep_options(const Options& options);

}  // namespace ort_test
