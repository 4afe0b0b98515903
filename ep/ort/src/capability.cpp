#include "capability.h"

#include <algorithm>
#include <deque>
#include <map>
#include <numeric>
#include <set>

namespace rcnn::ep {

bool is_mac_op(const NodeInfo& n) {
  static const std::set<std::string> ops = {"Conv", "QLinearConv", "ConvInteger", "MatMul", "QLinearMatMul",
                                            "MatMulInteger", "Gemm", "QGemm", "ConvTranspose"};
  return ops.count(n.op) != 0;
}

std::string chain_key(std::vector<std::string> first_outputs) {
  std::sort(first_outputs.begin(), first_outputs.end());
  std::string key;
  for (const std::string& s : first_outputs) key += s + '\n';
  return key;
}

namespace {

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int i) {
    while (parent[static_cast<size_t>(i)] != i) i = parent[static_cast<size_t>(i)] = parent[static_cast<size_t>(parent[static_cast<size_t>(i)])];
    return i;
  }
};

// Would fusing `nodes` into one node create a cycle (a path leaving the set and coming back through other nodes)?
bool leaves_and_returns(const GraphModel& g, const std::vector<bool>& in_set) {
  std::vector<bool> seen(g.nodes.size(), false);
  std::deque<int> frontier;
  auto push_consumers = [&](int n) {
    for (const std::string& out : g.nodes[static_cast<size_t>(n)].outputs) {
      const TensorInfo* t = g.tensor(out);
      if (t == nullptr) continue;
      for (int c : t->consumers) {
        if (seen[static_cast<size_t>(c)]) continue;
        seen[static_cast<size_t>(c)] = true;
        frontier.push_back(c);
      }
    }
  };
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (in_set[i]) {
      for (const std::string& out : g.nodes[i].outputs) {
        const TensorInfo* t = g.tensor(out);
        if (t == nullptr) continue;
        for (int c : t->consumers)
          if (!in_set[static_cast<size_t>(c)] && !seen[static_cast<size_t>(c)]) {
            seen[static_cast<size_t>(c)] = true;
            frontier.push_back(c);
          }
      }
    }
  while (!frontier.empty()) {
    const int n = frontier.front();
    frontier.pop_front();
    if (in_set[static_cast<size_t>(n)]) return true;
    push_consumers(n);
  }
  return false;
}

}  // namespace

