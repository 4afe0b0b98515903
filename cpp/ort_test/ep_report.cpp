#include "ep_report.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "json_reader.h"

namespace ort_test {
namespace {

// `path` by value: GCC 14's -Wdangling-reference flags a returned reference when a temporary std::string is bound
// to a reference parameter, although the result refers into `object` only.
const JsonValue& member(const JsonValue& object, const char* key, JsonValue::Kind kind, std::string_view path) {
  const JsonValue* value = object.find(key);
  if (value == nullptr || value->kind != kind) {
    throw std::runtime_error("no usable '" + std::string(path) + key + "'");
  }
  return *value;
}

uint64_t counter(const JsonValue& object, const char* key, std::string_view path) {
  const std::optional<uint64_t> value = member(object, key, JsonValue::Kind::Number, path).as_uint64();
  if (!value) throw std::runtime_error("'" + std::string(path) + key + "' is not a non-negative integer");
  return *value;
}

// Nodes the EP left on the CPU. Those that carry MACs (a conv or matmul it declined) one by one, since they are what
// a user wants on the accelerator; the rest (reshapes, resizes, ...) one line per reason, as there can be thousands.
void print_cpu_nodes(std::ostream& out, const JsonValue& nodes) {
  struct Group {
    size_t count = 0;
    std::set<std::string> ops;
  };
  std::map<std::string, Group> by_reason;
  std::map<std::string, size_t> no_op;  // op type -> nodes
  size_t no_op_nodes = 0;
  for (const JsonValue& node : nodes.items) {
    const JsonValue* placement = node.find("placement");
    const JsonValue* reason = node.find("reason");
    if (placement == nullptr || placement->text != "cpu" || reason == nullptr) continue;
    const JsonValue* name = node.find("name");
    const JsonValue* op = node.find("op");
    const JsonValue* macs = node.find("macs");
    const std::string op_type = op ? op->text : "?";
    if (macs != nullptr && macs->kind == JsonValue::Kind::Number) {
      out << "  on the CPU: " << (name ? name->text : "?") << " (" << op_type << ", " << macs->text
          << " MACs): " << reason->text << "\n";
      continue;
    }
    if (reason->text == "no accelerator op for " + op_type) {
      ++no_op[op_type];
      ++no_op_nodes;
      continue;
    }
    Group& group = by_reason[reason->text];
    ++group.count;
    group.ops.insert(op_type);
  }
  for (const auto& [reason, group] : by_reason) {
    std::string ops;
    for (const std::string& op : group.ops) ops += (ops.empty() ? "" : ", ") + op;
    out << "  on the CPU: " << group.count << (group.count == 1 ? " node" : " nodes") << " (" << ops
        << "): " << reason << "\n";
  }
  if (no_op_nodes == 0) return;
  std::vector<std::pair<size_t, std::string>> ranked;
  for (const auto& [op, count] : no_op) ranked.emplace_back(count, op);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  out << "  on the CPU: " << no_op_nodes << " nodes of ops the accelerator does not have:";
  for (size_t k = 0; k < ranked.size(); ++k) out << (k ? ", " : " ") << ranked[k].second << " " << ranked[k].first;
  out << "\n";
}

}  // namespace

void print_systolic_ep_report(std::ostream& out, const std::string& json, const std::string& library) {
  try {
    const JsonValue doc = parse_json(json);
    if (doc.kind != JsonValue::Kind::Object) throw std::runtime_error("not a JSON object");
    const JsonValue& config = member(doc, "config", JsonValue::Kind::Object, "");
    const std::string& description = member(config, "description", JsonValue::Kind::String, "config.").text;
    const std::string& mode = member(doc, "mode", JsonValue::Kind::String, "").text;
    const uint64_t threads = counter(doc, "threads", "");
    const std::string& arithmetic = member(doc, "arithmetic", JsonValue::Kind::String, "").text;
    out << "Systolic EP: " << description << "; mode " << mode << ", " << threads
        << (threads == 1 ? " thread" : " threads") << "; arithmetic " << arithmetic << "\n";
    const JsonValue& summary = member(doc, "summary", JsonValue::Kind::Object, "");
    const uint64_t acc = counter(summary, "macs_accelerator", "summary.");
    const uint64_t cpu = counter(summary, "macs_cpu", "summary.");
    const double percent = acc + cpu > 0 ? 100.0 * static_cast<double>(acc) / static_cast<double>(acc + cpu) : 0.0;
    char share[32];
    std::snprintf(share, sizeof share, "%.1f", percent);
    out << "Systolic EP: " << counter(summary, "nodes_on_accelerator", "summary.") << " of "
        << counter(summary, "nodes", "summary.") << " nodes in " << counter(summary, "compiled_nodes", "summary.")
        << " compiled node(s); " << acc << " of " << (acc + cpu) << " MACs on the accelerator (" << share << " %)\n";
    print_cpu_nodes(out, member(doc, "nodes", JsonValue::Kind::Array, ""));
    const JsonValue& total = member(doc, "total", JsonValue::Kind::Object, "");
    out << "Systolic EP: " << counter(total, "calls", "total.") << " accelerator op calls, "
        << counter(total, "macs", "total.") << " MACs, estimated cycles " << counter(total, "cycles", "total.") << " (all runs)\n";
  } catch (const std::exception& e) {
    throw std::runtime_error("EP library '" + library + "' returned an unusable report: " + e.what());
  }
}

}  // namespace ort_test

