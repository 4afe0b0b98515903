// The thin layer between the kernels and ONNX Runtime's C API: error conversion, attribute reading, tensor access.
//
// Only the C API is used (no Ort:: C++ wrappers): every entry point receives or stores the `const OrtApi*` it was
// given, so the library needs no global API pointer and never links libonnxruntime (ORT_API_MANUAL_INIT documents
// that OrtGetApiBase() is never called from here).
//
// Errors inside the library are C++ exceptions (OrtCallError for failed ORT calls, rcnn::systolic::Error from the
// accelerator model, std::runtime_error for our own checks). They never cross the C boundary: every callback ORT
// invokes runs its body through status_from_exception(), which turns the exception into an OrtStatus.
#pragma once

#define ORT_API_MANUAL_INIT
#include <onnxruntime_c_api.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dims.h"

namespace rcnn::ort {

// A failed ORT call, keeping ORT's error code.
class OrtCallError : public std::runtime_error {
 public:
  OrtCallError(OrtErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  OrtErrorCode code() const noexcept { return code_; }

 private:
  OrtErrorCode code_;
};

// Throws OrtCallError (releasing the status) if `status` is not null.
void check(const OrtApi& api, OrtStatus* status);

// The current exception (call only inside a catch block) as an OrtStatus whose message is `where` + ": " + what().
// Never throws; std::bad_alloc and unknown exceptions get fixed messages.
OrtStatus* status_from_current_exception(const OrtApi& api, const std::string& where) noexcept;

// Runs `body` and converts whatever it throws. The single place where exceptions stop.
template <class Body>
OrtStatus* guarded(const OrtApi& api, const std::string& where, Body&& body) noexcept {
  try {
    body();
    return nullptr;
  } catch (...) {
    return status_from_current_exception(api, where);
  }
}

// Reads node attributes at kernel creation. Missing optional attributes take their default; a present attribute of
// the wrong type is an error (ORT says which).
class AttributeReader {
 public:
  AttributeReader(const OrtApi& api, const OrtKernelInfo* info) : api_(api), info_(info) {}

  float required_float(const char* name) const;
  int64_t int_or(const char* name, int64_t fallback) const;
  std::vector<int64_t> ints_or(const char* name, const std::vector<int64_t>& fallback) const;
  std::string node_name() const;

 private:
  // nullopt when the attribute is absent; throws when ORT reports any other failure.
  std::optional<float> get_float(const char* name) const;
  std::optional<int64_t> get_int(const char* name) const;
  std::optional<std::vector<int64_t>> get_ints(const char* name) const;
  bool is_missing(OrtStatus* status) const;  // consumes a non-null status when it means "no such attribute"
  void check_attribute(const char* name, OrtStatus* status) const;  // check() naming the attribute

  const OrtApi& api_;
  const OrtKernelInfo* info_;
};

// A read-only view of one kernel input.
struct InputTensor {
  std::vector<int64_t> dims;
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  const void* data = nullptr;
  int64_t elements() const noexcept;
};

// Kernel-side access to inputs and outputs of one Compute call.
class KernelIo {
 public:
  KernelIo(const OrtApi& api, OrtKernelContext* context) : api_(api), context_(context) {}

  // Input `index`; nullopt when it is an omitted optional input.
  std::optional<InputTensor> input(size_t index) const;
  // Creates output `index` with `dims` and returns its buffer (may be null when it has no elements).
  void* output(size_t index, const std::vector<int64_t>& dims) const;

 private:
  const OrtApi& api_;
  OrtKernelContext* context_;
};

}  // namespace rcnn::ort
