// rcnn.systolic QMatMul: int8 A [..., K] x B [K, N] (+ int32 bias [N]) -> int8 [..., N] (ep/ort/README.md).
#include "custom_op.h"
#include "kernel_util.h"
#include "op_args.h"

namespace rcnn::ort {
namespace {

class QMatMulKernel final : public Kernel {
 public:
  explicit QMatMulKernel(const KernelInit& init) : Kernel(init), relu_(flag(init.attrs, "relu")),
        multiplier_(scale_multiplier(init.attrs, "a_scale", "b_scale", "y_scale")) {}

  void compute(const KernelIo& io) const override {
    const InputTensor a = required_input(io, 0, "A");
    const InputTensor b = required_input(io, 1, "B");
    const std::optional<InputTensor> bias = io.input(2);
    const MatmulCall call = plan_matmul(a.dims, b.dims, bias ? &bias->dims : nullptr);
    void* y = io.output(0, call.output_dims);
    if (call.empty) return;
    const void* c = bias ? bias->data : nullptr;
    auto args = matmul_args<systolic::MatmulArgs, int8_t, int32_t>(call, a.data, b.data, c, relu_, y);
    args.multiplier = multiplier_;
    record(systolic::matmul(config(), mode(), args, exec()));
  }

 private:
  bool relu_;
  float multiplier_;
};

std::unique_ptr<Kernel> create(const KernelInit& init) { return std::make_unique<QMatMulKernel>(init); }

}  // namespace

const OpDef& qmatmul_op() {
  static const OpDef def{OpKind::QMatMul, {kI8, kI8, kI32}, 2, kI8, create};
  return def;
}

}  // namespace rcnn::ort
