#include "ort_glue.h"

#include <new>

#include "systolic/types.h"

namespace rcnn::ort {

void check(const OrtApi& api, OrtStatus* status) {
  if (status == nullptr) return;
  const OrtErrorCode code = api.GetErrorCode(status);
  std::string message = api.GetErrorMessage(status);
  api.ReleaseStatus(status);
  throw OrtCallError(code, message);
}

OrtStatus* status_from_current_exception(const OrtApi& api, const std::string& where) noexcept {
  // Building the message can itself run out of memory: fall back to fixed texts then.
  try {
    try {
      throw;
    } catch (const OrtCallError& e) {
      return api.CreateStatus(e.code(), (where + ": " + e.what()).c_str());
    } catch (const systolic::Error& e) {
      // The accelerator model rejects arguments (shapes, configs): the model or the settings are at fault.
      return api.CreateStatus(ORT_INVALID_ARGUMENT, (where + ": " + e.what()).c_str());
    } catch (const std::invalid_argument& e) {
      return api.CreateStatus(ORT_INVALID_ARGUMENT, (where + ": " + e.what()).c_str());
    } catch (const std::bad_alloc&) {
      return api.CreateStatus(ORT_FAIL, (where + ": out of memory").c_str());
    } catch (const std::exception& e) {
      return api.CreateStatus(ORT_FAIL, (where + ": " + e.what()).c_str());
    } catch (...) {
      return api.CreateStatus(ORT_FAIL, (where + ": unknown exception").c_str());
    }
  } catch (...) {
    return api.CreateStatus(ORT_FAIL, "rcnn_systolic_ops: out of memory while reporting an error");
  }
}

// ---------------------------------------------------------------------------------------------- attributes

bool AttributeReader::is_missing(OrtStatus* status) const {
  // The C API has no "has attribute" query in API 21. ORT reports an absent attribute as "No attribute with
  // name:'x'is defined." (1.21) or "No attribute with this name is defined." (1.31); anything else (e.g. a float
  // given for an int) is a real error and is passed on.
  const std::string message = api_.GetErrorMessage(status);
  if (message.find("No attribute with") == std::string::npos) return false;
  api_.ReleaseStatus(status);
  return true;
}

void AttributeReader::check_attribute(const char* name, OrtStatus* status) const {
  try {
    check(api_, status);
  } catch (const OrtCallError& e) {
    // ORT's text ("Attribute name and type don't match") does not say which attribute.
    throw OrtCallError(e.code(), std::string("attribute '") + name + "': " + e.what());
  }
}

std::optional<float> AttributeReader::get_float(const char* name) const {
  float value = 0.0f;
  OrtStatus* status = api_.KernelInfoGetAttribute_float(info_, name, &value);
  if (status != nullptr && is_missing(status)) return std::nullopt;
  check_attribute(name, status);
  return value;
}

std::optional<int64_t> AttributeReader::get_int(const char* name) const {
  int64_t value = 0;
  OrtStatus* status = api_.KernelInfoGetAttribute_int64(info_, name, &value);
  if (status != nullptr && is_missing(status)) return std::nullopt;
  check_attribute(name, status);
  return value;
}

std::optional<std::vector<int64_t>> AttributeReader::get_ints(const char* name) const {
  size_t size = 0;
  OrtStatus* status = api_.KernelInfoGetAttributeArray_int64(info_, name, nullptr, &size);
  if (status != nullptr && is_missing(status)) return std::nullopt;
  check_attribute(name, status);
  std::vector<int64_t> values(size);
  if (size > 0) check_attribute(name, api_.KernelInfoGetAttributeArray_int64(info_, name, values.data(), &size));
  values.resize(size);
  return values;
}

float AttributeReader::required_float(const char* name) const {
  const std::optional<float> value = get_float(name);
  if (!value) throw std::invalid_argument(std::string("missing float attribute '") + name + "'");
  return *value;
}

int64_t AttributeReader::int_or(const char* name, int64_t fallback) const {
  return get_int(name).value_or(fallback);
}

std::vector<int64_t> AttributeReader::ints_or(const char* name, const std::vector<int64_t>& fallback) const {
  std::optional<std::vector<int64_t>> value = get_ints(name);
  return value ? *value : fallback;
}

std::string AttributeReader::node_name() const {
  size_t size = 0;
  check(api_, api_.KernelInfo_GetNodeName(info_, nullptr, &size));  // size includes the terminating NUL
  std::string name(size, '\0');
  if (size > 0) check(api_, api_.KernelInfo_GetNodeName(info_, name.data(), &size));
  while (!name.empty() && name.back() == '\0') name.pop_back();
  return name;
}

// ---------------------------------------------------------------------------------------------- tensors

int64_t InputTensor::elements() const noexcept {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::optional<InputTensor> KernelIo::input(size_t index) const {
  size_t count = 0;
  check(api_, api_.KernelContext_GetInputCount(context_, &count));
  if (index >= count) return std::nullopt;
  const OrtValue* value = nullptr;
  check(api_, api_.KernelContext_GetInput(context_, index, &value));
  if (value == nullptr) return std::nullopt;

  InputTensor tensor;
  OrtTensorTypeAndShapeInfo* info = nullptr;
  check(api_, api_.GetTensorTypeAndShape(value, &info));
  // Release the info whatever happens below.
  struct Release {
    const OrtApi& api;
    OrtTensorTypeAndShapeInfo* info;
    ~Release() { api.ReleaseTensorTypeAndShapeInfo(info); }
  } release{api_, info};
  check(api_, api_.GetTensorElementType(info, &tensor.type));
  size_t rank = 0;
  check(api_, api_.GetDimensionsCount(info, &rank));
  tensor.dims.resize(rank);
  if (rank > 0) check(api_, api_.GetDimensions(info, tensor.dims.data(), rank));
  void* data = nullptr;
  // GetTensorMutableData is the only data accessor in API 21 that takes the const OrtValue the context hands out
  // (through a cast); the kernels only read through the pointer.
  check(api_, api_.GetTensorMutableData(const_cast<OrtValue*>(value), &data));
  tensor.data = data;
  return tensor;
}

void* KernelIo::output(size_t index, const std::vector<int64_t>& dims) const {
  OrtValue* value = nullptr;
  check(api_, api_.KernelContext_GetOutput(context_, index, dims.data(), dims.size(), &value));
  void* data = nullptr;
  check(api_, api_.GetTensorMutableData(value, &data));
  return data;
}

}  // namespace rcnn::ort
