// The plugin EP's placement rules on hand-built graphs (no ORT): QDQ and QOperator units, fused max-pool, the
// reasons for declined nodes, chain grouping without cycles, the options, one compiled chain against a direct
// accelerator-model call; float units on an fp32 config (and their reasons on an int8 one); weights with a zero
// point (uint8), taken as w - zp when that fits int8 and declined with the span otherwise.
#include <string>
#include <vector>

#include "capability.h"
#include "check.h"
#include "compiled_chain.h"
#include "options.h"
#include "systolic/conv.h"
#include "systolic/matmul.h"
#include "systolic/numerics.h"

using namespace rcnn::ep;

namespace {

template <typename T>
void set_const(GraphModel& g, const std::string& name, int32_t elem, std::vector<int64_t> dims, std::vector<T> v) {
  TensorInfo& t = g.tensors[name];
  t.elem = elem;
  t.has_shape = true;
  t.dims = std::move(dims);
  t.is_const = true;
  // assign, not resize + memcpy: GCC 12 reports a false -Warray-bounds on the latter at -O3.
  using Byte = typename decltype(t.data)::value_type;
  const auto* bytes = reinterpret_cast<const Byte*>(v.data());
  t.data.assign(bytes, bytes + v.size() * sizeof(T));
}

void set_act(GraphModel& g, const std::string& name, int32_t elem, std::vector<int64_t> dims) {
  TensorInfo& t = g.tensors[name];
  t.elem = elem;
  t.has_shape = true;
  t.dims = std::move(dims);
}

NodeInfo node(const std::string& name, const std::string& op, std::vector<std::string> in,
              std::vector<std::string> out) {
  NodeInfo n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

Attr ints(std::vector<int64_t> v) {
  Attr a;
  a.kind = Attr::Ints;
  a.ints = std::move(v);
  return a;
}

// x(int8) -> DQ -> Conv(DQ w, DQ b) -> Q -> [DQ -> MaxPool -> Q] ; scales per-tensor or per-channel.
void qdq_conv(GraphModel& g, const std::string& p, const std::string& x, const std::string& y, bool per_channel,
              bool pool) {
  const int64_t oc = 4;
  set_const<float>(g, p + "xs", kFloat, {}, {0.05f});
  set_const<int8_t>(g, p + "xz", kInt8, {}, {0});
  std::vector<int8_t> w(static_cast<size_t>(oc * 4 * 9));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i * 7 % 255) - 127);
  set_const<int8_t>(g, p + "w", kInt8, {oc, 4, 3, 3}, w);
  if (per_channel) set_const<float>(g, p + "ws", kFloat, {oc}, {0.01f, 0.02f, 0.03f, 0.04f});
  else set_const<float>(g, p + "ws", kFloat, {}, {0.01f});
  set_const<int8_t>(g, p + "wz", kInt8, {per_channel ? oc : 1}, std::vector<int8_t>(per_channel ? 4 : 1, 0));
  set_const<int32_t>(g, p + "b", kInt32, {oc}, {10, -20, 30, -40});
  set_const<float>(g, p + "bs", kFloat, {}, {0.0005f});
  set_const<float>(g, p + "ys", kFloat, {}, {0.1f});
  set_const<int8_t>(g, p + "yz", kInt8, {}, {0});
  NodeInfo dqw = node(p + "dqw", "DequantizeLinear", {p + "w", p + "ws", p + "wz"}, {p + "wf"});
  Attr axis;
  axis.kind = Attr::Int;
  axis.i = 0;
  dqw.attrs["axis"] = axis;
  g.nodes.push_back(node(p + "dqx", "DequantizeLinear", {x, p + "xs", p + "xz"}, {p + "xf"}));
  g.nodes.push_back(dqw);
  g.nodes.push_back(node(p + "dqb", "DequantizeLinear", {p + "b", p + "bs"}, {p + "bf"}));
  NodeInfo conv = node(p + "conv", "Conv", {p + "xf", p + "wf", p + "bf"}, {p + "yf"});
  conv.attrs["pads"] = ints({1, 1, 1, 1});
  g.nodes.push_back(conv);
  const std::string q = pool ? p + "yq" : y;
  g.nodes.push_back(node(p + "q", "QuantizeLinear", {p + "yf", p + "ys", p + "yz"}, {q}));
  set_act(g, q, kInt8, {1, oc, 6, 6});
  set_act(g, p + "yf", kFloat, {1, oc, 6, 6});
  if (pool) {
    g.nodes.push_back(node(p + "dqp", "DequantizeLinear", {q, p + "ys", p + "yz"}, {p + "pf"}));
    NodeInfo mp = node(p + "pool", "MaxPool", {p + "pf"}, {p + "po"});
    mp.attrs["kernel_shape"] = ints({2, 2});
    mp.attrs["strides"] = ints({2, 2});
    g.nodes.push_back(mp);
    g.nodes.push_back(node(p + "qp", "QuantizeLinear", {p + "po", p + "ys", p + "yz"}, {y}));
    set_act(g, y, kInt8, {1, oc, 3, 3});
  }
}

