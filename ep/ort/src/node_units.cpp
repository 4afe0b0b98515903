#include "node_units.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <sstream>

#include "systolic/numerics.h"
#include "systolic/quantize.h"

namespace rcnn::ep {

const char* elem_type_name(int32_t elem) noexcept {
  switch (elem) {
    case kFloat: return "float";
    case kUint8: return "uint8";
    case kInt8: return "int8";
    case kInt32: return "int32";
    case 10: return "float16";
    case 7: return "int64";
    case 16: return "bfloat16";
    case 4: return "uint16";
    case 5: return "int16";
    default: return "other";
  }
}

void GraphModel::link() {
  for (auto& [name, t] : tensors) {
    t.producer = -1;
    t.consumers.clear();
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const std::string& in : nodes[i].inputs)
      if (!in.empty()) tensors[in].consumers.push_back(static_cast<int>(i));
    for (const std::string& out : nodes[i].outputs)
      if (!out.empty()) tensors[out].producer = static_cast<int>(i);
  }
}

std::vector<int> GraphModel::topological_order() const {
  const size_t n = nodes.size();
  std::vector<int> pending(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (const std::string& in : nodes[i].inputs) {
      const int p = producer(in);
      if (p >= 0 && static_cast<size_t>(p) != i) ++pending[i];
    }
  std::deque<int> ready;
  for (size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push_back(static_cast<int>(i));
  std::vector<int> order;
  std::vector<bool> done(n, false);
  while (!ready.empty()) {
    const int i = ready.front();
    ready.pop_front();
    order.push_back(i);
    done[static_cast<size_t>(i)] = true;
    for (const std::string& out : nodes[static_cast<size_t>(i)].outputs) {
      const TensorInfo* t = tensor(out);
      if (t == nullptr) continue;
      for (int c : t->consumers)
        if (c != i && --pending[static_cast<size_t>(c)] == 0) ready.push_back(c);
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (!done[i]) order.push_back(static_cast<int>(i));
  return order;
}

const char* unit_kind_name(Unit::Kind k) noexcept {
  switch (k) {
    case Unit::QConv: return "QConv";
    case Unit::QMatMul: return "QMatMul";
    case Unit::QAdd: return "QAdd";
    case Unit::Conv: return "Conv";
    case Unit::MatMul: return "MatMul";
  }
  return "?";
}

std::string Unit::describe() const {
  std::string s = std::string(unit_kind_name(kind)) + " (" + form;
  if (w_scales.size() > 1) s += ", per-channel";
  bool u8 = output.elem == kUint8;
  for (const QTensor& q : inputs) u8 = u8 || q.elem == kUint8;
  if (u8) s += ", uint8";
  for (const QTensor& q : inputs)
    if (!q.float_source.empty()) {
      s += ", quantizes its float input";
      break;
    }
  if (w_elem == kUint8) s += ", uint8 weights";
  if (relu) s += ", relu";
  if (pool.enabled) s += ", maxpool";
  if (requant.enabled) s += requant.hard_swish ? ", hard-swish, requantized" : ", requantized";
  return s + ")";
}

namespace {

using Reason = std::string;

bool is_op(const NodeInfo& n, const char* op, const char* domain = "") {
  return n.op == op && (n.domain == domain || (std::string(domain).empty() && n.domain == "ai.onnx"));
}

const NodeInfo* node_at(const GraphModel& g, int i) {
  return i < 0 ? nullptr : &g.nodes[static_cast<size_t>(i)];
}

// The shortest %g text that reads back as v: a ratio of 1.0000001 must not print as "1" in a reason that says
// it is too large.
std::string fmt(float v) {
  char buf[32] = {0};
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return buf;
}

// A constant scale tensor: float32, every value finite and > 0.
bool read_scales(const GraphModel& g, const std::string& name, const std::string& what, std::vector<float>& out,
                 Reason& why) {
  const TensorInfo* t = g.tensor(name);
  if (t == nullptr) { why = what + " missing"; return false; }
  if (!t->is_const) { why = what + " is not a constant"; return false; }
  if (t->elem != kFloat) { why = what + " is " + elem_type_name(t->elem) + ", not float"; return false; }
  out = t->values<float>();
  if (out.empty()) { why = what + " is empty"; return false; }
  for (float v : out)
    if (!(std::isfinite(v) && v > 0.0f)) { why = what + " " + fmt(v) + " is not positive and finite"; return false; }
  return true;
}

bool read_scale(const GraphModel& g, const std::string& name, const std::string& what, float& out, Reason& why) {
  std::vector<float> v;
  if (!read_scales(g, name, what, v, why)) return false;
  if (v.size() != 1) { why = what + " has " + std::to_string(v.size()) + " values (per-tensor only)"; return false; }
  out = v[0];
  return true;
}

// A zero point: absent = 0 of the data's type; else a constant int8/uint8 tensor. Returns the values in the
// tensor's own domain and its element type.
bool read_zero_points(const GraphModel& g, const std::string& name, int32_t data_elem, const std::string& what,
                      std::vector<int32_t>& out, int32_t& elem, Reason& why) {
  if (name.empty()) {
    out = {0};
    elem = data_elem;
    return true;
  }
  const TensorInfo* t = g.tensor(name);
  if (t == nullptr || !t->is_const) { why = "zero point of " + what + " is not a constant"; return false; }
  elem = t->elem;
  out.clear();
  if (t->elem == kInt8) {
    for (int8_t v : t->values<int8_t>()) out.push_back(v);
  } else if (t->elem == kUint8) {
    for (uint8_t v : t->values<uint8_t>()) out.push_back(v);
  } else {
    why = what + " is " + std::string(elem_type_name(t->elem)) + " (the accelerator takes int8 and uint8)";
    return false;
  }
  if (out.empty()) out = {0};
  return true;
}

// Per-tensor quantization of an activation (scale, zero point, type) in the int8 domain.
bool read_qtensor(const GraphModel& g, const std::string& tensor, const std::string& scale, const std::string& zp,
                  const std::string& what, QTensor& q, Reason& why) {
  q.name = tensor;
  const TensorInfo* t = g.tensor(tensor);
  if (t != nullptr && t->is_const) { why = what + " is a constant (the accelerator takes activations)"; return false; }
  const int32_t data_elem = t != nullptr && t->elem != kUndefined ? t->elem : kUint8;
  if (!read_scale(g, scale, what + " scale", q.scale, why)) return false;
  std::vector<int32_t> zps;
  int32_t elem = kUndefined;
  if (!read_zero_points(g, zp, data_elem, what, zps, elem, why)) return false;
  if (zps.size() != 1) { why = "zero point of " + what + " has " + std::to_string(zps.size()) + " values"; return false; }
  if (elem != kInt8 && elem != kUint8) {
    why = what + " is " + std::string(elem_type_name(elem)) + " (the accelerator takes int8 and uint8)";
    return false;
  }
  q.elem = elem;
  q.zero_point = elem == kUint8 ? zps[0] - 128 : zps[0];
  return true;
}

// Constant int8 or uint8 weights with their zero points (absent: 0; one value, or one per index of `axis`),
// stored as w - w_zp in u.weights. Exact only when every w - w_zp fits int8, the accelerator's weight type (it
// has no weight zero point): checked here, otherwise declined naming the zero point and the span.
bool read_weights(const GraphModel& g, const std::string& name, const std::string& zp, int64_t axis,
                  const std::string& what, Unit& u, Reason& why) {
  const TensorInfo* t = g.tensor(name);
  if (t == nullptr || !t->is_const) { why = what + " are not a constant"; return false; }
  if (t->elem != kInt8 && t->elem != kUint8) {
    why = what + " are " + std::string(elem_type_name(t->elem)) + ", not int8 or uint8";
    return false;
  }
  std::vector<int32_t> zps;
  int32_t zp_elem = t->elem;
  if (!read_zero_points(g, zp, t->elem, what, zps, zp_elem, why)) return false;
  if (zp_elem != t->elem) {
    why = "zero point of " + what + " is " + elem_type_name(zp_elem) + " but the data is " + elem_type_name(t->elem);
    return false;
  }
  const int64_t rank = static_cast<int64_t>(t->dims.size());
  int64_t channels = 1, inner = 1;
  if (zps.size() > 1) {
    if (axis < 0 || axis >= rank || static_cast<int64_t>(zps.size()) != t->dims[static_cast<size_t>(axis)]) {
      why = "zero point of " + what + " has " + std::to_string(zps.size()) + " values, not one per output channel";
      return false;
    }
    channels = t->dims[static_cast<size_t>(axis)];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= t->dims[static_cast<size_t>(d)];
  }
  std::vector<int32_t> raw;
  if (t->elem == kInt8) {
    for (int8_t v : t->values<int8_t>()) raw.push_back(v);
  } else {
    for (uint8_t v : t->values<uint8_t>()) raw.push_back(v);
  }
  // Span of w - zp per channel, to name the offending one.
  std::vector<int32_t> lo(static_cast<size_t>(channels), 0), hi(static_cast<size_t>(channels), 0);
  std::vector<bool> seen(static_cast<size_t>(channels), false);
  u.weights.resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const size_t c = channels == 1 ? 0 : static_cast<size_t>((static_cast<int64_t>(i) / inner) % channels);
    const int32_t v = raw[i] - zps[c];
    lo[c] = seen[c] ? std::min(lo[c], v) : v;
    hi[c] = seen[c] ? std::max(hi[c], v) : v;
    seen[c] = true;
    u.weights[i] = static_cast<int8_t>(std::clamp(v, -128, 127));
  }
  for (size_t c = 0; c < lo.size(); ++c) {
    if (lo[c] >= -128 && hi[c] <= 127) continue;
    why = std::string(elem_type_name(t->elem)) + " " + what +
          (channels > 1 ? " (channel " + std::to_string(c) + ")" : std::string()) + " with zero point " +
          std::to_string(zps[c]) + ": w - zero point spans [" + std::to_string(lo[c]) + ", " +
          std::to_string(hi[c]) + "], outside int8 (the accelerator's weights are int8 with zero point 0)";
    return false;
  }
  u.w_dims = t->dims;
  u.w_elem = t->elem;
  return true;
}

bool read_bias(const GraphModel& g, const std::string& name, int64_t n, Unit& u, Reason& why) {
  if (name.empty()) return true;
  const TensorInfo* t = g.tensor(name);
  if (t == nullptr || !t->is_const || t->elem != kInt32 || t->numel() != n) {
    why = "bias is not a constant int32 [" + std::to_string(n) + "] tensor";
    return false;
  }
  u.bias = t->values<int32_t>();
  return true;
}

// Per-channel scales: n values (or 1). All equal collapses to per tensor (identical multipliers).
bool set_weight_scales(std::vector<float> scales, int64_t n, Unit& u, Reason& why) {
  if (scales.size() != 1 && static_cast<int64_t>(scales.size()) != n) {
    why = "weight scale has " + std::to_string(scales.size()) + " values for " + std::to_string(n) + " channels";
    return false;
  }
  if (std::all_of(scales.begin(), scales.end(), [&](float s) { return s == scales[0]; })) scales.resize(1);
  u.w_scales = std::move(scales);
  return true;
}

// What the accelerator config must offer for this unit.
bool check_features(const Unit& u, const Rules& rules, Reason& why) {
  if (u.w_scales.size() > 1 && !rules.config.per_channel_scale) {
    why = "per-channel scales need the accelerator model's per-channel support (config per_channel_scale = false)";
    return false;
  }
  bool zp = u.output.zero_point != 0;
  for (const QTensor& q : u.inputs) zp = zp || q.zero_point != 0;
  if (zp && !rules.config.zero_points) {
    why = "non-zero zero points (uint8 tensors shift by 128) need the accelerator model's zero-point support "
          "(config zero_points = false)";
    return false;
  }
  return true;
}

bool resolve_pads(const NodeInfo& n, const GraphModel& g, const std::string& x, const std::vector<int64_t>& kernel,
                  const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                  std::vector<int64_t>& pads, Reason& why) {
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    pads = n.attr_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) { why = "pads of length " + std::to_string(pads.size()); return false; }
    return true;
  }
  if (auto_pad == "VALID") { pads = {0, 0, 0, 0}; return true; }
  const TensorInfo* t = g.tensor(x);
  if (t == nullptr || !t->has_shape || t->dims.size() != 4 || t->dims[2] < 0 || t->dims[3] < 0) {
    why = "auto_pad " + auto_pad + " with unknown input size";
    return false;
  }
  pads.assign(4, 0);
  for (size_t a = 0; a < 2; ++a) {
    const int64_t size = t->dims[2 + a], s = strides[a], k = kernel[a], d = dilations[a];
    const int64_t out = (size + s - 1) / s;
    const int64_t total = std::max<int64_t>((out - 1) * s + (k - 1) * d + 1 - size, 0);
    const int64_t small = total / 2;
    pads[a] = auto_pad == "SAME_UPPER" ? small : total - small;
    pads[a + 2] = total - pads[a];
  }
  return true;
}

bool conv_geometry(const GraphModel& g, const NodeInfo& n, const std::string& x, Unit& u, Reason& why) {
  if (u.w_dims.size() != 4) {
    why = "not a 2-D convolution (weights of rank " + std::to_string(u.w_dims.size()) + ")";
    return false;
  }
  const std::vector<int64_t> kernel = {u.w_dims[2], u.w_dims[3]};
  const std::vector<int64_t> ks = n.attr_ints("kernel_shape", kernel);
  if (ks != kernel) { why = "kernel_shape does not match the weights"; return false; }
  const std::vector<int64_t> strides = n.attr_ints("strides", {1, 1});
  const std::vector<int64_t> dil = n.attr_ints("dilations", {1, 1});
  if (strides.size() != 2 || dil.size() != 2) { why = "strides/dilations not 2-D"; return false; }
  std::vector<int64_t> pads;
  if (!resolve_pads(n, g, x, kernel, strides, dil, pads, why)) return false;
  u.stride_h = strides[0]; u.stride_w = strides[1];
  u.dil_h = dil[0]; u.dil_w = dil[1];
  u.pad_top = pads[0]; u.pad_left = pads[1]; u.pad_bottom = pads[2]; u.pad_right = pads[3];
  u.group = n.attr_int("group", 1);
  if (u.group < 1 || u.w_dims[0] % u.group != 0) { why = "group does not divide the output channels"; return false; }
  const TensorInfo* t = g.tensor(x);
  if (t != nullptr && t->has_shape) {
    if (t->dims.size() != 4) { why = "input rank " + std::to_string(t->dims.size()) + ", not 4"; return false; }
    if (t->dims[1] >= 0 && t->dims[1] != u.w_dims[1] * u.group) {
      why = "input channels do not match the weights";
      return false;
    }
  }
  return true;
}

// MaxPool attributes the accelerator's fused pool runs exactly (ONNX semantics: PoolPadding::Ignore).
bool pool_params(const GraphModel& g, const NodeInfo& n, systolic::PoolParams& p, Reason& why) {
  const std::vector<int64_t> k = n.attr_ints("kernel_shape", {});
  if (k.size() != 2) { why = std::to_string(k.size()) + "-D pool"; return false; }
  if (n.attr_int("ceil_mode", 0) != 0) { why = "ceil_mode=1"; return false; }
  const std::vector<int64_t> d = n.attr_ints("dilations", {1, 1});
  if (d != std::vector<int64_t>{1, 1}) { why = "dilated pool"; return false; }
  if (n.attr_int("storage_order", 0) != 0) { why = "storage_order=1"; return false; }
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) {
    const TensorInfo* idx = g.tensor(n.outputs[1]);
    if (idx != nullptr && (!idx->consumers.empty() || idx->graph_output)) { why = "its Indices output is used"; return false; }
  }
  const std::vector<int64_t> s = n.attr_ints("strides", {1, 1});
  if (s.size() != 2) { why = "strides not 2-D"; return false; }
  std::vector<int64_t> pads;
  if (!resolve_pads(n, g, n.input(0), k, s, {1, 1}, pads, why)) return false;
  for (size_t i = 0; i < 4; ++i)
    if (pads[i] >= k[i % 2]) { why = "pool padding as large as the kernel"; return false; }
  p.enabled = true;
  p.kh = k[0]; p.kw = k[1]; p.sh = s[0]; p.sw = s[1];
  p.pad_top = pads[0]; p.pad_left = pads[1]; p.pad_bottom = pads[2]; p.pad_right = pads[3];
  p.padding = systolic::PoolPadding::Ignore;
  return true;
}

// ---- QDQ helpers -------------------------------------------------------------------------------------------

// The DequantizeLinear producing input `idx` of node `n`, consumed by nothing else; null with a reason otherwise.
const NodeInfo* input_dq(const GraphModel& g, int n, size_t idx, int& dq_index, Reason& why) {
  const NodeInfo& node = g.nodes[static_cast<size_t>(n)];
  const std::string in = node.input(idx);
  dq_index = g.producer(in);
  const NodeInfo* dq = node_at(g, dq_index);
  if (dq == nullptr || !is_op(*dq, "DequantizeLinear")) {
    why = "input " + std::to_string(idx) + " does not come from a DequantizeLinear";
    return nullptr;
  }
  if (g.sole_consumer(in) != n) {
    why = "the DequantizeLinear of input " + std::to_string(idx) + " has other consumers";
    return nullptr;
  }
  return dq;
}

// Activation DQ: per-tensor, its input not a constant.
bool dq_activation(const GraphModel& g, const NodeInfo& dq, const std::string& what, QTensor& q, Reason& why) {
  const TensorInfo* t = g.tensor(dq.input(0));
  if (t != nullptr && t->is_const) { why = what + " is a constant"; return false; }
  return read_qtensor(g, dq.input(0), dq.input(1), dq.input(2), what, q, why);
}

// Weight DQ: constant int8 data, zero points 0, scales per tensor or along `axis` (normalized) with n values.
bool dq_weights(const GraphModel& g, const NodeInfo& dq, int64_t axis, Unit& u, Reason& why) {
  const TensorInfo* wt = g.tensor(dq.input(0));
  int64_t zp_axis = dq.attr_int("axis", 1);
  if (wt != nullptr && zp_axis < 0) zp_axis += static_cast<int64_t>(wt->dims.size());
  if (!read_weights(g, dq.input(0), dq.input(2), zp_axis, "weights", u, why)) return false;
  std::vector<float> scales;
  if (!read_scales(g, dq.input(1), "weight scale", scales, why)) return false;
  const int64_t rank = static_cast<int64_t>(u.w_dims.size());
  if (scales.size() > 1) {
    int64_t a = dq.attr_int("axis", 1);
    if (a < 0) a += rank;
    if (a != axis) { why = "weight scales along axis " + std::to_string(a) + ", not the output channels"; return false; }
  }
  const int64_t n = axis < rank ? u.w_dims[static_cast<size_t>(axis)] : 0;
  return set_weight_scales(std::move(scales), n, u, why);
}

// Bias DQ: int32 constant (its scale is x_scale * w_scale by construction; ONNX Runtime's QDQ fusion takes the
// int32 data as the QLinearConv bias without looking at it, and so do we).
bool dq_bias(const GraphModel& g, const NodeInfo& dq, int64_t n, Unit& u, Reason& why) {
  std::vector<int32_t> zps;
  int32_t elem = kInt32;
  const TensorInfo* t = g.tensor(dq.input(0));
  if (t == nullptr || t->elem != kInt32) { why = "bias DequantizeLinear does not read int32 data"; return false; }
  if (!dq.input(2).empty()) {
    const TensorInfo* z = g.tensor(dq.input(2));
    if (z == nullptr || !z->is_const) { why = "bias zero point is not a constant"; return false; }
    for (int32_t v : z->values<int32_t>())
      if (v != 0) { why = "non-zero bias zero point"; return false; }
  }
  (void)elem;
  (void)zps;
  return read_bias(g, dq.input(0), n, u, why);
}

// Relu / Clip between the op and its QuantizeLinear: accepted when ONNX Runtime removes it too (the quantized
// range already clamps it: Relu with the output zero point at the type's minimum, Clip not narrower than the
// range), so the CPU EP also runs the fused integer op. Otherwise ORT computes that op in float: declined.
bool activation_removable(const GraphModel& g, const NodeInfo& act, const QTensor& y, Reason& why) {
  const int32_t zp_orig = y.elem == kUint8 ? y.zero_point + 128 : y.zero_point;
  const int32_t qmin = y.elem == kUint8 ? 0 : -128, qmax = y.elem == kUint8 ? 255 : 127;
  if (act.op == "Relu") {
    if (zp_orig == qmin) return true;
    why = "Relu before a QuantizeLinear with zero point " + std::to_string(zp_orig) +
          " (not the type's minimum): ONNX Runtime runs this op in float, not as one integer op";
    return false;
  }
  float lo = act.attr_float("min", -INFINITY), hi = act.attr_float("max", INFINITY);
  for (size_t i = 1; i <= 2; ++i) {
    const std::string in = act.input(i);
    if (in.empty()) continue;
    const TensorInfo* t = g.tensor(in);
    if (t == nullptr || !t->is_const || t->elem != kFloat || t->values<float>().size() != 1) {
      why = "Clip bounds are not constant float scalars";
      return false;
    }
    (i == 1 ? lo : hi) = t->values<float>()[0];
  }
  const float range_lo = static_cast<float>(qmin - zp_orig) * y.scale;
  const float range_hi = static_cast<float>(qmax - zp_orig) * y.scale;
  if (lo <= range_lo && hi >= range_hi) return true;
  why = "Clip(" + fmt(lo) + ", " + fmt(hi) + ") is narrower than the quantized range [" + fmt(range_lo) + ", " +
        fmt(range_hi) + "]: ONNX Runtime runs this op in float";
  return false;
}

// From the op's float output: [Relu | Clip] -> QuantizeLinear. Fills u.output and adds the nodes.
bool qdq_output(const GraphModel& g, int op, Unit& u, Reason& why) {
  std::string t = g.nodes[static_cast<size_t>(op)].outputs.at(0);
  int c = g.sole_consumer(t);
  const NodeInfo* act = nullptr;
  int act_index = -1;
  if (const NodeInfo* n = node_at(g, c); n != nullptr && (is_op(*n, "Relu") || is_op(*n, "Clip"))) {
    act = n;
    act_index = c;
    t = n->outputs.at(0);
    c = g.sole_consumer(t);
  }
  const NodeInfo* q = node_at(g, c);
  if (q == nullptr || !is_op(*q, "QuantizeLinear")) {
    why = "the output does not go to a QuantizeLinear alone";
    return false;
  }
  if (!read_qtensor(g, q->outputs.at(0), q->input(1), q->input(2), "y", u.output, why)) return false;
  if (const TensorInfo* qt = g.tensor(q->outputs.at(0)); qt != nullptr && qt->elem != kUndefined &&
                                                          qt->elem != u.output.elem) {
    why = "QuantizeLinear output type differs from its zero point's";
    return false;
  }
  if (act != nullptr) {
    if (!activation_removable(g, *act, u.output, why)) return false;
    u.relu = act->op == "Relu";
    u.nodes.push_back(act_index);
  }
  u.nodes.push_back(c);
  return true;
}

// After a conv unit: DequantizeLinear -> MaxPool -> QuantizeLinear with the unit's own scale and zero point (QDQ
// form; also what ONNX Runtime's QDQ propagation makes of a float MaxPool after a requantizing Relu).
void qdq_pool(const GraphModel& g, Unit& u) {
  if (u.kind != Unit::QConv || u.pool.enabled) return;
  const int dq_i = g.sole_consumer(u.output.name);
  const NodeInfo* dq = node_at(g, dq_i);
  if (dq == nullptr || !is_op(*dq, "DequantizeLinear")) return;
  QTensor in;
  Reason why;
  if (!read_qtensor(g, dq->input(0), dq->input(1), dq->input(2), "pool input", in, why) || !(in == u.output)) return;
  const int mp_i = g.sole_consumer(dq->outputs.at(0));
  const NodeInfo* mp = node_at(g, mp_i);
  if (mp == nullptr || !is_op(*mp, "MaxPool")) return;
  const int q_i = g.sole_consumer(mp->outputs.at(0));
  const NodeInfo* q = node_at(g, q_i);
  if (q == nullptr || !is_op(*q, "QuantizeLinear")) return;
  QTensor out;
  if (!read_qtensor(g, q->outputs.at(0), q->input(1), q->input(2), "pool output", out, why) || !(out == in)) return;
  systolic::PoolParams p;
  if (!pool_params(g, *mp, p, why)) return;
  u.pool = p;
  u.nodes.insert(u.nodes.end(), {dq_i, mp_i, q_i});
  u.output = out;
}

// The float ops a requantizing tail applies between its DequantizeLinear and QuantizeLinear.
struct TailOps {
  bool relu = false;
  bool hard_swish = false;  // x * HardSigmoid(x): torch's hardswish as exported (HardSigmoid -> Mul)
  float alpha = 0.2f, beta = 0.5f;
};

// ONNX Runtime's HardSigmoid, max(0, min(1, alpha * x + beta)), a float32 multiply then add: the product goes
// through a volatile so that no compiler contracts the two into one FMA (riscv64 GCC does by default), which
// would round once where ORT rounds twice.
float hard_sigmoid(float x, float alpha, float beta) {
  volatile float ax = alpha * x;
  const float y = ax + beta;
  return std::max(0.0f, std::min(1.0f, y));
}

// ONNX Runtime's float path for one int8-domain value: DequantizeLinear ((q - zp) * scale), the tail's ops,
// QuantizeLinear (x / scale rounded half to even, plus zp, saturated). A MaxPool in between commutes with Relu
// (monotone), not with hard-swish (the tail then takes no pool).
int8_t requantize(int32_t q, const QTensor& from, const TailOps& ops, const QTensor& to) {
  float x = static_cast<float>(q - from.zero_point) * from.scale;
  if (ops.relu) x = std::max(x, 0.0f);
  if (ops.hard_swish) {
    volatile float h = hard_sigmoid(x, ops.alpha, ops.beta);
    x = x * h;
  }
  return systolic::quantize_value(x, to.scale, to.zero_point);
}

// Node hs_i is HardSigmoid(x) -> h, read by node mul_i alone, which is Mul(y, h) or Mul(h, y): a hard-swish of the
// value x and y both hold. Fills ops from the HardSigmoid's attributes.
bool hard_swish_nodes(const GraphModel& g, int hs_i, int mul_i, const std::string& x, const std::string& y,
                      TailOps& ops) {
  const NodeInfo* hs = node_at(g, hs_i);
  const NodeInfo* mul = node_at(g, mul_i);
  if (hs == nullptr || mul == nullptr || !is_op(*hs, "HardSigmoid") || !is_op(*mul, "Mul") || hs->input(0) != x)
    return false;
  const std::string& h = hs->outputs.at(0);
  if (g.sole_consumer(h) != mul_i) return false;
  if (!((mul->input(0) == y && mul->input(1) == h) || (mul->input(0) == h && mul->input(1) == y))) return false;
  ops.hard_swish = true;
  ops.alpha = hs->attr_float("alpha", 0.2f);
  ops.beta = hs->attr_float("beta", 0.5f);
  return true;
}

// t read by a HardSigmoid and the Mul of a hard-swish alone: the Mul's index, else -1.
int hard_swish_at(const GraphModel& g, const std::string& t, TailOps& ops) {
  const TensorInfo* ti = g.tensor(t);
  if (ti == nullptr || ti->graph_output || ti->consumers.size() != 2) return -1;
  for (const auto& [hs_i, mul_i] : {std::pair{ti->consumers[0], ti->consumers[1]},
                                    std::pair{ti->consumers[1], ti->consumers[0]}})
    if (hard_swish_nodes(g, hs_i, mul_i, t, t, ops)) return mul_i;
  return -1;
}

// A DequantizeLinear of the unit's output with the unit's own quantization (its index), else -1.
int unit_dq(const GraphModel& g, const Unit& u, int i, QTensor& from) {
  const NodeInfo* dq = node_at(g, i);
  Reason why;
  if (dq == nullptr || !is_op(*dq, "DequantizeLinear") || dq->input(0) != u.output.name) return -1;
  if (!read_qtensor(g, dq->input(0), dq->input(1), dq->input(2), "requant input", from, why) || !(from == u.output))
    return -1;
  return i;
}

// Where a requantizing tail begins: the unit's output read by one DequantizeLinear (`start` its float output), or by
// two that ONNX Runtime duplicated (one per consumer, as its QDQ transformers do) feeding a hard-swish's HardSigmoid
// and Mul (`start` the Mul's output, the hard-swish in `ops`).
bool tail_start(const GraphModel& g, const Unit& u, QTensor& from, std::vector<int>& nodes, TailOps& ops,
                std::string& start) {
  const TensorInfo* out = g.tensor(u.output.name);
  if (out == nullptr || out->graph_output) return false;
  if (out->consumers.size() == 1) {
    const int dq = unit_dq(g, u, out->consumers[0], from);
    if (dq < 0) return false;
    nodes = {dq};
    start = g.nodes[static_cast<size_t>(dq)].outputs.at(0);
    return true;
  }
  if (out->consumers.size() != 2 || u.pool.enabled) return false;
  QTensor other;
  const int a = unit_dq(g, u, out->consumers[0], from), b = unit_dq(g, u, out->consumers[1], other);
  if (a < 0 || b < 0 || !(other == from)) return false;
  const std::string& ta = g.nodes[static_cast<size_t>(a)].outputs.at(0);
  const std::string& tb = g.nodes[static_cast<size_t>(b)].outputs.at(0);
  for (const auto& [hs_in, mul_in] : {std::pair{ta, tb}, std::pair{tb, ta}}) {
    const int hs_i = g.sole_consumer(hs_in), mul_i = g.sole_consumer(mul_in);
    if (!hard_swish_nodes(g, hs_i, mul_i, hs_in, mul_in, ops)) continue;
    nodes = {a, b, hs_i, mul_i};
    start = g.nodes[static_cast<size_t>(mul_i)].outputs.at(0);
    return true;
  }
  return false;
}

// After a unit: DequantizeLinear (its own quantization) -> [Relu] [MaxPool] -> QuantizeLinear, each the sole
// consumer of the one before (quantize_static's QOperator int8 output puts a float Relu between convs this way),
// or DequantizeLinear -> hard-swish (HardSigmoid and Mul, both reading the DQ's output) -> QuantizeLinear (what
// calibration leaves of a MobileNetV3 / LCNet activation kept float).
void requant_tail(const GraphModel& g, Unit& u) {
  if (u.requant.enabled) return;
  QTensor from;
  std::vector<int> nodes;
  TailOps ops;
  std::string start;
  if (!tail_start(g, u, from, nodes, ops, start)) return;
  Reason why;
  systolic::PoolParams pool;
  for (std::string t = start;;) {
    if (!ops.hard_swish && !pool.enabled && !u.pool.enabled) {
      if (const int mul = hard_swish_at(g, t, ops); mul >= 0) {
        const NodeInfo* m = node_at(g, mul);
        nodes.push_back(g.producer(m->input(0) == t ? m->input(1) : m->input(0)));  // the HardSigmoid
        nodes.push_back(mul);
        t = m->outputs.at(0);
        continue;
      }
    }
    const int c = g.sole_consumer(t);
    const NodeInfo* n = node_at(g, c);
    if (n == nullptr || n->input(0) != t) return;
    if (is_op(*n, "Relu") && !ops.relu && !ops.hard_swish) {
      ops.relu = true;
    } else if (is_op(*n, "MaxPool") && u.kind == Unit::QConv && !u.pool.enabled && !pool.enabled &&
               !ops.hard_swish) {
      if (!pool_params(g, *n, pool, why)) return;
    } else if (is_op(*n, "QuantizeLinear")) {
      QTensor to;
      if (!read_qtensor(g, n->outputs.at(0), n->input(1), n->input(2), "requant output", to, why)) return;
      const TensorInfo* qt = g.tensor(n->outputs.at(0));
      if (qt != nullptr && qt->elem != kUndefined && qt->elem != to.elem) return;
      u.requant.enabled = true;
      u.requant.hard_swish = ops.hard_swish;
      u.requant.from = from;
      for (int v = -128; v < 128; ++v) u.requant.table[static_cast<size_t>(v + 128)] = requantize(v, from, ops, to);
      if (pool.enabled) u.pool = pool;
      nodes.push_back(c);
      u.nodes.insert(u.nodes.end(), nodes.begin(), nodes.end());
      u.output = to;
      return;
    } else {
      return;
    }
    nodes.push_back(c);
    t = n->outputs.at(0);
  }
}

// After a QOperator unit: int8 Relu (zero point 0) and, for a conv, MaxPool on the quantized tensor.
void qop_tail(const GraphModel& g, Unit& u) {
  for (;;) {
    const int c = g.sole_consumer(u.output.name);
    const NodeInfo* n = node_at(g, c);
    if (n == nullptr || n->input(0) != u.output.name) return;
    if (is_op(*n, "Relu") && !u.relu && !u.pool.enabled && u.output.elem == kInt8 && u.output.zero_point == 0) {
      u.relu = true;
    } else if (is_op(*n, "MaxPool") && u.kind == Unit::QConv && !u.pool.enabled) {
      systolic::PoolParams p;
      Reason why;
      if (!pool_params(g, *n, p, why)) return;
      u.pool = p;
    } else {
      return;
    }
    u.nodes.push_back(c);
    u.output.name = n->outputs.at(0);
  }
}

std::variant<Unit, std::string> qlinear_conv(const GraphModel& g, int idx, const Rules& rules) {
  const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
  Unit u;
  u.kind = Unit::QConv;
  u.form = "qoperator";
  u.primary = idx;
  u.nodes = {idx};
  Reason why;
  QTensor x;
  if (!read_qtensor(g, n.input(0), n.input(1), n.input(2), "x", x, why)) return why;
  u.inputs = {x};
  if (!read_weights(g, n.input(3), n.input(5), 0, "weights", u, why)) return why;
  if (!conv_geometry(g, n, n.input(0), u, why)) return why;
  std::vector<float> ws;
  if (!read_scales(g, n.input(4), "w_scale", ws, why) || !set_weight_scales(ws, u.w_dims[0], u, why)) return why;
  if (!read_qtensor(g, n.outputs.at(0), n.input(6), n.input(7), "y", u.output, why)) return why;
  if (!read_bias(g, n.input(8), u.w_dims[0], u, why)) return why;
  if (!check_features(u, rules, why)) return why;
  qop_tail(g, u);
  requant_tail(g, u);
  qdq_pool(g, u);
  return u;
}

std::variant<Unit, std::string> qlinear_matmul(const GraphModel& g, int idx, const Rules& rules) {
  const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
  Unit u;
  u.kind = Unit::QMatMul;
  u.form = "qoperator";
  u.primary = idx;
  u.nodes = {idx};
  Reason why;
  QTensor a;
  if (!read_qtensor(g, n.input(0), n.input(1), n.input(2), "a", a, why)) return why;
  u.inputs = {a};
  if (!read_weights(g, n.input(3), n.input(5), 1, "B", u, why)) return why;
  if (u.w_dims.size() != 2) return std::string("B is not a 2-D constant");
  std::vector<float> bs;
  if (!read_scales(g, n.input(4), "b_scale", bs, why) || !set_weight_scales(bs, u.w_dims[1], u, why)) return why;
  if (!read_qtensor(g, n.outputs.at(0), n.input(6), n.input(7), "y", u.output, why)) return why;
  if (!check_features(u, rules, why)) return why;
  qop_tail(g, u);
  requant_tail(g, u);
  qdq_pool(g, u);
  return u;
}

bool add_shapes(const GraphModel& g, const std::string& a, const std::string& b, Reason& why) {
  const TensorInfo* ta = g.tensor(a);
  const TensorInfo* tb = g.tensor(b);
  if (ta == nullptr || tb == nullptr || !ta->known_shape() || !tb->known_shape()) {
    why = "input shapes unknown (the accelerator's resadd needs identical shapes)";
    return false;
  }
  if (ta->dims != tb->dims) { why = "broadcasting add: the accelerator's resadd needs identical shapes"; return false; }
  return true;
}

// Gemmini's scaled mvin saturates each input, (x - zero point) * ratio, to int8 before the sum; QLinearAdd does not.
// Only adds where no input value can reach that saturation stay within 1 LSB of QLinearAdd. The rounding is
// monotonic, so the two extreme inputs decide, computed as the accelerator does: ratio <= 1 is enough with zero
// point 0 (and a ratio a little above 1 still rounds 127 * r to 127), but x - zp spans up to 255 otherwise (uint8,
// or int8 after a ReLU with zero point -128).
bool add_ratios(const Unit& u, Reason& why) {
  for (size_t i = 0; i < 2; ++i) {
    const float r = systolic::make_ratio(u.inputs[i].scale, u.output.scale);
    const int32_t zp = u.inputs[i].zero_point;  // int8 domain
    const float hi = std::nearbyint(static_cast<float>(127 - zp) * r);
    const float lo = std::nearbyint(static_cast<float>(-128 - zp) * r);
    if (!(hi <= 127.0f && lo >= -128.0f)) {  // NaN-safe: an overflowing ratio is declined too
      why = std::string(i == 0 ? "A" : "B") + ": (x - zero point " + std::to_string(zp) + ") * scale ratio " + fmt(r) +
            " leaves int8: the accelerator saturates the scaled input before the sum, QLinearAdd does not";
      return false;
    }
  }
  return true;
}

std::variant<Unit, std::string> qlinear_add(const GraphModel& g, int idx, const Rules& rules) {
  const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
  Unit u;
  u.kind = Unit::QAdd;
  u.form = "qoperator";
  u.primary = idx;
  u.nodes = {idx};
  Reason why;
  QTensor a, b;
  if (!read_qtensor(g, n.input(0), n.input(1), n.input(2), "A", a, why)) return why;
  if (!read_qtensor(g, n.input(3), n.input(4), n.input(5), "B", b, why)) return why;
  u.inputs = {a, b};
  if (!read_qtensor(g, n.outputs.at(0), n.input(6), n.input(7), "C", u.output, why)) return why;
  if (!add_shapes(g, n.input(0), n.input(3), why) || !add_ratios(u, why)) return why;
  if (!check_features(u, rules, why)) return why;
  qop_tail(g, u);
  requant_tail(g, u);
  qdq_pool(g, u);
  return u;
}

std::variant<Unit, std::string> qdq_conv(const GraphModel& g, int idx, const Rules& rules) {
  const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
  Unit u;
  u.kind = Unit::QConv;
  u.form = "qdq";
  u.primary = idx;
  u.nodes = {idx};
  Reason why;
  int dx = -1, dw = -1, db = -1;
  const NodeInfo* dqx = input_dq(g, idx, 0, dx, why);
  if (dqx == nullptr) return why;
  const NodeInfo* dqw = input_dq(g, idx, 1, dw, why);
  if (dqw == nullptr) return why;
  QTensor x;
  if (!dq_activation(g, *dqx, "x", x, why)) return why;
  u.inputs = {x};
  if (!dq_weights(g, *dqw, 0, u, why)) return why;
  if (!conv_geometry(g, n, n.input(0), u, why)) return why;
  u.nodes.insert(u.nodes.end(), {dx, dw});
  if (!n.input(2).empty()) {
    const NodeInfo* dqb = input_dq(g, idx, 2, db, why);
    if (dqb == nullptr) return std::string("bias: ") + why;
    if (!dq_bias(g, *dqb, u.w_dims[0], u, why)) return why;
    u.nodes.push_back(db);
  }
  if (!qdq_output(g, idx, u, why)) return why;
  if (!check_features(u, rules, why)) return why;
  qdq_pool(g, u);
  requant_tail(g, u);
  qdq_pool(g, u);
  return u;
}

// Gemm attributes the accelerator's matmul runs: transA = 0, alpha = 1, beta = 1 (with C); transB is resolved by
// transposing the constant B.
bool gemm_attributes(const NodeInfo& n, bool& trans_b, Reason& why) {
  if (n.attr_int("transA", 0) != 0) { why = "Gemm with transA=1"; return false; }
  if (n.attr_float("alpha", 1.0f) != 1.0f) { why = "Gemm with alpha != 1"; return false; }
  if (!n.input(2).empty() && n.attr_float("beta", 1.0f) != 1.0f) { why = "Gemm with beta != 1"; return false; }
  trans_b = n.attr_int("transB", 0) != 0;
  return true;
}

// A constant B given as [N, K] (Gemm transB=1) made [K, N].
template <typename T>
void transpose_b(std::vector<T>& b, std::vector<int64_t>& dims) {
  const int64_t N = dims[0], K = dims[1];
  std::vector<T> t(b.size());
  for (int64_t i = 0; i < N; ++i)
    for (int64_t k = 0; k < K; ++k) t[static_cast<size_t>(k * N + i)] = b[static_cast<size_t>(i * K + k)];
  b = std::move(t);
  dims = {K, N};
}

// A's known shape fits the matmul: rank >= 2 (exactly 2 for Gemm) and its last dim K.
bool a_fits(const GraphModel& g, const std::string& a, bool gemm, int64_t k, Reason& why) {
  const TensorInfo* ta = g.tensor(a);
  if (ta == nullptr || !ta->has_shape) return true;
  if (ta->dims.size() < 2 || (gemm && ta->dims.size() != 2)) {
    why = "A has rank " + std::to_string(ta->dims.size());
    return false;
  }
  if (ta->dims.back() >= 0 && ta->dims.back() != k) { why = "A's last dim does not match K"; return false; }
  return true;
}

std::variant<Unit, std::string> qdq_matmul(const GraphModel& g, int idx, const Rules& rules, bool gemm) {
  const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
  Unit u;
  u.kind = Unit::QMatMul;
  u.form = "qdq";
  u.primary = idx;
  u.nodes = {idx};
  Reason why;
  bool trans_b = false;
  if (gemm && !gemm_attributes(n, trans_b, why)) return why;
  int da = -1, dbw = -1, dc = -1;
  const NodeInfo* dqa = input_dq(g, idx, 0, da, why);
  if (dqa == nullptr) return why;
  const NodeInfo* dqb = input_dq(g, idx, 1, dbw, why);
  if (dqb == nullptr) return why;
  QTensor a;
  if (!dq_activation(g, *dqa, "A", a, why)) return why;
  u.inputs = {a};
  if (!dq_weights(g, *dqb, trans_b ? 0 : 1, u, why)) return why;
  if (u.w_dims.size() != 2) return std::string("B is not a 2-D constant");
  if (trans_b) transpose_b(u.weights, u.w_dims);
  if (!a_fits(g, n.input(0), gemm, u.w_dims[0], why)) return why;
  u.nodes.insert(u.nodes.end(), {da, dbw});
  if (gemm && !n.input(2).empty()) {
    const NodeInfo* dqc = input_dq(g, idx, 2, dc, why);
    if (dqc == nullptr) return std::string("C: ") + why;
    if (!dq_bias(g, *dqc, u.w_dims[1], u, why)) return why;
    u.nodes.push_back(dc);
  }
  if (!qdq_output(g, idx, u, why)) return why;
  if (!check_features(u, rules, why)) return why;
  requant_tail(g, u);
  return u;
}

std::variant<Unit, std::string> qdq_add(const GraphModel& g, int idx, const Rules& rules) {
  Unit u;
  u.kind = Unit::QAdd;
  u.form = "qdq";
  u.primary = idx;
  u.nodes = {idx};
  Reason why;
  int da = -1, db = -1;
  const NodeInfo* dqa = input_dq(g, idx, 0, da, why);
  if (dqa == nullptr) return why;
  const NodeInfo* dqb = input_dq(g, idx, 1, db, why);
  if (dqb == nullptr) return why;
  QTensor a, b;
  if (!dq_activation(g, *dqa, "A", a, why) || !dq_activation(g, *dqb, "B", b, why)) return why;
  u.inputs = {a, b};
  u.nodes.insert(u.nodes.end(), {da, db});
  if (!add_shapes(g, a.name, b.name, why)) return why;
  if (!qdq_output(g, idx, u, why)) return why;
  if (!add_ratios(u, why) || !check_features(u, rules, why)) return why;
  requant_tail(g, u);
  return u;
}

// ---- float units (fp32 config) ------------------------------------------------------------------------------

// A float activation input: float32 (or of unknown type), not a constant.
bool float_activation(const GraphModel& g, const std::string& name, const std::string& what, QTensor& q,
                      Reason& why) {
  const TensorInfo* t = g.tensor(name);
  if (t != nullptr && t->is_const) { why = what + " is a constant (the accelerator takes activations)"; return false; }
  if (t != nullptr && t->elem != kUndefined && t->elem != kFloat) {
    why = what + " is " + std::string(elem_type_name(t->elem)) + " (the fp32 accelerator takes float32)";
    return false;
  }
  q.name = name;
  q.elem = kFloat;
  return true;
}

// A constant float32 tensor (weights or bias); `numel` >= 0 asks for that many elements.
bool float_const(const GraphModel& g, const std::string& name, const std::string& what, int64_t numel,
                 std::vector<float>& out, std::vector<int64_t>* dims, Reason& why) {
  const TensorInfo* t = g.tensor(name);
  if (t == nullptr || !t->is_const) { why = what + " is not a constant"; return false; }
  if (t->elem != kFloat) { why = what + " is " + std::string(elem_type_name(t->elem)) + ", not float"; return false; }
  if (numel >= 0 && t->numel() != numel) {
    why = what + " has " + std::to_string(t->numel()) + " values, expected " + std::to_string(numel);
    return false;
  }
  out = t->values<float>();
  if (dims != nullptr) *dims = t->dims;
  return true;
}

// The float Relu, then (conv only) MaxPool, that consume the unit's output alone: fused like the int8 tail. Relu
// before the pool is what the accelerator computes; ReLU and max commute, so either order in the graph is fused.
void float_tail(const GraphModel& g, Unit& u) {
  for (;;) {
    const int c = g.sole_consumer(u.output.name);
    const NodeInfo* n = node_at(g, c);
    if (n == nullptr || n->input(0) != u.output.name) return;
    if (is_op(*n, "Relu") && !u.relu) {
      u.relu = true;
    } else if (is_op(*n, "MaxPool") && u.kind == Unit::Conv && !u.pool.enabled) {
      systolic::PoolParams p;
      Reason why;
      if (!pool_params(g, *n, p, why)) return;
      u.pool = p;
    } else {
      return;
    }
    u.nodes.push_back(c);
    u.output.name = n->outputs.at(0);
  }
}

std::variant<Unit, std::string> float_conv(const GraphModel& g, int idx) {
  const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
  Unit u;
  u.kind = Unit::Conv;
  u.form = "float";
  u.primary = idx;
  u.nodes = {idx};
  Reason why;
  QTensor x;
  if (!float_activation(g, n.input(0), "X", x, why)) return why;
  u.inputs = {x};
  if (!float_const(g, n.input(1), "W", -1, u.weights_f32, &u.w_dims, why)) return why;
  if (!conv_geometry(g, n, n.input(0), u, why)) return why;
  if (!n.input(2).empty() && !float_const(g, n.input(2), "B", u.w_dims[0], u.bias_f32, nullptr, why)) return why;
  u.output.name = n.outputs.at(0);
  u.output.elem = kFloat;
  float_tail(g, u);
  return u;
}

// MatMul (B a constant [K, N]) or Gemm (transA = 0, alpha = beta = 1, C a constant [N] or [1, N]).
std::variant<Unit, std::string> float_matmul(const GraphModel& g, int idx, bool gemm) {
  const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
  Unit u;
  u.kind = Unit::MatMul;
  u.form = "float";
  u.primary = idx;
  u.nodes = {idx};
  Reason why;
  bool trans_b = false;
  if (gemm && !gemm_attributes(n, trans_b, why)) return why;
  QTensor a;
  if (!float_activation(g, n.input(0), "A", a, why)) return why;
  u.inputs = {a};
  if (!float_const(g, n.input(1), "B", -1, u.weights_f32, &u.w_dims, why)) return why;
  if (u.w_dims.size() != 2) return std::string("B is not a 2-D constant");
  if (trans_b) transpose_b(u.weights_f32, u.w_dims);
  if (!a_fits(g, n.input(0), gemm, u.w_dims[0], why)) return why;
  if (gemm && !n.input(2).empty()) {
    const TensorInfo* c = g.tensor(n.input(2));
    const int64_t N = u.w_dims[1];
    if (c != nullptr && c->has_shape && !(c->dims == std::vector<int64_t>{N} || c->dims == std::vector<int64_t>{1, N}))
      return std::string("Gemm C is not [N] or [1, N] (the accelerator adds one bias row)");
    if (!float_const(g, n.input(2), "C", N, u.bias_f32, nullptr, why)) return why;
  }
  u.output.name = n.outputs.at(0);
  u.output.elem = kFloat;
  float_tail(g, u);
  return u;
}

bool has_dq_input(const GraphModel& g, const NodeInfo& n) {
  const NodeInfo* p = node_at(g, g.producer(n.input(0)));
  return p != nullptr && is_op(*p, "DequantizeLinear");
}

}  // namespace

