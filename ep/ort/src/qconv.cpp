// rcnn.systolic QConv: int8 NHWC convolution with fused bias, scaling, ReLU and max-pool (ep/ort/README.md).
#include "custom_op.h"
#include "kernel_util.h"
#include "op_args.h"

namespace rcnn::ort {
namespace {

class QConvKernel final : public Kernel {
 public:
  explicit QConvKernel(const KernelInit& init) : Kernel(init), geometry_(read_conv_attributes(init.attrs)),
        multiplier_(scale_multiplier(init.attrs, "x_scale", "w_scale", "y_scale")) {}

  void compute(const KernelIo& io) const override {
    const InputTensor x = required_input(io, 0, "X");
    const InputTensor w = required_input(io, 1, "W");
    const std::optional<InputTensor> b = io.input(2);
    const ConvCall call = plan_conv(geometry_, x.dims, w.dims, b ? &b->dims : nullptr);
    void* y = io.output(0, call.output_dims);
    if (call.empty) return;
    const void* bias = b ? b->data : nullptr;
    auto args = conv_args<systolic::ConvArgs, int8_t, int32_t>(call, x.data, w.data, bias, geometry_.relu, y);
    args.multiplier = multiplier_;
    record(systolic::conv2d(config(), mode(), args, exec()));
  }

 private:
  ConvAttributes geometry_;
  float multiplier_;
};

std::unique_ptr<Kernel> create(const KernelInit& init) { return std::make_unique<QConvKernel>(init); }

}  // namespace

const OpDef& qconv_op() {
  static const OpDef def{OpKind::QConv, {kI8, kI8, kI32}, 2, kI8, create};
  return def;
}

}  // namespace rcnn::ort
