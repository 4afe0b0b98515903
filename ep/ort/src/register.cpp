// The library's exported entry points: RegisterCustomOps (called by ONNX Runtime) and the statistics ABI of
// include/rcnn/systolic_ops.h. Everything else in the library has hidden visibility, and exports.map (the linker's
// version script) keeps the dynamic symbol table to exactly these three.
#include <climits>
#include <cstring>
#include <string>

#include "ort_glue.h"
#include "rcnn/systolic_ops.h"
#include "registration.h"

#define RCNN_EXPORT __attribute__((visibility("default")))  // ORT_EXPORT is empty on Linux in 1.21

namespace {

int copy_out(const std::string& json, char* buf, size_t len) noexcept {
  if (buf != nullptr && len > 0) {
    const size_t n = json.size() < len - 1 ? json.size() : len - 1;
    std::memcpy(buf, json.data(), n);
    buf[n] = '\0';
  }
  return json.size() > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(json.size());
}

}  // namespace

extern "C" {

// Reads the systolic.* session config entries from `options` (they must be set before the library is registered),
// creates a registration and adds the rcnn.systolic domain to `options`. Bad settings return an ORT status whose
// message names the entry, e.g. "rcnn_systolic_ops: systolic.execution must be 0 (CPU), 1 (OS) or 2 (WS), got '7'".
RCNN_EXPORT OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* api_base) {
  const OrtApi* api = api_base->GetApi(ORT_API_VERSION);
  if (api == nullptr) {
    // Older runtime: version 1 of the API still has CreateStatus. The message is fixed text (nothing to throw).
    const OrtApi* v1 = api_base->GetApi(1);
    return v1 != nullptr ? v1->CreateStatus(ORT_FAIL, "rcnn_systolic_ops needs ONNX Runtime API 21 (ORT >= 1.21)")
                         : nullptr;
  }
  static const std::string kWhere = "rcnn_systolic_ops";
  return rcnn::ort::guarded(*api, kWhere, [&] { rcnn::ort::Registry::instance().add(*api, options); });
}

RCNN_EXPORT int RcnnSystolicStats(const OrtSessionOptions* options, char* buf, size_t len) {
  try {
    std::string json;
    if (!rcnn::ort::Registry::instance().stats_for(options, json)) return -1;
    return copy_out(json, buf, len);
  } catch (...) {
    return -2;
  }
}

RCNN_EXPORT int RcnnSystolicStatsAll(char* buf, size_t len) {
  try {
    return copy_out(rcnn::ort::Registry::instance().stats_all(), buf, len);
  } catch (...) {
    return -2;
  }
}

}  // extern "C"
