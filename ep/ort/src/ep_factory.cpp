#include "ep_factory.h"

#include <map>

#include "ep.h"
#include "options.h"

namespace rcnn::ep {

SystolicEpFactory::SystolicEpFactory(const char* registered_name)
    : OrtEpFactory{}, registered_name_(registered_name != nullptr ? registered_name : "") {
  ort_version_supported = ORT_API_VERSION;
  GetName = GetNameImpl;
  GetVendor = GetVendorImpl;
  GetSupportedDevices = GetSupportedDevicesImpl;
  CreateEp = CreateEpImpl;
  ReleaseEp = ReleaseEpImpl;
  GetVendorId = GetVendorIdImpl;
  GetVersion = GetVersionImpl;
  ValidateCompiledModelCompatibilityInfo = ValidateCompatibilityImpl;
  CreateAllocator = CreateAllocatorImpl;
  ReleaseAllocator = ReleaseAllocatorImpl;
  CreateDataTransfer = CreateDataTransferImpl;
  IsStreamAware = IsStreamAwareImpl;
  CreateSyncStreamForDevice = CreateSyncStreamImpl;
}

const char* ORT_API_CALL SystolicEpFactory::GetNameImpl(const OrtEpFactory*) noexcept { return kEpName; }
const char* ORT_API_CALL SystolicEpFactory::GetVendorImpl(const OrtEpFactory*) noexcept { return kEpVendor; }
uint32_t ORT_API_CALL SystolicEpFactory::GetVendorIdImpl(const OrtEpFactory*) noexcept { return 0; }
const char* ORT_API_CALL SystolicEpFactory::GetVersionImpl(const OrtEpFactory*) noexcept { return kEpVersion; }

// The accelerator model runs on the host CPU: one EP device for the first CPU hardware device.
OrtStatus* ORT_API_CALL SystolicEpFactory::GetSupportedDevicesImpl(OrtEpFactory* self,
                                                                   const OrtHardwareDevice* const* devices,
                                                                   size_t num_devices, OrtEpDevice** ep_devices,
                                                                   size_t max_ep_devices,
                                                                   size_t* num_ep_devices) noexcept {
  *num_ep_devices = 0;
  for (size_t i = 0; i < num_devices && *num_ep_devices < max_ep_devices; ++i) {
    if (g_api.ort->HardwareDevice_Type(devices[i]) != OrtHardwareDeviceType_CPU) continue;
    OrtEpDevice* device = nullptr;
    if (OrtStatus* st = g_api.ep->CreateEpDevice(self, devices[i], nullptr, nullptr, &device)) return st;
    ep_devices[(*num_ep_devices)++] = device;
    break;
  }
  return nullptr;
}

std::shared_ptr<device::Client> SystolicEpFactory::device_client() {
  std::lock_guard<std::mutex> lock(device_mu_);
  if (!device_) {
    device_ = device::Client::connect_from_env();
    if (!device_)
      throw std::invalid_argument("device=host needs the device process, but RCNN_SYSTOLIC_DEVICE is not set: start "
                                  "the run under rcnn_device (python -m rcnn.run --device host does)");
  }
  return device_;
}

OrtStatus* ORT_API_CALL SystolicEpFactory::CreateEpImpl(OrtEpFactory* self, const OrtHardwareDevice* const*,
                                                        const OrtKeyValuePairs* const*, size_t,
                                                        const OrtSessionOptions* session_options,
                                                        const OrtLogger* logger, OrtEp** ep) noexcept {
  *ep = nullptr;
  return guarded([&]() -> OrtStatus* {
    std::map<std::string, std::string> options;
    OrtKeyValuePairs* entries = nullptr;
    check(g_api.ort->GetSessionOptionsConfigEntries(session_options, &entries), "GetSessionOptionsConfigEntries");
    const char* const* keys = nullptr;
    const char* const* values = nullptr;
    size_t n = 0;
    g_api.ort->GetKeyValuePairs(entries, &keys, &values, &n);
    const std::string prefix = kOptionPrefix;
    for (size_t i = 0; i < n; ++i) {
      const std::string key = keys[i] != nullptr ? keys[i] : "";
      if (key.compare(0, prefix.size(), prefix) == 0) options[key.substr(prefix.size())] = values[i] ? values[i] : "";
    }
    g_api.ort->ReleaseKeyValuePairs(entries);
    EpOptions parsed;
    try {
      parsed = parse_options(options);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("bad provider option: ") + e.what());
    }
    // CPU mode models the RISC-V core computing the ops itself: it never goes to the device.
    const bool on_device = parsed.settings.device_host && parsed.settings.mode != systolic::Mode::CPU;
    auto backend = std::make_shared<const Backend>(
        on_device ? static_cast<SystolicEpFactory*>(self)->device_client() : nullptr);
    *ep = new SystolicEp(std::move(parsed), logger, std::move(backend));
    return nullptr;
  }, ORT_INVALID_ARGUMENT);
}

void ORT_API_CALL SystolicEpFactory::ReleaseEpImpl(OrtEpFactory*, OrtEp* ep) noexcept {
  delete static_cast<SystolicEp*>(ep);
}

OrtStatus* ORT_API_CALL SystolicEpFactory::ValidateCompatibilityImpl(OrtEpFactory*, const OrtHardwareDevice* const*,
                                                                     size_t, const char*,
                                                                     OrtCompiledModelCompatibility* out) noexcept {
  *out = OrtCompiledModelCompatibility_EP_NOT_APPLICABLE;  // no EPContext models
  return nullptr;
}

OrtStatus* ORT_API_CALL SystolicEpFactory::CreateAllocatorImpl(OrtEpFactory*, const OrtMemoryInfo*,
                                                               const OrtKeyValuePairs*,
                                                               OrtAllocator** allocator) noexcept {
  *allocator = nullptr;  // host memory: ORT's default CPU allocator
  return nullptr;
}

void ORT_API_CALL SystolicEpFactory::ReleaseAllocatorImpl(OrtEpFactory*, OrtAllocator*) noexcept {}

OrtStatus* ORT_API_CALL SystolicEpFactory::CreateDataTransferImpl(OrtEpFactory*, OrtDataTransferImpl** out) noexcept {
  *out = nullptr;  // CPU memory only: nothing to copy between devices
  return nullptr;
}

bool ORT_API_CALL SystolicEpFactory::IsStreamAwareImpl(const OrtEpFactory*) noexcept { return false; }

OrtStatus* ORT_API_CALL SystolicEpFactory::CreateSyncStreamImpl(OrtEpFactory*, const OrtMemoryDevice*,
                                                                const OrtKeyValuePairs*,
                                                                OrtSyncStreamImpl** stream) noexcept {
  *stream = nullptr;
  return nullptr;
}

}  // namespace rcnn::ep
