// rcnn.systolic Conv and MatMul on float32 (the fp32 accelerator config, ep/systolic/accelerator_fp32.toml):
// the same geometry as QConv / QMatMul without scales.
#include "custom_op.h"
#include "kernel_util.h"
#include "op_args.h"

namespace rcnn::ort {
namespace {

class ConvF32Kernel final : public Kernel {
 public:
  explicit ConvF32Kernel(const KernelInit& init) : Kernel(init), geometry_(read_conv_attributes(init.attrs)) {}

  void compute(const KernelIo& io) const override {
    const InputTensor x = required_input(io, 0, "X");
    const InputTensor w = required_input(io, 1, "W");
    const std::optional<InputTensor> b = io.input(2);
    const ConvCall call = plan_conv(geometry_, x.dims, w.dims, b ? &b->dims : nullptr);
    void* y = io.output(0, call.output_dims);
    if (call.empty) return;
    const void* bias = b ? b->data : nullptr;
    const auto args = conv_args<systolic::ConvF32Args, float, float>(call, x.data, w.data, bias, geometry_.relu, y);
    record(systolic::conv2d_f32(config(), mode(), args, exec()));
  }

 private:
  ConvAttributes geometry_;
};

class MatMulF32Kernel final : public Kernel {
 public:
  explicit MatMulF32Kernel(const KernelInit& init) : Kernel(init), relu_(flag(init.attrs, "relu")) {}

  void compute(const KernelIo& io) const override {
    const InputTensor a = required_input(io, 0, "A");
    const InputTensor b = required_input(io, 1, "B");
    const std::optional<InputTensor> bias = io.input(2);
    const MatmulCall call = plan_matmul(a.dims, b.dims, bias ? &bias->dims : nullptr);
    void* y = io.output(0, call.output_dims);
    if (call.empty) return;
    const void* c = bias ? bias->data : nullptr;
    const auto args = matmul_args<systolic::MatmulF32Args, float, float>(call, a.data, b.data, c, relu_, y);
    record(systolic::matmul_f32(config(), mode(), args, exec()));
  }

 private:
  bool relu_;
};

std::unique_ptr<Kernel> create_conv(const KernelInit& init) { return std::make_unique<ConvF32Kernel>(init); }
std::unique_ptr<Kernel> create_matmul(const KernelInit& init) { return std::make_unique<MatMulF32Kernel>(init); }

}  // namespace

const OpDef& conv_f32_op() {
  static const OpDef def{OpKind::Conv, {kF32, kF32, kF32}, 2, kF32, create_conv};
  return def;
}

const OpDef& matmul_f32_op() {
  static const OpDef def{OpKind::MatMul, {kF32, kF32, kF32}, 2, kF32, create_matmul};
  return def;
}

}  // namespace rcnn::ort
