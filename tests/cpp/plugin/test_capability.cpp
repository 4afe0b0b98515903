// The plugin EP's placement rules on hand-built graphs (no ORT): QDQ and QOperator units, fused max-pool, the
// reasons for declined nodes, chain grouping without cycles, the options, and one compiled chain against a direct
// accelerator-model call.
#include <string>
#include <vector>

#include "capability.h"
#include "check.h"
#include "compiled_chain.h"
#include "options.h"
#include "systolic/conv.h"
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
  CHECK(decision(p, "add")->reason.find("B_scale / C_scale") != std::string::npos);
  set_const<float>(g, "bs", kFloat, {}, {0.06f});
  Placement q = place(g, Rules{});
  CHECK_EQ(q.units.size(), size_t{1});
  CHECK_EQ(q.units[0].inputs[0].zero_point, 0);  // uint8 128 -> int8 0
  CHECK_EQ(q.units[0].inputs[0].elem, int32_t{kUint8});
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

}  // namespace

int main() {
  return test::run_tests("plugin_capability", {{"qdq_chain", test_qdq_chain},
                                               {"declines", test_declines},
                                               {"qlinear_add", test_qlinear_add},
                                               {"no_cycles", test_no_cycles},
                                               {"options", test_options},
                                               {"chain_numerics", test_chain_numerics}});
}
