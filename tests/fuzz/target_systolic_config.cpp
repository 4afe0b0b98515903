// systolic_config: accelerator config text (the TOML subset of ep/systolic/accelerator.toml) -> parse_config_text.
// Documented errors: rcnn::systolic::ConfigError only. An accepted config must validate, list only known keys, and
// read back the same from the canonical text written from it.
#include <algorithm>
#include <set>

#include "systolic/config.h"
#include "target.h"

namespace fuzz {
namespace {

using rcnn::systolic::AcceleratorConfig;

std::string canonical_text(const AcceleratorConfig& c) {
  return "dim = " + std::to_string(c.dim) + "\nsp_banks = " + std::to_string(c.sp_banks) +
         "\nsp_bank_rows = " + std::to_string(c.sp_bank_rows) + "\nacc_rows = " + std::to_string(c.acc_rows) +
         "\ndataflow = \"" + rcnn::systolic::mode_name(c.dataflow) + "\"\nelem = \"" +
         rcnn::systolic::elem_name(c.elem) + "\"\ndma_bytes_per_cycle = " + std::to_string(c.dma_bytes_per_cycle) +
         "\nper_channel_scale = " + (c.per_channel_scale ? "true" : "false") +
         "\nzero_points = " + (c.zero_points ? "true" : "false") + "\n";
}

class SystolicConfigTarget : public Target {
 public:
  const char* name() const override { return "systolic_config"; }
  const char* documented_errors() const override { return "rcnn::systolic::ConfigError"; }
  bool takes_seed(const std::filesystem::path& file) const override { return file.extension() == ".toml"; }

  std::vector<std::string> dictionary() const override {
    return {"dim", "sp_banks", "sp_bank_rows", "acc_rows", "dataflow", "elem", "dma_bytes_per_cycle", "per_channel_scale",
            "zero_points", "false", " = ", "=",
            "\"cpu\"", "\"os\"", "\"ws\"", "\"int8\"", "\"fp32\"", "\n", "\r\n", "#", "[table]", "_", "+", "-", "0",
            "256", "16777216", "9223372036854775807", "9223372036854775808", "\\", "\t", "'", "true", "1.5"};
  }

  Outcome run(const Bytes& input) override {
    const std::string text(input.begin(), input.end());
    std::vector<std::string> keys;
    AcceleratorConfig config;
    try {
      config = rcnn::systolic::parse_config_text(text, "fuzz.toml", &keys);
    } catch (const rcnn::systolic::ConfigError& e) {
      return Outcome{false, message_feature(e.what())};
    }
    try {
      config.validate();
    } catch (const rcnn::systolic::Error& e) {
      throw FuzzFailure{std::string("parse_config_text accepted an invalid config: ") + e.what()};
    }
    const std::vector<std::string>& known = rcnn::systolic::config_keys();
    std::set<std::string> seen;
    for (const std::string& key : keys) {
      if (std::find(known.begin(), known.end(), key) == known.end()) throw FuzzFailure{"unknown key '" + key + "'"};
      if (!seen.insert(key).second) throw FuzzFailure{"key '" + key + "' accepted twice"};
    }
    if (config.describe().empty()) throw FuzzFailure{"empty description"};
    if (rcnn::systolic::parse_config_text(canonical_text(config)) != config) {
      throw FuzzFailure{"the config reads back differently from its canonical text"};
    }
    return Outcome{true, "ok, " + std::to_string(keys.size()) + " keys"};
  }
};

}  // namespace

std::unique_ptr<Target> make_systolic_config_target() { return std::make_unique<SystolicConfigTarget>(); }

}  // namespace fuzz
