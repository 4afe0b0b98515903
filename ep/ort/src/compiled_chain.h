// The kernel of one compiled (fused) node: a chain of node units run on the accelerator model.
//
// Built once in Compile: conv weights OIHW -> HWIO, matmul weights [K, N], per-channel multipliers
// make_multiplier(x_scale, w_scale[c], y_scale), resadd ratios. Per run: each fused-node input enters the chain
// in the int8 domain (uint8 bytes shifted by -128) — a float input of an absorbed QuantizeLinear is quantized on the
// way in by the backend (systolic::quantize, on the device in device mode), straight to NHWC for a conv —, 4-D activations are transposed NCHW -> NHWC when a conv first
// needs them, the units run in order on systolic::conv2d / matmul / resadd, and each fused-node output leaves in
// NCHW with its own element type (uint8: +128). Float units (fp32 config) run the same way on float32 tensors
// through conv2d_f32 / matmul_f32; convs and matmuls of both kinds are planned and their arguments filled by one
// piece of plumbing (plan_conv, plan_matmul, op_args.h). ORT-independent: ep.cpp adapts the kernel context.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "accelerator_settings.h"
#include "backend.h"
#include "node_units.h"
#include "report.h"
#include "systolic/thread_pool.h"

namespace rcnn::ep {

struct ChainInput {
  const void* data = nullptr;
  std::vector<int64_t> dims;
  int32_t elem = kUndefined;
};

class CompiledChain {
 public:
  // `inputs` / `outputs`: the fused node's value names by index (inputs that are constant initializers, or not
  // read by any unit, are ignored). Throws std::invalid_argument when an output is not produced by the chain.
  // `backend` null: the ops run in this process; a device backend gets the packed weights once, here.
  CompiledChain(std::string name, std::vector<Unit> units, std::vector<std::string> inputs,
                std::vector<std::string> outputs, const ort::Settings& settings,
                std::shared_ptr<systolic::ThreadPool> pool, std::shared_ptr<Report> report,
                std::shared_ptr<const Backend> backend = nullptr);
  ~CompiledChain();
  CompiledChain(const CompiledChain&) = delete;
  CompiledChain& operator=(const CompiledChain&) = delete;

  const std::string& name() const noexcept { return name_; }
  size_t num_outputs() const noexcept { return outputs_.size(); }
  int32_t output_elem(size_t i) const { return output_elems_.at(i); }
  // Returns a buffer for output i with these dims (element type output_elem(i)).
  using Allocate = std::function<void*(size_t index, const std::vector<int64_t>& dims)>;
  // Throws std::exception subclasses on bad inputs (shape mismatch etc.) and the accelerator model's errors.
  void run(const std::vector<ChainInput>& inputs, const Allocate& allocate) const;

 private:
  struct Prepared {
    Unit unit;
    std::vector<int8_t> w_packed;     // HWIO (conv) or [K, N] (matmul)
    std::vector<float> wf_packed;     // the same for float units
    device::ResidentRef w_resident;   // the packed weights kept in the device (then the vectors above are empty)
    std::vector<float> multipliers;   // per channel, or one value
    std::vector<int> input_slots;     // fused-node input index per unit input, -1 when produced in the chain
  };
  std::string name_;
  std::vector<Prepared> units_;
  std::vector<std::string> inputs_, outputs_;
  std::vector<int32_t> output_elems_;
  systolic::AcceleratorConfig config_;
  systolic::Mode mode_;
  std::shared_ptr<systolic::ThreadPool> pool_;
  std::shared_ptr<Report> report_;
  std::shared_ptr<const Backend> backend_;
};

}  // namespace rcnn::ep
