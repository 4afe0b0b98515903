// The ORT API tables the library got from CreateEpFactories, and the error convention: no exception crosses the C
// boundary, every failure is an OrtStatus whose message starts with "rcnn systolic EP: ".
#pragma once

#include <onnxruntime_c_api.h>
// onnxruntime_c_api.h includes onnxruntime_ep_c_api.h (which has no include guard of its own)

#include <stdexcept>
#include <string>

namespace rcnn::ep {

struct Api {
  const OrtApi* ort = nullptr;
  const OrtEpApi* ep = nullptr;
};
extern Api g_api;  // set once by CreateEpFactories

constexpr const char* kMessagePrefix = "rcnn systolic EP: ";

inline OrtStatus* make_status(const std::string& message, OrtErrorCode code = ORT_FAIL) noexcept {
  try {
    return g_api.ort->CreateStatus(code, (kMessagePrefix + message).c_str());
  } catch (...) {
    return g_api.ort->CreateStatus(code, "rcnn systolic EP: out of memory");
  }
}

// Throws std::runtime_error with ORT's message (and releases the status) when `status` is an error.
inline void check(OrtStatus* status, const char* what) {
  if (status == nullptr) return;
  std::string msg = std::string(what) + ": " + g_api.ort->GetErrorMessage(status);
  g_api.ort->ReleaseStatus(status);
  throw std::runtime_error(msg);
}

// Runs fn(), turning any exception into an OrtStatus.
template <typename F>
OrtStatus* guarded(F&& fn, OrtErrorCode code = ORT_FAIL) noexcept {
  try {
    return fn();
  } catch (const std::invalid_argument& e) {
    return make_status(e.what(), ORT_INVALID_ARGUMENT);
  } catch (const std::exception& e) {
    return make_status(e.what(), code);
  } catch (...) {
    return make_status("unknown error", code);
  }
}

}  // namespace rcnn::ep