const NodeDecision* decision(const Placement& p, const std::string& name) {
  for (const NodeDecision& d : p.decisions)
    if (d.name == name) return &d;
  return nullptr;
}

void test_qdq_chain(test::Checker& t) {
  GraphModel g;
  set_act(g, "x", kInt8, {1, 4, 6, 6});
  qdq_conv(g, "a_", "x", "y1", false, false);
  qdq_conv(g, "b_", "y1", "y2", true, true);
  g.tensors["y2"].graph_output = true;
  g.link();
  Rules rules;
  Placement p = place(g, rules);
  CHECK_EQ(p.units.size(), size_t{2});
  CHECK_EQ(p.chains.size(), size_t{1});  // connected: one compiled node
  CHECK_EQ(p.chains[0].units.size(), size_t{2});
  CHECK(p.units[1].pool.enabled);
  CHECK(p.units[1].pool.padding == rcnn::systolic::PoolPadding::Ignore);
  CHECK_EQ(p.units[1].w_scales.size(), size_t{4});
  CHECK_EQ(p.units[1].output.name, std::string("y2"));
  for (const NodeDecision& d : p.decisions) CHECK(d.accelerator);
  CHECK_EQ(decision(p, "a_conv")->macs, int64_t{1 * 4 * 6 * 6 * 4 * 9});

  rules.config.per_channel_scale = false;  // a hardware variant without per-channel scales
  Placement q = place(g, rules);
  CHECK_EQ(q.units.size(), size_t{1});
  CHECK(!decision(q, "b_conv")->accelerator);
  CHECK(decision(q, "b_conv")->reason.find("per-channel") != std::string::npos);
}

void test_declines(test::Checker& t) {
  GraphModel g;
  set_act(g, "x", kInt8, {1, 4, 6, 6});
  qdq_conv(g, "a_", "x", "y1", false, false);
  // A Relu between Conv and Q whose zero point is 0 for int8 (not the minimum): ORT runs that conv in float.
  g.nodes[3].outputs = {"a_yr"};
  g.nodes.push_back(node("a_relu", "Relu", {"a_yr"}, {"a_yf"}));
  // The float path: a plain float Conv.
  set_act(g, "f", kFloat, {1, 4, 6, 6});
  set_const<float>(g, "fw", kFloat, {4, 4, 1, 1}, std::vector<float>(16, 0.5f));
  g.nodes.push_back(node("fconv", "Conv", {"f", "fw"}, {"fy"}));
  g.link();
  Placement p = place(g, Rules{});
  CHECK(p.units.empty());
  CHECK(decision(p, "a_conv")->reason.find("Relu before a QuantizeLinear") != std::string::npos);
  CHECK(decision(p, "fconv")->reason.find("float Conv") != std::string::npos);
  CHECK(decision(p, "a_dqx")->reason.find("not part of an accelerator node unit") != std::string::npos);
}

