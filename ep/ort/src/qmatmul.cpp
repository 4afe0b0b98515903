// rcnn.systolic QMatMul: int8 A [..., K] x B [K, N] (+ int32 bias [N]) -> int8 [..., N] (ep/ort/README.md).
#include "custom_op.h"
#include "kernel_util.h"
#include "matmul_geometry.h"
#include "systolic/matmul.h"
#include "systolic/numerics.h"

namespace rcnn::ort {
namespace {

class QMatMulKernel final : public Kernel {
 public:
  explicit QMatMulKernel(const KernelInit& init) : Kernel(init), relu_(flag(init.attrs, "relu")) {
    const float a_scale = positive_scale(init.attrs, "a_scale");
    const float b_scale = positive_scale(init.attrs, "b_scale");
    const float y_scale = positive_scale(init.attrs, "y_scale");
    multiplier_ = finite_derived(systolic::make_multiplier(a_scale, b_scale, y_scale), "(a_scale * b_scale) / y_scale");
  }

  void compute(const KernelIo& io) const override {
    const InputTensor a = required_input(io, 0, "A");
    const InputTensor b = required_input(io, 1, "B");
    const std::optional<InputTensor> bias = io.input(2);
    const MatmulCall call = plan_matmul(a.dims, b.dims, bias ? &bias->dims : nullptr);
    void* y = io.output(0, call.output_dims);
    if (call.empty) return;
    systolic::MatmulArgs args;
    args.I = call.I;
    args.J = call.J;
    args.K = call.K;
    args.A = static_cast<const int8_t*>(a.data);
    args.B = static_cast<const int8_t*>(b.data);
    if (bias) {
      args.bias_kind = systolic::BiasKind::PerColumn;
      args.bias = static_cast<const int32_t*>(bias->data);
    }
    args.multiplier = multiplier_;
    args.relu = relu_;
    args.C = static_cast<int8_t*>(y);
    record(systolic::matmul(config(), mode(), args, exec()));
  }

 private:
  bool relu_;
  float multiplier_ = 1.0f;
};

std::unique_ptr<Kernel> create(const KernelInit& init) { return std::make_unique<QMatMulKernel>(init); }

}  // namespace

const OpDef& qmatmul_op() {
  static const OpDef def{OpKind::QMatMul,
                         {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8, ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8,
                          ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32},
                         2,
                         ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8,
                         create};
  return def;
}

}  // namespace rcnn::ort