bool is_unit_candidate(const NodeInfo& n) {
  return is_op(n, "QLinearConv") || is_op(n, "QLinearMatMul") || is_op(n, "QLinearAdd", "com.microsoft") ||
         is_op(n, "Conv") || is_op(n, "MatMul") || is_op(n, "Gemm") || is_op(n, "Add");
}

int64_t node_macs(const GraphModel& g, int idx) {
  const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
  const TensorInfo* out = n.outputs.empty() ? nullptr : g.tensor(n.outputs[0]);
  if (out == nullptr || !out->known_shape()) return -1;
  const int64_t out_elems = out->numel();
  if (is_op(n, "Conv") || is_op(n, "QLinearConv") || is_op(n, "ConvInteger")) {
    const TensorInfo* w = g.tensor(n.input(is_op(n, "QLinearConv") ? 3 : 1));
    if (w != nullptr && !w->known_shape()) {  // a QDQ weight: its DequantizeLinear's input has the shape
      const NodeInfo* dq = node_at(g, w->producer);
      if (dq != nullptr && is_op(*dq, "DequantizeLinear")) w = g.tensor(dq->input(0));
    }
    if (w == nullptr || !w->known_shape() || w->dims.size() < 3) return -1;
    int64_t per = 1;
    for (size_t i = 1; i < w->dims.size(); ++i) per *= w->dims[i];
    return out_elems * per;
  }
  if (is_op(n, "MatMul") || is_op(n, "QLinearMatMul") || is_op(n, "MatMulInteger") || is_op(n, "Gemm")) {
    const TensorInfo* a = g.tensor(n.input(0));
    if (a == nullptr || !a->known_shape() || a->dims.empty()) return -1;
    const int64_t k = is_op(n, "Gemm") && n.attr_int("transA", 0) != 0 ? a->dims[0] : a->dims.back();
    return out_elems * k;
  }
  return -1;
}

