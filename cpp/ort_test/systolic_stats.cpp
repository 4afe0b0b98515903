#include "systolic_stats.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>
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

SystolicOpCounters read_counters(const std::string& op, const JsonValue& object, const std::string& path) {
  SystolicOpCounters c;
  c.op = op;
  if (const JsonValue* elem = object.find("elem"); elem != nullptr && elem->kind == JsonValue::Kind::String) {
    c.elem = elem->text;
  }
#define RCNN_SYSTOLIC_COUNTER(name, meaning) c.name = counter(object, #name, path);
#define RCNN_SYSTOLIC_DERIVED(name, meaning) c.name = counter(object, #name, path);
#include "systolic/counter_fields.def"
  return c;
}

std::string kib(uint64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", static_cast<double>(bytes) / 1024.0);
  return buffer;
}

void print_row(std::ostream& out, const SystolicOpCounters& c) {
  char line[160];
  std::snprintf(line, sizeof line, "  %-8s %7llu %15llu %9llu %11s %11s %14llu\n", c.op.c_str(),
                static_cast<unsigned long long>(c.calls), static_cast<unsigned long long>(c.macs),
                static_cast<unsigned long long>(c.tiles), kib(c.mvin_bytes).c_str(), kib(c.mvout_bytes).c_str(),
                static_cast<unsigned long long>(c.cycles));
  out << line;
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

SystolicStats parse_systolic_stats(const std::string& json, const std::string& library) {
  try {
    const JsonValue doc = parse_json(json);
    if (doc.kind != JsonValue::Kind::Object) throw std::runtime_error("not a JSON object");
    SystolicStats stats;
    stats.library = library;
    stats.json = json;
    const JsonValue& config = member(doc, "config", JsonValue::Kind::Object, "");
    stats.description = member(config, "description", JsonValue::Kind::String, "config.").text;
    if (const JsonValue* fallback = doc.find("fallback_config")) {
      if (fallback->kind != JsonValue::Kind::Object) throw std::runtime_error("no usable 'fallback_config'");
      stats.fallback_elem = member(*fallback, "elem", JsonValue::Kind::String, "fallback_config.").text;
      stats.fallback_description =
          member(*fallback, "description", JsonValue::Kind::String, "fallback_config.").text;
    }
    stats.mode = member(doc, "mode", JsonValue::Kind::String, "").text;
    const JsonValue* execution = doc.find("execution");
    if (execution != nullptr && execution->kind == JsonValue::Kind::Number) {
      const std::optional<uint64_t> x = execution->as_uint64();
      if (x) stats.execution = static_cast<int64_t>(*x);
    }
    stats.threads = counter(doc, "threads", "");
    const JsonValue& ops = member(doc, "ops", JsonValue::Kind::Object, "");
    for (const auto& [name, counters] : ops.members) {
      if (counters.kind != JsonValue::Kind::Object) throw std::runtime_error("ops." + name + " is not an object");
      stats.ops.push_back(read_counters(name, counters, "ops." + name + "."));
    }
    stats.total = read_counters("total", member(doc, "total", JsonValue::Kind::Object, ""), "total.");
    return stats;
  } catch (const std::exception& e) {
    throw std::runtime_error("custom-op library '" + library + "' returned unusable statistics: " + e.what());
  }
}

void print_systolic_stats(std::ostream& out, const SystolicStats& stats, int runs) {
  out << "Accelerator: " << stats.description << "; mode " << stats.mode;
  if (stats.execution) out << " (-x " << *stats.execution << ")";
  out << ", " << stats.threads << (stats.threads == 1 ? " thread" : " threads") << "\n";
  bool fallback_used = false;
  for (const SystolicOpCounters& c : stats.ops) {
    fallback_used = fallback_used || (c.calls > 0 && !c.elem.empty() && c.elem == stats.fallback_elem);
  }
  if (fallback_used) out << "Accelerator for " << stats.fallback_elem << " ops: " << stats.fallback_description << "\n";
  out << "Accelerator counters (" << stats.library << ", totals over " << runs << (runs == 1 ? " run" : " runs")
      << "):\n";
  size_t used = 0;
  for (const SystolicOpCounters& c : stats.ops) used += c.calls > 0 ? 1 : 0;
  if (used == 0) {
    out << "  no rcnn.systolic op ran\n";
    return;
  }
  char header[160];
  std::snprintf(header, sizeof header, "  %-8s %7s %15s %9s %11s %11s %14s\n", "op", "calls", "MACs", "tiles",
                "mvin KiB", "mvout KiB", "est. cycles");
  out << header;
  for (const SystolicOpCounters& c : stats.ops) {
    if (c.calls > 0) print_row(out, c);
  }
  if (used > 1) print_row(out, stats.total);
}

void print_systolic_ep_report(std::ostream& out, const std::string& json, const std::string& library) {
  try {
    const JsonValue doc = parse_json(json);
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

