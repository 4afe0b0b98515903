// Node units: the groups of ONNX nodes that become one accelerator operation, recognized in QOperator form
// (QLinearConv, QLinearMatMul, com.microsoft QLinearAdd, followed by int8 Relu / MaxPool) and in QDQ form
// (DequantizeLinear inputs -> Conv | MatMul | Gemm | Add [-> Relu | Clip] -> QuantizeLinear, then
// DequantizeLinear -> MaxPool -> QuantizeLinear with unchanged scale and zero point fused into a conv).
//
// A unit is expressed in the accelerator's int8 domain: uint8 tensors are shifted by -128 (x_i8 = x_u8 - 128,
// zp_i8 = zp_u8 - 128), which leaves x - zp unchanged, so the integer results are exactly those of uint8. Weights
// with a zero point (uint8 weights, or int8 ones with zp != 0) become w - w_zp when every such value fits int8:
// the accumulator then sums exactly the integers QLinearConv / QLinearMatMul sum.
//
// With an fp32 accelerator config (elem = "fp32") the units are float instead: Conv [-> Relu] [-> MaxPool],
// MatMul [-> Relu] and Gemm [-> Relu] with constant float weights, run by the model's conv2d_f32 / matmul_f32.
// A session's config has one element type, so it takes either the quantized units or the float ones.
// recognize() returns the unit or the reason (one line, for the placement report) the node is declined.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "graph_model.h"
#include "systolic/config.h"
#include "systolic/conv.h"

namespace rcnn::ep {

// Quantization of one activation tensor: per-tensor scale and zero point, in the int8 domain (zp already shifted
// for uint8), plus the tensor's original element type (kInt8 or kUint8).
struct QTensor {
  std::string name;
  float scale = 1.0f;
  int32_t zero_point = 0;  // int8 domain
  int32_t elem = kInt8;
  // Set when the unit absorbed the QuantizeLinear that makes this tensor: the float tensor it reads. The chain
  // then takes that float tensor and quantizes it on the way in (systolic::quantize, ONNX Runtime's numerics).
  std::string float_source;
  bool operator==(const QTensor& o) const noexcept {
    return scale == o.scale && zero_point == o.zero_point && elem == o.elem;
  }
};

// DequantizeLinear -> [Relu] [MaxPool] (or hard-swish) -> QuantizeLinear after a unit, with another scale or zero
// point: ONNX Runtime computes it in float, a function of each int8 value alone, so the accelerator's output goes
// through a 256-entry table built with the same float operations (exact). `from` is the unit's own quantization.
struct Requant {
  bool enabled = false;
  bool hard_swish = false;  // the tail's float ops include a hard-swish (HardSigmoid -> Mul)
  QTensor from;
  std::array<int8_t, 256> table{};  // int8 domain in (index v + 128) and out
};

struct Unit {
  enum Kind { QConv, QMatMul, QAdd, Conv, MatMul };  // Conv / MatMul: float32 (fp32 config)
  static constexpr size_t kKinds = 5;
  Kind kind = QConv;
  std::string form;             // "qoperator" | "qdq" | "float"
  int primary = -1;             // the Conv/MatMul/Gemm/Add (or QLinear*) node
  std::vector<int> nodes;       // every node the unit absorbs (primary included)
  std::vector<QTensor> inputs;  // activations: conv/matmul [x], add [a, b]
  QTensor output;               // the quantized tensor the unit produces
  // QConv: weights OIHW int8 [oc, ic/g, kh, kw]; QMatMul: B as [K, N] (a Gemm's transB resolved).
  std::vector<int64_t> w_dims;
  std::vector<int8_t> weights;  // w - w_zp (exact: checked to fit int8)
  int32_t w_elem = kInt8;       // the weights' own element type (kUint8: shifted by their zero point)
  std::vector<float> w_scales;  // 1 value (per tensor) or one per output channel / column
  std::vector<int32_t> bias;    // empty or one per output channel / column
  // Float units: weights in the same layouts as `weights`, bias one per output channel / column (or empty).
  std::vector<float> weights_f32;
  std::vector<float> bias_f32;
  // Conv geometry
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t group = 1;
  bool relu = false;
  systolic::PoolParams pool;    // fused MaxPool (PoolPadding::Ignore: ONNX semantics)
  Requant requant;              // output -> DQ -> [Relu] [MaxPool] -> Q fused; `output` is then the Q's tensor
  int64_t macs = -1;            // of the primary node, -1 when the shapes are unknown
  std::string describe() const; // e.g. "QConv (qdq, per-channel, uint8, relu, pool)", "Conv (float, relu)"
  bool is_float() const noexcept { return kind == Conv || kind == MatMul; }
  // The quantization the accelerator op itself produces (before a fused requantization).
  const QTensor& op_output() const noexcept { return requant.enabled ? requant.from : output; }
};

const char* unit_kind_name(Unit::Kind k) noexcept;

struct Rules {
  // The config the session runs on: its elem picks quantized (int8) or float (fp32) units, its features
  // (per_channel_scale, zero_points) which quantization forms the int8 units may use.
  systolic::AcceleratorConfig config;
  bool adds_on_cpu = false;  // the "adds = cpu" option: residual adds declined, with that reason
};

// Nodes that can start a unit: QLinearConv, QLinearMatMul, QLinearAdd (com.microsoft), Conv, MatMul, Gemm, Add.
bool is_unit_candidate(const NodeInfo& node);
// MACs of a Conv / QLinearConv / MatMul / QLinearMatMul / Gemm node from its shapes, -1 when unknown or not one.
int64_t node_macs(const GraphModel& g, int node);

std::variant<Unit, std::string> recognize(const GraphModel& g, int node, const Rules& rules);

// The QuantizeLinear producing quantized input `i` of unit `u`, when the unit can take it over: per tensor, float
// input, the same scale / zero point / type as the unit reads, and its output read by the unit alone (not a graph
// output). Returns its node index or -1. The caller checks it is in no other unit, then absorb_input_quantize().
int input_quantize(const GraphModel& g, const Unit& u, size_t i);
void absorb_input_quantize(const GraphModel& g, Unit& u, size_t i, int q_node);

}  // namespace rcnn::ep