Placement place(const GraphModel& g, const Rules& rules) {
  Placement p;
  const std::vector<int> order = g.topological_order();
  std::vector<int> unit_of(g.nodes.size(), -1);
  std::map<int, std::string> reasons;
  for (int idx : order) {
    const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
    if (!is_unit_candidate(n) || unit_of[static_cast<size_t>(idx)] >= 0) continue;
    auto r = recognize(g, idx, rules);
    if (auto* why = std::get_if<std::string>(&r)) {
      reasons[idx] = *why;
      continue;
    }
    Unit& u = std::get<Unit>(r);
    bool overlap = false;
    for (int m : u.nodes) overlap = overlap || unit_of[static_cast<size_t>(m)] >= 0;
    if (overlap) {
      reasons[idx] = "its nodes overlap another accelerator unit";
      continue;
    }
    const int id = static_cast<int>(p.units.size());
    for (int m : u.nodes) unit_of[static_cast<size_t>(m)] = id;
    p.units.push_back(std::move(u));
  }

  // A QuantizeLinear feeding a unit alone joins it (the float tensor then enters the chain and is quantized on the
  // way in), unless another unit already holds it (a QDQ unit's own output Q, say).
  for (size_t ui = 0; ui < p.units.size(); ++ui)
    for (size_t i = 0; i < p.units[ui].inputs.size(); ++i) {
      const int q = input_quantize(g, p.units[ui], i);
      if (q < 0 || unit_of[static_cast<size_t>(q)] >= 0) continue;
      absorb_input_quantize(g, p.units[ui], i, q);
      unit_of[static_cast<size_t>(q)] = static_cast<int>(ui);
    }

  // Group connected units (a unit's output is another's input) unless the fused node would form a cycle.
  UnionFind uf(p.units.size());
  std::map<std::string, int> producer_unit;
  for (size_t i = 0; i < p.units.size(); ++i) producer_unit[p.units[i].output.name] = static_cast<int>(i);
  auto members = [&](int root) {
    std::vector<bool> set(g.nodes.size(), false);
    for (size_t i = 0; i < p.units.size(); ++i)
      if (uf.find(static_cast<int>(i)) == root)
        for (int m : p.units[i].nodes) set[static_cast<size_t>(m)] = true;
    return set;
  };
  for (size_t i = 0; i < p.units.size(); ++i) {
    for (const QTensor& in : p.units[i].inputs) {
      auto it = producer_unit.find(in.name);
      if (it == producer_unit.end()) continue;
      const int a = uf.find(it->second), b = uf.find(static_cast<int>(i));
      if (a == b) continue;
      std::vector<bool> set = members(a);
      const std::vector<bool> other = members(b);
      for (size_t k = 0; k < set.size(); ++k) set[k] = set[k] || other[k];
      if (leaves_and_returns(g, set)) continue;
      uf.parent[static_cast<size_t>(b)] = a;
    }
  }
  std::map<int, int> chain_of_root;
  std::vector<int> node_chain(g.nodes.size(), -1);
  for (int idx : order) {
    const int u = unit_of[static_cast<size_t>(idx)];
    if (u < 0) continue;
    const int root = uf.find(u);
    auto [it, added] = chain_of_root.emplace(root, static_cast<int>(p.chains.size()));
    if (added) p.chains.emplace_back();
    Chain& c = p.chains[static_cast<size_t>(it->second)];
    c.nodes.push_back(idx);
    node_chain[static_cast<size_t>(idx)] = it->second;
    if (p.units[static_cast<size_t>(u)].primary == idx) c.units.push_back(u);
  }
  for (Chain& c : p.chains) {
    std::vector<std::string> outs;
    for (int n : c.nodes) outs.push_back(g.nodes[static_cast<size_t>(n)].outputs.empty() ? "" : g.nodes[static_cast<size_t>(n)].outputs[0]);
    c.key = chain_key(outs);
    // A unit's nodes in topological order put the primary before its output Q; units are ordered by primary.
    std::sort(c.units.begin(), c.units.end(), [&](int a, int b) {
      const auto pa = std::find(order.begin(), order.end(), p.units[static_cast<size_t>(a)].primary);
      const auto pb = std::find(order.begin(), order.end(), p.units[static_cast<size_t>(b)].primary);
      return pa < pb;
    });
  }

  for (int idx : order) {
    const NodeInfo& n = g.nodes[static_cast<size_t>(idx)];
    NodeDecision d;
    d.name = n.name;
    d.op = n.op;
    d.domain = n.domain;
    if (is_mac_op(n)) d.macs = node_macs(g, idx);
    const int u = unit_of[static_cast<size_t>(idx)];
    if (u >= 0) {
      const Unit& unit = p.units[static_cast<size_t>(u)];
      d.accelerator = true;
      d.unit = unit.describe() + " of " + g.nodes[static_cast<size_t>(unit.primary)].label();
      d.chain = node_chain[static_cast<size_t>(idx)];
    } else if (auto it = reasons.find(idx); it != reasons.end()) {
      d.reason = it->second;
    } else if (n.op == "DequantizeLinear" || n.op == "QuantizeLinear") {
      d.reason = "not part of an accelerator node unit (QuantizeLinear/DequantizeLinear run inside units only)";
    } else if (n.op == "Relu" || n.op == "Clip" || n.op == "MaxPool") {
      d.reason = n.op + " is fused only right after an accelerator unit (single consumer, same quantization)";
    } else {
      d.reason = "no accelerator op for " + (n.domain.empty() ? n.op : n.domain + "." + n.op);
    }
    p.decisions.push_back(std::move(d));
  }
  return p;
}

}  // namespace rcnn::ep