void test_qlinear_add(test::Checker& t) {
  GraphModel g;
  for (const char* n : {"a", "b"}) set_act(g, n, kUint8, {1, 2, 3, 3});
  set_const<float>(g, "as", kFloat, {}, {0.05f});
  set_const<float>(g, "bs", kFloat, {}, {0.08f});
  set_const<float>(g, "cs", kFloat, {}, {0.06f});
  for (const char* n : {"az", "bz", "cz"}) set_const<uint8_t>(g, n, kUint8, {}, {128});
  NodeInfo add = node("add", "QLinearAdd", {"a", "as", "az", "b", "bs", "bz", "cs", "cz"}, {"c"});
  add.domain = "com.microsoft";
  g.nodes.push_back(add);
  set_act(g, "c", kUint8, {1, 2, 3, 3});
  g.link();
  Placement p = place(g, Rules{});
  CHECK(p.units.empty());  // b_scale / c_scale = 1.33 > 1
  CHECK(decision(p, "add")->reason.find("B: (x - zero point 0) * scale ratio") != std::string::npos);
  set_const<float>(g, "bs", kFloat, {}, {0.06f});
  Placement q = place(g, Rules{});
  CHECK_EQ(q.units.size(), size_t{1});
  CHECK_EQ(q.units[0].inputs[0].zero_point, 0);  // uint8 128 -> int8 0
  CHECK_EQ(q.units[0].inputs[0].elem, int32_t{kUint8});
  // A zero point at the type's minimum lets x - zp reach 255: (x - zp) * 0.83 leaves int8 (the accelerator would
  // saturate the scaled input before the sum, QLinearAdd does not), so the add stays on the CPU.
  set_const<uint8_t>(g, "az", kUint8, {}, {0});
  Placement r = place(g, Rules{});
  CHECK(r.units.empty());
  CHECK(decision(r, "add")->reason.find("A: (x - zero point -128) * scale ratio") != std::string::npos);
  CHECK(decision(r, "add")->reason.find("leaves int8") != std::string::npos);
}

// A -> CPU op -> B and A -> B directly: fusing A and B would make a cycle, so they stay two compiled nodes.
void test_no_cycles(test::Checker& t) {
  GraphModel g;
  set_act(g, "x", kInt8, {1, 4, 6, 6});
  qdq_conv(g, "a_", "x", "y1", false, false);
  g.nodes.push_back(node("cpu", "Identity", {"y1"}, {"y1c"}));
  set_act(g, "y1c", kInt8, {1, 4, 6, 6});
  // b_ adds y1 (through its own DQ) and y1c.
  set_const<float>(g, "s", kFloat, {}, {0.1f});
  set_const<int8_t>(g, "z", kInt8, {}, {0});
  g.nodes.push_back(node("dq1", "DequantizeLinear", {"y1", "s", "z"}, {"f1"}));
  g.nodes.push_back(node("dq2", "DequantizeLinear", {"y1c", "s", "z"}, {"f2"}));
  g.nodes.push_back(node("add", "Add", {"f1", "f2"}, {"sf"}));
  set_const<float>(g, "s2", kFloat, {}, {0.2f});
  g.nodes.push_back(node("qa", "QuantizeLinear", {"sf", "s2", "z"}, {"out"}));
  set_act(g, "f1", kFloat, {1, 4, 6, 6});
  set_act(g, "f2", kFloat, {1, 4, 6, 6});
  set_act(g, "out", kInt8, {1, 4, 6, 6});
  g.link();
  g.tensors["out"].graph_output = true;
  Placement p = place(g, Rules{});
  CHECK_EQ(p.units.size(), size_t{2});
  CHECK_EQ(p.chains.size(), size_t{2});
}

void test_options(test::Checker& t) {
  EpOptions o = parse_options({{"execution", "1"}, {"dim", "8"}, {"threads", "2"}, {"report_id", "r"}});
  CHECK(o.settings.mode == rcnn::systolic::Mode::OS);
  CHECK_EQ(o.settings.config.dim, int64_t{8});
  CHECK_EQ(o.settings.threads, 2);
  CHECK_EQ(o.report_id, std::string("r"));
  CHECK_THROWS(parse_options({{"execution", "7"}}), "execution must be 0 (CPU), 1 (OS) or 2 (WS), got '7'");
  CHECK_THROWS(parse_options({{"dim", "3"}}), "dim = 3");
  CHECK_THROWS(parse_options({{"config", "rows = 4\n"}}), "config:1: unknown key 'rows'");
  CHECK_THROWS(parse_options({{"exec", "1"}}), "unknown option 'exec'");
}

