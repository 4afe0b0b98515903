// Reads the Systolic EP's report (RcnnSystolicEpReport, ep/ort/README.md, "Report") from the library ONNX Runtime
// loaded for --ep-lib.
#pragma once

#include <optional>
#include <string>

namespace ort_test {

// The report JSON for `report_id`, from the copy ORT loaded (dlopen with RTLD_NOLOAD, never a second copy); nullopt
// when the library exports no report function or has no report under that id. Throws std::runtime_error when the
// library reports an internal error.
std::optional<std::string> query_systolic_ep_report(const std::string& library, const char* report_id);

}  // namespace ort_test
