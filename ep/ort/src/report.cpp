#include "report.h"

#include <cstdio>
#include <deque>
#include <fstream>

#include <unistd.h>

#include "json_text.h"

namespace rcnn::ep {

using ort::json_quote;

namespace {

std::string counters_json(const systolic::Counters& c) {
  std::string out = "{";
  const char* sep = "";
#define RCNN_SYSTOLIC_COUNTER(name, meaning)                          \
  out += std::string(sep) + "\"" #name "\": " + std::to_string(c.name); \
  sep = ", ";
#define RCNN_SYSTOLIC_DERIVED(name, meaning)                            \
  out += std::string(sep) + "\"" #name "\": " + std::to_string(c.name()); \
  sep = ", ";
#include "systolic/counter_fields.def"
  return out + "}";
}

std::string config_json(const systolic::AcceleratorConfig& cfg) {
  return "{\"description\": " + json_quote(cfg.describe()) + ", \"dim\": " + std::to_string(cfg.dim) +
         ", \"elem\": " + json_quote(systolic::elem_name(cfg.elem)) +
         ", \"dataflow\": " + json_quote(systolic::mode_name(cfg.dataflow)) +
         ", \"per_channel_scale\": " + (cfg.per_channel_scale ? "true" : "false") +
         ", \"zero_points\": " + (cfg.zero_points ? "true" : "false") + "}";
}

std::string macs_value(int64_t m) { return m < 0 ? "null" : std::to_string(m); }

std::mutex g_mu;
std::deque<std::shared_ptr<Report>> g_reports;  // oldest first
std::shared_ptr<Report> g_latest;

}  // namespace

Report::Report(std::string id, const EpOptions& options) : id_(std::move(id)), options_(options) {}

void Report::set_placement(const std::vector<NodeDecision>& decisions, size_t chains) {
  std::lock_guard<std::mutex> lock(mu_);
  decisions_ = decisions;
  chains_ = chains;
}

void Report::add_compiled(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  compiled_ += n;
}

void Report::add(Unit::Kind kind, const systolic::Counters& c) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_[static_cast<size_t>(kind)] += c;
}

void Report::add_run() {
  std::lock_guard<std::mutex> lock(mu_);
  ++runs_;
}

void Report::add_node_run() {
  std::lock_guard<std::mutex> lock(mu_);
  ++node_runs_;
}

void Report::set_arithmetic(std::string where) {
  std::lock_guard<std::mutex> lock(mu_);
  arithmetic_ = std::move(where);
}

std::string Report::json() const {
  std::lock_guard<std::mutex> lock(mu_);
  const ort::Settings& s = options_.settings;
  std::string out = "{\"ep\": " + json_quote(kEpName) + ", \"version\": " + json_quote(kEpVersion) +
                    ", \"report_id\": " + json_quote(id_);
  out += ", \"execution\": " + (s.execution < 0 ? std::string("null") : std::to_string(s.execution));
  out += ", \"mode\": " + json_quote(systolic::mode_name(s.mode)) + ", \"threads\": " + std::to_string(s.threads);
  out += ", \"arithmetic\": " + json_quote(arithmetic_);
  out += ", \"adds\": " + json_quote(options_.adds_on_cpu ? "cpu" : "accelerator");
  out += ", \"config\": " + config_json(s.config);  // the one the EP's units run on (int8 or fp32)
  int64_t acc = 0, cpu = 0;
  size_t unknown = 0, placed_nodes = 0;
  std::string nodes;
  for (const NodeDecision& d : decisions_) {
    if (!nodes.empty()) nodes += ", ";
    nodes += "{\"name\": " + json_quote(d.name) + ", \"op\": " + json_quote(d.op) +
             ", \"domain\": " + json_quote(d.domain) +
             ", \"placement\": " + json_quote(d.accelerator ? "accelerator" : "cpu") +
             ", \"macs\": " + macs_value(d.macs);
    if (d.accelerator) {
      nodes += ", \"unit\": " + json_quote(d.unit) + ", \"compiled_node\": " + std::to_string(d.chain);
      ++placed_nodes;
    } else {
      nodes += ", \"reason\": " + json_quote(d.reason);
    }
    nodes += "}";
    if (d.macs < 0) {
      const bool mac_op = d.op.find("Conv") != std::string::npos || d.op.find("MatMul") != std::string::npos ||
                          d.op == "Gemm";
      if (d.macs == -1 && mac_op) ++unknown;
      continue;
    }
    (d.accelerator ? acc : cpu) += d.macs;
  }
  out += ", \"nodes\": [" + nodes + "]";
  out += ", \"summary\": {\"nodes\": " + std::to_string(decisions_.size()) +
         ", \"nodes_on_accelerator\": " + std::to_string(placed_nodes) +
         ", \"compiled_nodes\": " + std::to_string(chains_) + ", \"macs_accelerator\": " + std::to_string(acc) +
         ", \"macs_cpu\": " + std::to_string(cpu) + ", \"mac_ops_with_unknown_shapes\": " + std::to_string(unknown);
  char frac[32];
  const double fraction = acc + cpu > 0 ? static_cast<double>(acc) / static_cast<double>(acc + cpu) : 0.0;
  std::snprintf(frac, sizeof frac, "%.6f", fraction);
  out += std::string(", \"accelerator_mac_fraction\": ") + frac + "}";
  out += ", \"runs\": " + std::to_string(runs_) + ", \"compiled_node_runs\": " + std::to_string(node_runs_);
  systolic::Counters total;
  std::string ops;
  for (size_t i = 0; i < counters_.size(); ++i) {
    if (!ops.empty()) ops += ", ";
    ops += json_quote(unit_kind_name(static_cast<Unit::Kind>(i))) + ": " + counters_json(counters_[i]);
    total += counters_[i];
  }
  out += ", \"ops\": {" + ops + "}, \"total\": " + counters_json(total) + "}";
  return out;
}

std::shared_ptr<Report> register_report(const std::string& id, const EpOptions& options) {
  auto r = std::make_shared<Report>(id, options);
  std::lock_guard<std::mutex> lock(g_mu);
  if (!id.empty())
    for (auto it = g_reports.begin(); it != g_reports.end(); ++it)
      if ((*it)->id() == id) {
        g_reports.erase(it);
        break;
      }
  g_reports.push_back(r);
  while (g_reports.size() > kMaxReports) g_reports.pop_front();
  g_latest = r;
  return r;
}

std::string report_json(const char* id) {
  std::shared_ptr<Report> r;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (id == nullptr || *id == '\0') {
      r = g_latest;
    } else {
      for (auto it = g_reports.rbegin(); it != g_reports.rend() && !r; ++it)
        if ((*it)->id() == id) r = *it;
    }
  }
  return r ? r->json() : std::string();
}

bool write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(getpid()));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return false;
    f << text << '\n';
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace rcnn::ep
