#include "session_setup.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "session_config.h"

namespace ort_test {
namespace {

const char* onnx_kind_name(ONNXType type) {
  switch (type) {
    case ONNX_TYPE_TENSOR: return "tensor";
    case ONNX_TYPE_SEQUENCE: return "sequence";
    case ONNX_TYPE_MAP: return "map";
    case ONNX_TYPE_OPAQUE: return "opaque";
    case ONNX_TYPE_SPARSETENSOR: return "sparse tensor";
    case ONNX_TYPE_OPTIONAL: return "optional";
    default: return "unknown type";
  }
}

IoSpec make_spec(std::string name, const Ort::TypeInfo& type_info) {
  IoSpec spec;
  spec.name = std::move(name);
  const ONNXType kind = type_info.GetONNXType();
  spec.kind = onnx_kind_name(kind);
  if (kind != ONNX_TYPE_TENSOR) {
    spec.is_tensor = false;
    return spec;
  }
  const auto tensor_info = type_info.GetTensorTypeAndShapeInfo();
  spec.onnx_type = static_cast<int32_t>(tensor_info.GetElementType());
  spec.dims = tensor_info.GetShape();
  // The C API fills an array of pointers into ORT-owned strings; copy them out.
  std::vector<const char*> names(spec.dims.size(), nullptr);
  if (!names.empty()) tensor_info.GetSymbolicDimensions(names.data(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    spec.dim_names.emplace_back(spec.dims[i] < 0 && names[i] ? names[i] : "");
  }
  return spec;
}

// The EP goes first, so it sees the graph before the CPU EP takes what is left.
void append_systolic_ep(const std::string& library, const Options& options, Ort::Env& env,
                        Ort::SessionOptions& session_options) {
  env.RegisterExecutionProviderLibrary(kSystolicEpRegistration, library);
  std::vector<Ort::ConstEpDevice> devices;
  for (const Ort::ConstEpDevice& device : env.GetEpDevices()) {
    if (std::string(device.EpName()) == kSystolicEpName) devices.push_back(device);
  }
  if (devices.empty()) {
    throw std::runtime_error("--ep-lib " + library + " registered no " + kSystolicEpName + " device");
  }
  session_options.AppendExecutionProvider_V2(env, {devices.front()}, systolic_ep_options(options));
}

}  // namespace

Ort::SessionOptions make_session_options(const Options& options, Ort::Env& env) {
  Ort::SessionOptions session_options;
  session_options.SetIntraOpNumThreads(options.threads);
  session_options.SetGraphOptimizationLevel(static_cast<GraphOptimizationLevel>(options.optimization_level));
  session_options.SetLogSeverityLevel(options.log_severity);
  for (const auto& [key, value] : session_config_entries(options)) {
    session_options.AddConfigEntry(key.c_str(), value.c_str());
  }
  if (options.trace_prefix) session_options.EnableProfiling(options.trace_prefix->c_str());
  if (options.save_optimized) session_options.SetOptimizedModelFilePath(options.save_optimized->c_str());
  for (const std::string& library : options.custom_op_libs) {
    session_options.RegisterCustomOpsLibrary(library.c_str());
  }
  if (options.ep_lib) append_systolic_ep(*options.ep_lib, options, env, session_options);
  return session_options;
}

std::vector<IoSpec> read_input_specs(const Ort::Session& session) {
  Ort::AllocatorWithDefaultOptions allocator;
  std::vector<IoSpec> specs;
  for (size_t i = 0; i < session.GetInputCount(); ++i) {
    specs.push_back(make_spec(session.GetInputNameAllocated(i, allocator).get(), session.GetInputTypeInfo(i)));
  }
  return specs;
}

std::vector<IoSpec> read_output_specs(const Ort::Session& session) {
  Ort::AllocatorWithDefaultOptions allocator;
  std::vector<IoSpec> specs;
  for (size_t i = 0; i < session.GetOutputCount(); ++i) {
    specs.push_back(make_spec(session.GetOutputNameAllocated(i, allocator).get(), session.GetOutputTypeInfo(i)));
  }
  return specs;
}

std::optional<std::string> read_custom_metadata(const Ort::Session& session, const char* key) {
  Ort::AllocatorWithDefaultOptions allocator;
  const Ort::ModelMetadata metadata = session.GetModelMetadata();
  const Ort::AllocatedStringPtr value = metadata.LookupCustomMetadataMapAllocated(key, allocator);
  if (!value) return std::nullopt;
  return std::string(value.get());
}

}  // namespace ort_test
