#include "stats_json.h"

#include <cstdio>

#include "json_text.h"

namespace rcnn::ort {
namespace {

std::string field(const char* key, const std::string& json_value) { return json_quote(key) + ": " + json_value; }
std::string field(const char* key, uint64_t value) { return field(key, std::to_string(value)); }
std::string field(const char* key, int64_t value) { return field(key, std::to_string(value)); }

// `elem`: the element type of an op's entry (omitted for the total). Keys and order: systolic/counter_fields.def.
std::string counters_json(const systolic::Counters& c, const char* elem = nullptr) {
  std::string out = "{";
  const char* separator = "";
  if (elem != nullptr) {
    out += field("elem", json_quote(elem));
    separator = ", ";
  }
#define RCNN_SYSTOLIC_COUNTER(name, meaning) \
  out += separator + field(#name, c.name);   \
  separator = ", ";
#define RCNN_SYSTOLIC_DERIVED(name, meaning) \
  out += separator + field(#name, c.name()); \
  separator = ", ";
#include "systolic/counter_fields.def"
  return out + "}";
}

std::string config_json(const systolic::AcceleratorConfig& cfg) {
  return "{" + field("description", json_quote(cfg.describe())) + ", " + field("dim", cfg.dim) + ", " +
         field("sp_banks", cfg.sp_banks) + ", " + field("sp_bank_rows", cfg.sp_bank_rows) + ", " +
         field("acc_rows", cfg.acc_rows) + ", " +
         field("dataflow", json_quote(systolic::mode_name(cfg.dataflow))) + ", " +
         field("elem", json_quote(systolic::elem_name(cfg.elem))) + ", " +
         field("dma_bytes_per_cycle", cfg.dma_bytes_per_cycle) + "}";
}

}  // namespace

std::string stats_json(const Registration& reg) {
  const Settings& s = reg.settings();
  std::string ops;
  systolic::Counters total;
  for (size_t k = 0; k < kOpKindCount; ++k) {
    const OpKind kind = static_cast<OpKind>(k);
    const systolic::Counters c = reg.totals(kind);
    total += c;
    ops += (k ? ", " : "") + field(op_kind_name(kind), counters_json(c, systolic::elem_name(op_kind_elem(kind))));
  }
  return "{" + field("library", json_quote("rcnn_systolic_ops")) + ", " + field("registration", reg.id()) + ", " +
         field("config", config_json(s.config)) + ", " + field("fallback_config", config_json(s.fallback)) + ", " +
         field("execution", s.execution < 0 ? std::string("null") : std::to_string(s.execution)) + ", " +
         field("mode", json_quote(systolic::mode_name(s.mode))) + ", " + field("threads", int64_t{s.threads}) + ", " +
         field("ops", "{" + ops + "}") + ", " + field("total", counters_json(total)) + "}";
}

}  // namespace rcnn::ort
