// rcnn.systolic QAdd: Gemmini's residual add of two int8 tensors of the same shape (ep/ort/README.md): each input
// is scaled by its ratio to c_scale, rounded and saturated on its own, then the two are summed and clamped.
#include "custom_op.h"
#include "kernel_util.h"
#include "systolic/numerics.h"
#include "systolic/resadd.h"

namespace rcnn::ort {
namespace {

class QAddKernel final : public Kernel {
 public:
  explicit QAddKernel(const KernelInit& init) : Kernel(init), relu_(flag(init.attrs, "relu")) {
    const float a_scale = positive_scale(init.attrs, "a_scale");
    const float b_scale = positive_scale(init.attrs, "b_scale");
    const float c_scale = positive_scale(init.attrs, "c_scale");
    a_ratio_ = finite_derived(systolic::make_ratio(a_scale, c_scale), "a_scale / c_scale");
    b_ratio_ = finite_derived(systolic::make_ratio(b_scale, c_scale), "b_scale / c_scale");
  }

  void compute(const KernelIo& io) const override {
    const InputTensor a = required_input(io, 0, "A");
    const InputTensor b = required_input(io, 1, "B");
    if (a.dims != b.dims) {
      throw std::invalid_argument("A " + format_dims(a.dims) + " and B " + format_dims(b.dims) +
                                  " differ in shape (QAdd does not broadcast)");
    }
    const int64_t n = element_count(a.dims, "A");
    void* c = io.output(0, a.dims);
    if (n == 0) return;
    systolic::ResaddArgs args;
    args.n = n;
    args.A = static_cast<const int8_t*>(a.data);
    args.a_ratio = a_ratio_;
    args.B = static_cast<const int8_t*>(b.data);
    args.b_ratio = b_ratio_;
    args.relu = relu_;
    args.C = static_cast<int8_t*>(c);
    record(systolic::resadd(config(), mode(), args, exec()));
  }

 private:
  bool relu_;
  float a_ratio_ = 1.0f;
  float b_ratio_ = 1.0f;
};

std::unique_ptr<Kernel> create(const KernelInit& init) { return std::make_unique<QAddKernel>(init); }

}  // namespace

const OpDef& qadd_op() {
  static const OpDef def{OpKind::QAdd, {kI8, kI8}, 2, kI8, create};
  return def;
}

}  // namespace rcnn::ort
