// The placement rules: which node units the accelerator takes, how claimed units are grouped into connected chains
// (one compiled node each), and the per-node decisions with reasons for the report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph_model.h"
#include "node_units.h"

namespace rcnn::ep {

struct NodeDecision {
  std::string name, op, domain;
  bool accelerator = false;
  std::string unit;    // the unit the node belongs to, e.g. "QConv 'conv1' (qdq, uint8)"
  std::string reason;  // why it stays on the CPU EP
  int64_t macs = -1;   // Conv/MatMul/Gemm (and QLinear forms) only; -1 unknown or not a MAC op
  int chain = -1;      // index of the compiled node it is fused into
};

struct Chain {
  std::vector<int> units;  // indices into Placement::units, in topological order
  std::vector<int> nodes;  // graph node indices, in topological order
  std::string key;         // chain_key() of the nodes' outputs
};

struct Placement {
  std::vector<Unit> units;
  std::vector<Chain> chains;
  std::vector<NodeDecision> decisions;  // one per graph node, topological order
};

Placement place(const GraphModel& g, const Rules& rules);

// Identifies a fused node's node set across GetCapability and Compile: the sorted first output names of its nodes.
std::string chain_key(std::vector<std::string> first_outputs);

bool is_mac_op(const NodeInfo& n);

}  // namespace rcnn::ep
