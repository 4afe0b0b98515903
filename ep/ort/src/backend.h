// Where a compiled chain's accelerator ops run: in this process (under qemu that is emulated RISC-V code, the
// reference's setting) or in the native device process beside it (ep/device, `device=host`). Both call the same
// rcnn::systolic functions, so outputs and counters are identical; only where the arithmetic happens differs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "device/client.h"
#include "systolic/config.h"
#include "systolic/conv.h"
#include "systolic/counters.h"
#include "systolic/matmul.h"
#include "systolic/quantize.h"
#include "systolic/resadd.h"
#include "systolic/types.h"

namespace rcnn::ep {

class Backend {
 public:
  // `device` null: every op runs here.
  explicit Backend(std::shared_ptr<device::Client> device) : device_(std::move(device)) {}

  bool on_device() const noexcept { return device_ != nullptr; }
  // For the run summary: "in-process" or "device process <pid>".
  std::string where() const;

  // A constant operand (packed weights) kept for the chain's lifetime: resident in the device, so it is not copied
  // per call; a no-op ({}) in-process. release() gives it back (never throws: a dead device keeps nothing).
  device::ResidentRef keep(const void* data, uint64_t bytes) const;
  void release(device::ResidentRef ref) const noexcept;

  systolic::Counters conv2d(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                            const systolic::ConvArgs& args, const systolic::ExecOptions& opt,
                            device::ResidentRef weights) const;
  systolic::Counters conv2d_f32(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                const systolic::ConvF32Args& args, const systolic::ExecOptions& opt,
                                device::ResidentRef weights) const;
  systolic::Counters matmul(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                            const systolic::MatmulArgs& args, const systolic::ExecOptions& opt,
                            device::ResidentRef weights) const;
  systolic::Counters matmul_f32(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                const systolic::MatmulF32Args& args, const systolic::ExecOptions& opt,
                                device::ResidentRef weights) const;
  systolic::Counters resadd(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                            const systolic::ResaddArgs& args, const systolic::ExecOptions& opt) const;
  // Float input -> int8 (an absorbed QuantizeLinear): on the device too, so the guest never loops over the floats.
  void quantize(const systolic::QuantizeArgs& args, const systolic::ExecOptions& opt) const;

 private:
  std::shared_ptr<device::Client> device_;
};

}  // namespace rcnn::ep
