// The Systolic OrtEpFactory: one EP device on the host CPU; CreateEp reads the provider options
// (ep.systolicexecutionprovider.<key> session config entries) and fails with an OrtStatus on a bad value.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "device/client.h"
#include "ort_api.h"

namespace rcnn::ep {

class SystolicEpFactory : public OrtEpFactory {
 public:
  explicit SystolicEpFactory(const char* registered_name);

 private:
  static const char* ORT_API_CALL GetNameImpl(const OrtEpFactory*) noexcept;
  static const char* ORT_API_CALL GetVendorImpl(const OrtEpFactory*) noexcept;
  static uint32_t ORT_API_CALL GetVendorIdImpl(const OrtEpFactory*) noexcept;
  static const char* ORT_API_CALL GetVersionImpl(const OrtEpFactory*) noexcept;
  static OrtStatus* ORT_API_CALL GetSupportedDevicesImpl(OrtEpFactory* self, const OrtHardwareDevice* const* devices,
                                                         size_t num_devices, OrtEpDevice** ep_devices,
                                                         size_t max_ep_devices, size_t* num_ep_devices) noexcept;
  static OrtStatus* ORT_API_CALL CreateEpImpl(OrtEpFactory* self, const OrtHardwareDevice* const* devices,
                                              const OrtKeyValuePairs* const* metadata, size_t num_devices,
                                              const OrtSessionOptions* session_options, const OrtLogger* logger,
                                              OrtEp** ep) noexcept;
  static void ORT_API_CALL ReleaseEpImpl(OrtEpFactory*, OrtEp* ep) noexcept;
  static OrtStatus* ORT_API_CALL ValidateCompatibilityImpl(OrtEpFactory*, const OrtHardwareDevice* const*, size_t,
                                                           const char*, OrtCompiledModelCompatibility* out) noexcept;
  static OrtStatus* ORT_API_CALL CreateAllocatorImpl(OrtEpFactory*, const OrtMemoryInfo*, const OrtKeyValuePairs*,
                                                     OrtAllocator** allocator) noexcept;
  static void ORT_API_CALL ReleaseAllocatorImpl(OrtEpFactory*, OrtAllocator*) noexcept;
  static OrtStatus* ORT_API_CALL CreateDataTransferImpl(OrtEpFactory*, OrtDataTransferImpl** out) noexcept;
  static bool ORT_API_CALL IsStreamAwareImpl(const OrtEpFactory*) noexcept;
  static OrtStatus* ORT_API_CALL CreateSyncStreamImpl(OrtEpFactory*, const OrtMemoryDevice*, const OrtKeyValuePairs*,
                                                      OrtSyncStreamImpl** stream) noexcept;

  // The connection to the device process (device=host), made by the first EP that needs it and shared by all:
  // a process has one window (RCNN_SYSTOLIC_DEVICE, set by rcnn_device).
  std::shared_ptr<device::Client> device_client();

  std::string registered_name_;
  std::mutex device_mu_;
  std::shared_ptr<device::Client> device_;
};

}  // namespace rcnn::ep