// The compiled chain of one QDQ conv unit (per-channel, pool) against a direct conv2d call on the same integers.
void test_chain_numerics(test::Checker& t) {
  GraphModel g;
  set_act(g, "x", kInt8, {1, 4, 6, 6});
  qdq_conv(g, "b_", "x", "y", true, true);
  g.tensors["y"].graph_output = true;
  g.link();
  Placement p = place(g, Rules{});
  CHECK_EQ(p.units.size(), size_t{1});
  if (p.units.size() != 1) return;
  const Unit u = p.units[0];
  for (int mode = 0; mode < 3; ++mode) {
    EpOptions o = parse_options({{"execution", std::to_string(mode)}});
    CompiledChain chain("c", {u}, {"x"}, {"y"}, o.settings, nullptr, nullptr);
    std::vector<int8_t> x(4 * 36);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 256) - 128);
    std::vector<int8_t> out;
    std::vector<int64_t> out_dims;
    chain.run({ChainInput{x.data(), {1, 4, 6, 6}, kInt8}}, [&](size_t, const std::vector<int64_t>& d) -> void* {
      out_dims = d;
      out.resize(static_cast<size_t>(d[0] * d[1] * d[2] * d[3]));
      return out.data();
    });
    CHECK(out_dims == (std::vector<int64_t>{1, 4, 3, 3}));
    // Direct: NHWC input, HWIO weights, per-channel multipliers.
    rcnn::systolic::ConvArgs a;
    a.shape.in_h = 6; a.shape.in_w = 6; a.shape.in_ch = 4; a.shape.out_ch = 4;
    a.shape.kernel_h = 3; a.shape.kernel_w = 3;
    a.shape.pad_top = a.shape.pad_left = a.shape.pad_bottom = a.shape.pad_right = 1;
    a.shape.pool = u.pool;
    std::vector<int8_t> xn(x.size()), wh(u.weights.size()), y(4 * 9);
    for (int c = 0; c < 4; ++c)
      for (int hw = 0; hw < 36; ++hw) xn[static_cast<size_t>(hw * 4 + c)] = x[static_cast<size_t>(c * 36 + hw)];
    for (int oc = 0; oc < 4; ++oc)
      for (int ic = 0; ic < 4; ++ic)
        for (int k = 0; k < 9; ++k)
          wh[static_cast<size_t>((k * 4 + ic) * 4 + oc)] = u.weights[static_cast<size_t>((oc * 4 + ic) * 9 + k)];
    std::vector<float> m;
    for (float ws : u.w_scales) m.push_back(rcnn::systolic::make_multiplier(0.05f, ws, 0.1f));
    a.input = xn.data(); a.weights = wh.data(); a.bias = u.bias.data(); a.multipliers = m.data(); a.output = y.data();
    rcnn::systolic::conv2d(rcnn::systolic::AcceleratorConfig{}, rcnn::systolic::Mode::CPU, a);
    bool same = true;
    for (int c = 0; c < 4; ++c)
      for (int hw = 0; hw < 9; ++hw) same = same && out[static_cast<size_t>(c * 9 + hw)] == y[static_cast<size_t>(hw * 4 + c)];
    CHECK(same);
  }
}

Rules fp32_rules() {
  Rules r;
  r.config = rcnn::systolic::AcceleratorConfig::fp32_defaults();
  return r;
}

Attr one_int(int64_t v) {
  Attr a;
  a.kind = Attr::Int;
  a.i = v;
  return a;
}