int input_quantize(const GraphModel& g, const Unit& u, size_t i) {
  if (u.is_float() || i >= u.inputs.size()) return -1;
  const QTensor& in = u.inputs[i];
  const int q_index = g.producer(in.name);
  const NodeInfo* q = node_at(g, q_index);
  if (q == nullptr || !is_op(*q, "QuantizeLinear") || q->outputs.empty() || q->outputs[0] != in.name) return -1;
  const int reader = g.sole_consumer(in.name);  // QOperator: the unit's op; QDQ: its DequantizeLinear
  if (reader < 0 || std::find(u.nodes.begin(), u.nodes.end(), reader) == u.nodes.end()) return -1;
  const TensorInfo* x = g.tensor(q->input(0));
  if (x == nullptr || x->elem != kFloat || x->is_const) return -1;
  QTensor qt;
  Reason why;
  if (!read_qtensor(g, in.name, q->input(1), q->input(2), "quantize output", qt, why) || !(qt == in)) return -1;
  return q_index;
}

void absorb_input_quantize(const GraphModel& g, Unit& u, size_t i, int q_node) {
  u.inputs.at(i).float_source = g.nodes.at(static_cast<size_t>(q_node)).input(0);
  u.nodes.push_back(q_node);
}

std::variant<Unit, std::string> recognize(const GraphModel& g, int idx, const Rules& rules) {
  const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
  const bool fp32 = rules.config.elem == systolic::ElemType::Fp32;
  const bool qlinear = is_op(n, "QLinearConv") || is_op(n, "QLinearMatMul") || is_op(n, "QLinearAdd", "com.microsoft");
  const bool std_op = is_op(n, "Conv") || is_op(n, "MatMul") || is_op(n, "Gemm") || is_op(n, "Add");
  std::variant<Unit, std::string> r = std::string("no accelerator op for ") + n.op;
  if (fp32 && (qlinear || (std_op && has_dq_input(g, n)))) {
    r = "quantized " + n.op + ": the accelerator config is fp32 (elem = \"fp32\"); quantized ops need an int8 config";
  } else if (is_op(n, "QLinearConv")) {
    r = qlinear_conv(g, idx, rules);
  } else if (is_op(n, "QLinearMatMul")) {
    r = qlinear_matmul(g, idx, rules);
  } else if (rules.adds_on_cpu && (is_op(n, "QLinearAdd", "com.microsoft") || (is_op(n, "Add") && has_dq_input(g, n)))) {
    r = std::string("adds = cpu: residual adds stay on the CPU EP (ONNX Runtime's QLinearAdd, bit-exact against it)");
  } else if (is_op(n, "QLinearAdd", "com.microsoft")) {
    r = qlinear_add(g, idx, rules);
  } else if (std_op) {
    if (has_dq_input(g, n)) {
      if (n.op == "Conv") r = qdq_conv(g, idx, rules);
      else if (n.op == "Add") r = qdq_add(g, idx, rules);
      else r = qdq_matmul(g, idx, rules, n.op == "Gemm");
    } else if (n.op == "Add") {
      r = std::string("float Add: no accelerator op (") +
          (fp32 ? "the fp32 accelerator has no residual add)" : "only quantized residual adds)");
    } else if (!fp32) {
      r = "float " + n.op + ": the accelerator config is int8 (elem = \"int8\"); float Conv/MatMul/Gemm run on an fp32 "
          "config (elem = \"fp32\", ep/systolic/accelerator_fp32.toml)";
    } else if (n.op == "Conv") {
      r = float_conv(g, idx);
    } else {
      r = float_matmul(g, idx, n.op == "Gemm");
    }
  }
  if (Unit* u = std::get_if<Unit>(&r)) u->macs = node_macs(g, idx);
  return r;
}

}  // namespace rcnn::ep
