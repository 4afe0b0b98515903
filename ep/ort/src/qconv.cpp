// rcnn.systolic QConv: int8 NHWC convolution with fused bias, scaling, ReLU and max-pool (ep/ort/README.md).
#include "conv_geometry.h"
#include "custom_op.h"
#include "kernel_util.h"
#include "systolic/numerics.h"

namespace rcnn::ort {
namespace {

class QConvKernel final : public Kernel {
 public:
  explicit QConvKernel(const KernelInit& init) : Kernel(init), geometry_(read_conv_attributes(init.attrs)) {
    const float x_scale = positive_scale(init.attrs, "x_scale");
    const float w_scale = positive_scale(init.attrs, "w_scale");
    const float y_scale = positive_scale(init.attrs, "y_scale");
    multiplier_ = finite_derived(systolic::make_multiplier(x_scale, w_scale, y_scale), "(x_scale * w_scale) / y_scale");
  }

  void compute(const KernelIo& io) const override {
    const InputTensor x = required_input(io, 0, "X");
    const InputTensor w = required_input(io, 1, "W");
    const std::optional<InputTensor> b = io.input(2);
    const ConvCall call = plan_conv(geometry_, x.dims, w.dims, b ? &b->dims : nullptr);
    void* y = io.output(0, call.output_dims);
    if (call.empty) return;
    systolic::ConvArgs args;
    args.shape = call.shape;
    args.input = static_cast<const int8_t*>(x.data);
    args.weights = static_cast<const int8_t*>(w.data);
    args.bias = b ? static_cast<const int32_t*>(b->data) : nullptr;
    args.multiplier = multiplier_;
    args.relu = geometry_.relu;
    args.output = static_cast<int8_t*>(y);
    record(systolic::conv2d(config(), mode(), args, exec()));
  }

 private:
  ConvAttributes geometry_;
  float multiplier_ = 1.0f;
};

std::unique_ptr<Kernel> create(const KernelInit& init) { return std::make_unique<QConvKernel>(init); }

}  // namespace

const OpDef& qconv_op() {
  static const OpDef def{OpKind::QConv,
                         {ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8, ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8,
                          ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32},
                         2,
                         ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8,
                         create};
  return def;
}

}  // namespace rcnn::ort