// x -> Conv(3x3, pad 1, bias) -> Relu -> MaxPool(2x2/2) -> y1 -> Flatten -> Gemm(transB, C [N]) -> Relu -> y2,
// and a float residual Add beside it.
GraphModel float_net() {
  GraphModel g;
  set_act(g, "x", kFloat, {1, 4, 6, 6});
  std::vector<float> w(4 * 4 * 9);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i * 7 % 13) - 6) / 8.0f;
  set_const<float>(g, "w", kFloat, {4, 4, 3, 3}, w);
  set_const<float>(g, "b", kFloat, {4}, {0.5f, -0.25f, 0.125f, -1.0f});
  NodeInfo conv = node("conv", "Conv", {"x", "w", "b"}, {"c"});
  conv.attrs["pads"] = ints({1, 1, 1, 1});
  g.nodes.push_back(conv);
  g.nodes.push_back(node("relu", "Relu", {"c"}, {"r"}));
  NodeInfo mp = node("pool", "MaxPool", {"r"}, {"y1"});
  mp.attrs["kernel_shape"] = ints({2, 2});
  mp.attrs["strides"] = ints({2, 2});
  g.nodes.push_back(mp);
  set_act(g, "c", kFloat, {1, 4, 6, 6});
  set_act(g, "r", kFloat, {1, 4, 6, 6});
  set_act(g, "y1", kFloat, {1, 4, 3, 3});
  g.nodes.push_back(node("flat", "Flatten", {"y1"}, {"f"}));
  set_act(g, "f", kFloat, {1, 36});
  std::vector<float> fc(5 * 36);
  for (size_t i = 0; i < fc.size(); ++i) fc[i] = static_cast<float>(static_cast<int>(i % 9) - 4) / 16.0f;
  set_const<float>(g, "fc", kFloat, {5, 36}, fc);  // [N, K]: transB
  set_const<float>(g, "fcb", kFloat, {5}, {1.0f, 2.0f, 3.0f, 4.0f, 5.0f});
  NodeInfo gemm = node("gemm", "Gemm", {"f", "fc", "fcb"}, {"g"});
  gemm.attrs["transB"] = one_int(1);
  g.nodes.push_back(gemm);
  g.nodes.push_back(node("grelu", "Relu", {"g"}, {"y2"}));
  set_act(g, "g", kFloat, {1, 5});
  set_act(g, "y2", kFloat, {1, 5});
  g.nodes.push_back(node("add", "Add", {"y1", "y1"}, {"y3"}));
  set_act(g, "y3", kFloat, {1, 4, 3, 3});
  g.link();
  g.tensors["y1"].graph_output = true;  // read by Flatten and the Add too: the pool output leaves the chain
  g.tensors["y2"].graph_output = true;
  g.tensors["y3"].graph_output = true;
  return g;
}

void test_fp32_config_claims_float_units(test::Checker& t) {
  const GraphModel g = float_net();
  Placement p = place(g, fp32_rules());
  CHECK_EQ(p.units.size(), size_t{2});
  if (p.units.size() != 2) return;
  const Unit& conv = p.units[0];
  CHECK(conv.kind == Unit::Conv && conv.relu && conv.pool.enabled);
  CHECK(conv.pool.padding == rcnn::systolic::PoolPadding::Ignore);
  CHECK_EQ(conv.output.name, std::string("y1"));
  CHECK_EQ(conv.bias_f32.size(), size_t{4});
  const Unit& fc = p.units[1];
  CHECK(fc.kind == Unit::MatMul && fc.relu);
  CHECK(fc.w_dims == (std::vector<int64_t>{36, 5}));  // transB resolved to [K, N]
  CHECK_EQ(fc.weights_f32[1], -0.25f);                // B[0][1] = fc[1][0] = (36 % 9 - 4) / 16
  CHECK_EQ(fc.weights_f32[5], -0.1875f);              // B[1][0] = fc[0][1] = (1 - 4) / 16
  CHECK_EQ(fc.bias_f32.size(), size_t{5});
  for (const char* n : {"conv", "relu", "pool", "gemm", "grelu"}) CHECK(decision(p, n)->accelerator);
  CHECK_EQ(decision(p, "conv")->macs, int64_t{1 * 4 * 6 * 6 * 4 * 9});
  CHECK(decision(p, "conv")->unit.find("Conv (float, relu, maxpool)") != std::string::npos);
  CHECK(decision(p, "add")->reason.find("float Add") != std::string::npos);
  CHECK(!decision(p, "flat")->accelerator);
  // Flatten sits between them: two compiled nodes.
  CHECK_EQ(p.chains.size(), size_t{2});

  // The same graph on the int8 config: every float op stays on the CPU EP with the reason naming the configs.
  Placement q = place(g, Rules{});
  CHECK(q.units.empty());
  for (const char* n : {"conv", "gemm"}) {
    CHECK(decision(q, n)->reason.find("the accelerator config is int8") != std::string::npos);
    CHECK(decision(q, n)->reason.find("fp32") != std::string::npos);
  }
  for (const NodeDecision& d : q.decisions) CHECK(!d.reason.empty());
}

