// Asks the registered custom-op libraries for their accelerator statistics (RcnnSystolicStats, declared in
// ep/ort/include/rcnn/systolic_ops.h) and the plugin EP for its report.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <optional>
#include <string>

namespace ort_test {

// The statistics JSON of the registration `library` made with `options`, or nullopt when the library does not
// export RcnnSystolicStats (an unrelated custom-op library) or has nothing for these options. The library is
// found with dlopen(RTLD_NOLOAD): the handle ONNX Runtime loaded, never a second copy. Throws std::runtime_error
// when the library reports an internal error.
std::optional<std::string> query_systolic_stats(const std::string& library, const OrtSessionOptions* options);

// The plugin EP's report JSON (RcnnSystolicEpReport, ep/ort/plugin/README.md) for `report_id`, from the copy ORT
// loaded; nullopt when the library exports no report or has none under that id.
std::optional<std::string> query_systolic_ep_report(const std::string& library, const char* report_id);

}  // namespace ort_test
