#include "custom_op.h"

#include <climits>
#include <stdexcept>

namespace rcnn::ort {

// ---------------------------------------------------------------------------------------------- Kernel

Kernel::Kernel(const KernelInit& init)
    : reg_(init.reg), kind_(init.kind), elem_(init.elem), where_(init.where), pool_(init.reg.acquire_pool()) {}

systolic::ExecOptions Kernel::exec() const noexcept {
  systolic::ExecOptions options;
  options.pool = pool_.get();
  return options;
}

// ---------------------------------------------------------------------------------------------- callbacks
// ORT calls these through the OrtCustomOp function pointers. None of them lets an exception escape.
namespace {

const CustomOp& self(const OrtCustomOp* op) noexcept { return *static_cast<const CustomOp*>(op); }

const char* ORT_API_CALL get_name(const OrtCustomOp* op) noexcept { return op_kind_name(self(op).def().kind); }

const char* ORT_API_CALL get_execution_provider_type(const OrtCustomOp*) noexcept { return nullptr; }  // CPU EP

ONNXTensorElementDataType ORT_API_CALL get_input_type(const OrtCustomOp* op, size_t index) noexcept {
  const auto& inputs = self(op).def().inputs;
  return index < inputs.size() ? inputs[index] : ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
}

size_t ORT_API_CALL get_input_type_count(const OrtCustomOp* op) noexcept { return self(op).def().inputs.size(); }

ONNXTensorElementDataType ORT_API_CALL get_output_type(const OrtCustomOp* op, size_t) noexcept {
  return self(op).def().output;
}

size_t ORT_API_CALL get_output_type_count(const OrtCustomOp*) noexcept { return 1; }

OrtCustomOpInputOutputCharacteristic ORT_API_CALL get_input_characteristic(const OrtCustomOp* op,
                                                                          size_t index) noexcept {
  return index < self(op).def().required_inputs ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL;
}

OrtCustomOpInputOutputCharacteristic ORT_API_CALL get_output_characteristic(const OrtCustomOp*, size_t) noexcept {
  return INPUT_OUTPUT_REQUIRED;
}

OrtMemType ORT_API_CALL get_input_memory_type(const OrtCustomOp*, size_t) noexcept { return OrtMemTypeDefault; }

int ORT_API_CALL variadic_min_arity(const OrtCustomOp*) noexcept { return 1; }  // no variadic inputs/outputs
int ORT_API_CALL variadic_homogeneity(const OrtCustomOp*) noexcept { return 1; }

OrtStatusPtr ORT_API_CALL create_kernel_v2(const OrtCustomOp* op, const OrtApi* api, const OrtKernelInfo* info,
                                           void** kernel) noexcept {
  *kernel = nullptr;
  const CustomOp& custom = self(op);
  const AttributeReader attrs(*api, info);
  std::string where;
  const auto name_node = [&] { where = custom.where() + " '" + attrs.node_name() + "'"; };
  if (OrtStatus* status = guarded(*api, custom.where(), name_node)) return status;
  return guarded(*api, where, [&] {
    *kernel = custom.def().create(
        KernelInit{custom.registration(), custom.def().kind, op_kind_elem(custom.def().kind), attrs, where}).release();
  });
}

OrtStatusPtr ORT_API_CALL kernel_compute_v2(void* op_kernel, OrtKernelContext* context) noexcept {
  const Kernel& kernel = *static_cast<const Kernel*>(op_kernel);
  return guarded(kernel.api(), kernel.where(), [&] { kernel.compute(KernelIo(kernel.api(), context)); });
}

void ORT_API_CALL kernel_destroy(void* op_kernel) noexcept { delete static_cast<Kernel*>(op_kernel); }

int ORT_API_CALL start_version(const OrtCustomOp*) noexcept { return 1; }
int ORT_API_CALL end_version(const OrtCustomOp*) noexcept { return INT_MAX; }

// No output may reuse or alias an input buffer.
size_t ORT_API_CALL no_index_map(int** input_index, int** output_index) noexcept {
  *input_index = nullptr;
  *output_index = nullptr;
  return 0;
}
void ORT_API_CALL release_index_map(int*, int*) noexcept {}

}  // namespace

CustomOp::CustomOp(const OpDef& def, Registration& reg)
    : OrtCustomOp{}, def_(def), reg_(reg), where_(std::string("rcnn.systolic ") + op_kind_name(def.kind)) {
  version = ORT_API_VERSION;
  CreateKernel = nullptr;   // ORT >= 1.16 prefers CreateKernelV2 / KernelComputeV2 when set (version >= 16)
  KernelCompute = nullptr;
  GetName = get_name;
  GetExecutionProviderType = get_execution_provider_type;
  GetInputType = get_input_type;
  GetInputTypeCount = get_input_type_count;
  GetOutputType = get_output_type;
  GetOutputTypeCount = get_output_type_count;
  KernelDestroy = kernel_destroy;
  GetInputCharacteristic = get_input_characteristic;
  GetOutputCharacteristic = get_output_characteristic;
  GetInputMemoryType = get_input_memory_type;
  GetVariadicInputMinArity = variadic_min_arity;
  GetVariadicInputHomogeneity = variadic_homogeneity;
  GetVariadicOutputMinArity = variadic_min_arity;
  GetVariadicOutputHomogeneity = variadic_homogeneity;
  CreateKernelV2 = create_kernel_v2;
  KernelComputeV2 = kernel_compute_v2;
  InferOutputShapeFn = nullptr;  // output shapes come from the model's value_info / the kernels at run time
  GetStartVersion = start_version;
  GetEndVersion = end_version;
  GetMayInplace = no_index_map;
  ReleaseMayInplace = release_index_map;
  GetAliasMap = no_index_map;
  ReleaseAliasMap = release_index_map;
}

}  // namespace rcnn::ort
