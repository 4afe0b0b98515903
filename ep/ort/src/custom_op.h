// An rcnn.systolic op as ORT sees it: an OrtCustomOp whose callbacks dispatch to a kernel class.
//
// Each op is described by an OpDef (name, input/output element types, a kernel factory). CustomOp fills every
// OrtCustomOp callback (version = ORT_API_VERSION 21), using CreateKernelV2 and KernelComputeV2 so that every error
// comes back to ORT as an OrtStatus. Kernels read their attributes once at creation and keep them immutable; Compute
// may run concurrently on several threads (ORT's inter-op pool, several sessions), so kernels keep no mutable state
// of their own and share only the Registration's thread-safe counters and pool.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ort_glue.h"
#include "registration.h"
#include "systolic/config.h"

namespace rcnn::ort {

// Everything a kernel is created from.
struct KernelInit {
  Registration& reg;
  OpKind kind;
  systolic::ElemType elem;
  const AttributeReader& attrs;
  std::string where;  // "rcnn.systolic QConv 'node name'"
};

// Base of the kernels: what a kernel needs from its registration, fixed at creation.
class Kernel {
 public:
  explicit Kernel(const KernelInit& init);
  virtual ~Kernel() = default;
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  virtual void compute(const KernelIo& io) const = 0;

  const OrtApi& api() const noexcept { return reg_.api(); }
  // "rcnn.systolic QConv 'node name'": prefixes every error message of this kernel.
  const std::string& where() const noexcept { return where_; }

 protected:
  // The registered config, or the fallback of the op's element type (Settings::config_for).
  const systolic::AcceleratorConfig& config() const noexcept { return reg_.settings().config_for(elem_); }
  systolic::Mode mode() const noexcept { return reg_.settings().mode; }
  systolic::ExecOptions exec() const noexcept;
  void record(const systolic::Counters& c) const { reg_.record(kind_, c); }

 private:
  Registration& reg_;
  OpKind kind_;
  systolic::ElemType elem_;
  std::string where_;
  std::shared_ptr<systolic::ThreadPool> pool_;
};

// Element types of the op signatures, short so that each OpDef reads as one line.
inline constexpr ONNXTensorElementDataType kI8 = ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8;
inline constexpr ONNXTensorElementDataType kI32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
inline constexpr ONNXTensorElementDataType kF32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;

struct OpDef {
  OpKind kind;
  std::vector<ONNXTensorElementDataType> inputs;
  size_t required_inputs;  // the rest are optional
  ONNXTensorElementDataType output;
  std::unique_ptr<Kernel> (*create)(const KernelInit& init);
};

class CustomOp : public OrtCustomOp {
 public:
  CustomOp(const OpDef& def, Registration& reg);
  const OpDef& def() const noexcept { return def_; }
  Registration& registration() const noexcept { return reg_; }
  const std::string& where() const noexcept { return where_; }  // "rcnn.systolic QConv"

 private:
  const OpDef& def_;
  Registration& reg_;
  std::string where_;
};

// The op table (one definition per op, in qconv.cpp, qmatmul.cpp, qadd.cpp, fp32_ops.cpp).
const OpDef& qconv_op();
const OpDef& qmatmul_op();
const OpDef& qadd_op();
const OpDef& conv_f32_op();
const OpDef& matmul_f32_op();

}  // namespace rcnn::ort
