#include "backend.h"

namespace rcnn::ep {

std::string Backend::where() const {
  return device_ ? "device process " + std::to_string(device_->device_pid()) : "in-process";
}

device::ResidentRef Backend::keep(const void* data, uint64_t bytes) const {
  if (!device_ || bytes == 0) return {};
  return {device_->upload(data, bytes), 0};
}

void Backend::release(device::ResidentRef ref) const noexcept {
  if (!device_ || ref.handle == 0) return;
  try {
    device_->free_buffer(ref.handle);
  } catch (...) {
    // The device is gone or refused: its memory went with it, and a destructor must not throw.
  }
}

systolic::Counters Backend::conv2d(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                   const systolic::ConvArgs& args, const systolic::ExecOptions& opt,
                                   device::ResidentRef weights) const {
  if (device_) return device_->conv2d(cfg, mode, args, {weights, {}, {}});
  return systolic::conv2d(cfg, mode, args, opt);
}

systolic::Counters Backend::conv2d_f32(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                       const systolic::ConvF32Args& args, const systolic::ExecOptions& opt,
                                       device::ResidentRef weights) const {
  if (device_) return device_->conv2d_f32(cfg, mode, args, {weights, {}, {}});
  return systolic::conv2d_f32(cfg, mode, args, opt);
}

systolic::Counters Backend::matmul(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                   const systolic::MatmulArgs& args, const systolic::ExecOptions& opt,
                                   device::ResidentRef weights) const {
  if (device_) return device_->matmul(cfg, mode, args, {weights, {}, {}});
  return systolic::matmul(cfg, mode, args, opt);
}

systolic::Counters Backend::matmul_f32(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                       const systolic::MatmulF32Args& args, const systolic::ExecOptions& opt,
                                       device::ResidentRef weights) const {
  if (device_) return device_->matmul_f32(cfg, mode, args, {weights, {}, {}});
  return systolic::matmul_f32(cfg, mode, args, opt);
}

systolic::Counters Backend::resadd(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                   const systolic::ResaddArgs& args, const systolic::ExecOptions& opt) const {
  if (device_) return device_->resadd(cfg, mode, args);
  return systolic::resadd(cfg, mode, args, opt);
}

void Backend::quantize(const systolic::QuantizeArgs& args, const systolic::ExecOptions& opt) const {
  if (device_)
    device_->quantize(args);
  else
    systolic::quantize(args, opt);
}

}  // namespace rcnn::ep