void test_fp32_config_declines(test::Checker& t) {
  GraphModel g = float_net();
  // Gemm with alpha != 1; a conv whose weights are a graph input.
  g.nodes[4].attrs["alpha"] = Attr{};
  g.nodes[4].attrs["alpha"].kind = Attr::Float;
  g.nodes[4].attrs["alpha"].f = 2.0f;
  g.tensors["w"].is_const = false;
  Placement p = place(g, fp32_rules());
  CHECK(p.units.empty());
  CHECK_EQ(decision(p, "gemm")->reason, std::string("Gemm with alpha != 1"));
  CHECK(decision(p, "conv")->reason.find("W is not a constant") != std::string::npos);
  CHECK(decision(p, "relu")->reason.find("fused only right after") != std::string::npos);
  // A quantized unit on the fp32 config.
  GraphModel qg;
  set_act(qg, "x", kInt8, {1, 4, 6, 6});
  qdq_conv(qg, "a_", "x", "y", false, false);
  qg.tensors["y"].graph_output = true;
  qg.link();
  Placement q = place(qg, fp32_rules());
  CHECK(q.units.empty());
  CHECK(decision(q, "a_conv")->reason.find("quantized Conv: the accelerator config is fp32") != std::string::npos);
}

// The compiled chain of the float net's conv unit against a direct conv2d_f32 call, and its Gemm against
// matmul_f32: the same numbers in every mode.
void test_fp32_chain_numerics(test::Checker& t) {
  const GraphModel g = float_net();
  Placement p = place(g, fp32_rules());
  CHECK_EQ(p.units.size(), size_t{2});
  if (p.units.size() != 2) return;
  const Unit conv = p.units[0], fc = p.units[1];
  std::vector<float> x(4 * 36);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i * 37 % 101) - 50) / 25.0f;
  const rcnn::systolic::AcceleratorConfig cfg = rcnn::systolic::AcceleratorConfig::fp32_defaults();
  std::vector<float> first;
  for (int mode = 0; mode < 3; ++mode) {
    EpOptions o = parse_options({{"execution", std::to_string(mode)},
                                 {"config", "dim = 8\nelem = \"fp32\"\ndataflow = \"ws\"\n"}});
    CompiledChain chain("c", {conv}, {"x"}, {"y1"}, o.settings, nullptr, nullptr);
    std::vector<float> out;
    std::vector<int64_t> out_dims;
    chain.run({ChainInput{x.data(), {1, 4, 6, 6}, kFloat}}, [&](size_t, const std::vector<int64_t>& d) -> void* {
      out_dims = d;
      out.resize(static_cast<size_t>(d[0] * d[1] * d[2] * d[3]));
      return out.data();
    });
    CHECK(out_dims == (std::vector<int64_t>{1, 4, 3, 3}));
    rcnn::systolic::ConvF32Args a;
    a.shape.in_h = 6; a.shape.in_w = 6; a.shape.in_ch = 4; a.shape.out_ch = 4;
    a.shape.kernel_h = 3; a.shape.kernel_w = 3;
    a.shape.pad_top = a.shape.pad_left = a.shape.pad_bottom = a.shape.pad_right = 1;
    a.shape.pool = conv.pool;
    std::vector<float> xn(x.size()), wh(4 * 4 * 9), y(4 * 9);
    const std::vector<float> w = g.tensor("w")->values<float>();
    for (int c = 0; c < 4; ++c)
      for (int hw = 0; hw < 36; ++hw) xn[static_cast<size_t>(hw * 4 + c)] = x[static_cast<size_t>(c * 36 + hw)];
    for (int oc = 0; oc < 4; ++oc)
      for (int ic = 0; ic < 4; ++ic)
        for (int k = 0; k < 9; ++k)
          wh[static_cast<size_t>((k * 4 + ic) * 4 + oc)] = w[static_cast<size_t>((oc * 4 + ic) * 9 + k)];
    a.input = xn.data(); a.weights = wh.data(); a.bias = conv.bias_f32.data(); a.relu = true; a.output = y.data();
    rcnn::systolic::conv2d_f32(cfg, rcnn::systolic::Mode::CPU, a);
    bool same = true, positive = false;
    for (int c = 0; c < 4; ++c)
      for (int hw = 0; hw < 9; ++hw) {
        same = same && out[static_cast<size_t>(c * 9 + hw)] == y[static_cast<size_t>(hw * 4 + c)];
        positive = positive || out[static_cast<size_t>(c * 9 + hw)] > 0.0f;
      }
    CHECK(same);
    CHECK(positive);  // not a vacuous all-zero comparison
    if (mode == 0) first = out;
    CHECK(out == first);  // modes agree bit for bit on this size

    // The Gemm unit on the pooled output, flattened.
    CompiledChain head("h", {fc}, {"f"}, {"y2"}, o.settings, nullptr, nullptr);
    std::vector<float> logits(5);
    head.run({ChainInput{out.data(), {1, 36}, kFloat}}, [&](size_t, const std::vector<int64_t>&) -> void* {
      return logits.data();
    });
    std::vector<float> want(5);
    rcnn::systolic::MatmulF32Args m;
    m.I = 1; m.J = 5; m.K = 36;
    m.A = out.data(); m.B = fc.weights_f32.data();
    m.bias_kind = rcnn::systolic::BiasKind::PerColumn;
    m.bias = fc.bias_f32.data();
    m.relu = true;
    m.C = want.data();
    rcnn::systolic::matmul_f32(cfg, rcnn::systolic::Mode::CPU, m);
    CHECK(logits == want);
  }
  // A float unit cannot run on the int8 config (a session has one element type).
  CHECK_THROWS(CompiledChain("c", {conv}, {"x"}, {"y1"}, parse_options({}).settings, nullptr, nullptr),
               "Conv unit on an int8 accelerator config");
}

