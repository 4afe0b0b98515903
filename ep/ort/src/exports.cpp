// The library's exported entry points (exports.map): ONNX Runtime's CreateEpFactories / ReleaseEpFactory and the
// report ABI RcnnSystolicEpReport (README.md, "Report").
#include <climits>
#include <cstring>
#include <string>

#include "ep_factory.h"
#include "ort_api.h"
#include "report.h"

#define RCNN_EXPORT __attribute__((visibility("default")))

namespace rcnn::ep {
Api g_api;
}

extern "C" {

RCNN_EXPORT OrtStatus* CreateEpFactories(const char* registered_name, const OrtApiBase* ort_api_base,
                                         const OrtLogger* /*default_logger*/, OrtEpFactory** factories,
                                         size_t max_factories, size_t* num_factories) {
  using rcnn::ep::g_api;
  *num_factories = 0;
  const OrtApi* api = ort_api_base->GetApi(ORT_API_VERSION);
  if (api == nullptr) {
    const OrtApi* v1 = ort_api_base->GetApi(1);
    return v1 != nullptr ? v1->CreateStatus(ORT_FAIL, "rcnn systolic EP: needs ONNX Runtime API 23 (ORT >= 1.23)")
                         : nullptr;
  }
  g_api.ort = api;
  g_api.ep = api->GetEpApi();
  return rcnn::ep::guarded([&]() -> OrtStatus* {
    if (max_factories < 1) return rcnn::ep::make_status("no room for the factory", ORT_INVALID_ARGUMENT);
    factories[0] = new rcnn::ep::SystolicEpFactory(registered_name);
    *num_factories = 1;
    return nullptr;
  });
}

RCNN_EXPORT OrtStatus* ReleaseEpFactory(OrtEpFactory* factory) {
  delete static_cast<rcnn::ep::SystolicEpFactory*>(factory);
  return nullptr;
}

// Writes the JSON report of the EP created with provider option report_id = `report_id` (null or "": the latest
// EP created in the process) into buf (truncated to len - 1 bytes, NUL-terminated when len > 0) and returns its
// full length without the NUL; -1 when there is no such report, -2 on an internal error. Call with len 0 to size.
RCNN_EXPORT int RcnnSystolicEpReport(const char* report_id, char* buf, size_t len) {
  try {
    const std::string json = rcnn::ep::report_json(report_id);
    if (json.empty()) return -1;
    if (buf != nullptr && len > 0) {
      const size_t n = json.size() < len - 1 ? json.size() : len - 1;
      std::memcpy(buf, json.data(), n);
      buf[n] = '\0';
    }
    return json.size() > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(json.size());
  } catch (...) {
    return -2;
  }
}

}  // extern "C"