// QLinearConv with uint8 weights: zero point 128 and weights in [1, 255] fit int8 as w - 128 (taken, exact);
// zero point 100 with weights reaching 255 gives w - zp = 155: declined, naming the zero point and the span.
void test_uint8_weights(test::Checker& t) {
  GraphModel g;
  set_act(g, "x", kUint8, {1, 2, 4, 4});
  set_act(g, "y", kUint8, {1, 2, 4, 4});
  set_const<float>(g, "xs", kFloat, {}, {0.02f});
  set_const<uint8_t>(g, "xz", kUint8, {}, {10});
  std::vector<uint8_t> w(2 * 2 * 1 * 1);
  w = {1, 255, 128, 200};
  set_const<uint8_t>(g, "w", kUint8, {2, 2, 1, 1}, w);
  set_const<float>(g, "ws", kFloat, {}, {0.01f});
  set_const<uint8_t>(g, "wz", kUint8, {}, {128});
  set_const<float>(g, "ys", kFloat, {}, {0.05f});
  set_const<uint8_t>(g, "yz", kUint8, {}, {3});
  g.nodes.push_back(node("conv", "QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, {"y"}));
  g.link();
  g.tensors["y"].graph_output = true;
  Placement p = place(g, Rules{});
  CHECK_EQ(p.units.size(), size_t{1});
  if (p.units.size() == 1) {
    CHECK(p.units[0].weights == (std::vector<int8_t>{-127, 127, 0, 72}));
    CHECK(p.units[0].describe().find("uint8 weights") != std::string::npos);
  }
  set_const<uint8_t>(g, "wz", kUint8, {}, {100});
  Placement q = place(g, Rules{});
  CHECK(q.units.empty());
  CHECK_EQ(decision(q, "conv")->reason,
           std::string("uint8 weights with zero point 100: w - zero point spans [-99, 155], outside int8 (the "
                       "accelerator's weights are int8 with zero point 0)"));
  // Per-channel zero points: channel 1 (w 128, 200 with zp 128) fits, channel 0 (1, 255 with zp 0) does not.
  set_const<uint8_t>(g, "wz", kUint8, {2}, {0, 128});
  Placement r = place(g, Rules{});
  CHECK(r.units.empty());
  CHECK(decision(r, "conv")->reason.find("uint8 weights (channel 0) with zero point 0: w - zero point spans [1, 255]") !=
        std::string::npos);
  set_const<uint8_t>(g, "wz", kUint8, {2}, {128, 128});
  CHECK_EQ(place(g, Rules{}).units.size(), size_t{1});
}

}  // namespace

int main() {
  return test::run_tests("plugin_capability", {{"qdq_chain", test_qdq_chain},
                                               {"declines", test_declines},
                                               {"qlinear_add", test_qlinear_add},
                                               {"no_cycles", test_no_cycles},
                                               {"options", test_options},
                                               {"chain_numerics", test_chain_numerics},
                                               {"fp32_config_claims_float_units", test_fp32_config_claims_float_units},
                                               {"fp32_config_declines", test_fp32_config_declines},
                                               {"fp32_chain_numerics", test_fp32_chain_numerics},
                                               {"uint8_weights", test_uint8_weights}});
}
