// settings: systolic.* session config entries -> the custom-op library's read_settings (ep/ort/src/settings.cpp).
// The input is NUL-separated KEY=VALUE records (the first record of a key wins); a .toml seed becomes one
// systolic.config record. Documented errors: std::invalid_argument. Accepted settings must be usable: both configs
// valid, of different element types, threads and execution in range.
#include <stdexcept>

#include "settings.h"
#include "target.h"

namespace fuzz {
namespace {

using rcnn::ort::Settings;

class SettingsTarget : public Target {
 public:
  const char* name() const override { return "settings"; }
  const char* documented_errors() const override { return "std::invalid_argument"; }
  bool takes_seed(const std::filesystem::path& file) const override {
    return file.extension() == ".settings" || file.extension() == ".toml";
  }
  Bytes seed(const std::filesystem::path& file, Bytes bytes) const override {
    if (file.extension() != ".toml") return bytes;
    const std::string key = std::string(rcnn::ort::kConfigKey) + "=";
    bytes.insert(bytes.begin(), key.begin(), key.end());
    return bytes;
  }

  std::vector<std::string> dictionary() const override {
    return {"systolic.execution=", "systolic.threads=", "systolic.config=", "systolic.dim=", std::string(1, '\0'),
            "dim = ", "sp_banks = ", "sp_bank_rows = ", "acc_rows = ", "dataflow = ", "elem = ",
            "dma_bytes_per_cycle = ", "\"cpu\"", "\"os\"", "\"ws\"", "\"int8\"", "\"fp32\"", "\n", "#", "_", "+",
            "-", "256", "1024", "1025", "16777216", "9223372036854775807", "-9223372036854775808"};
  }

  Outcome run(const Bytes& input) override {
    std::vector<std::pair<std::string, std::string>> entries;
    size_t start = 0;
    for (size_t end = 0; end <= input.size(); ++end) {
      if (end < input.size() && input[end] != 0) continue;
      const std::string record(input.begin() + static_cast<std::ptrdiff_t>(start),
                               input.begin() + static_cast<std::ptrdiff_t>(end));
      const size_t equals = record.find('=');
      if (equals != std::string::npos) entries.emplace_back(record.substr(0, equals), record.substr(equals + 1));
      start = end + 1;
    }
    const rcnn::ort::ConfigLookup lookup = [&](const char* key) -> std::optional<std::string> {
      for (const auto& [k, value] : entries) {
        if (k == key) return value;
      }
      return std::nullopt;
    };
    Settings settings;
    try {
      settings = rcnn::ort::read_settings(lookup);
    } catch (const std::invalid_argument& e) {
      return Outcome{false, message_feature(e.what())};
    }
    check(settings);
    return Outcome{true, std::string("ok ") + rcnn::systolic::elem_name(settings.config.elem) + " " +
                             rcnn::systolic::mode_name(settings.mode)};
  }

 private:
  static void check(const Settings& s) {
    try {
      s.config.validate();
      s.fallback.validate();
    } catch (const rcnn::systolic::Error& e) {
      throw FuzzFailure{std::string("read_settings accepted an invalid config: ") + e.what()};
    }
    if (s.fallback.elem == s.config.elem) throw FuzzFailure{"the fallback config has the main config's element type"};
    if (s.threads < 1 || s.threads > rcnn::ort::kMaxThreads) throw FuzzFailure{"threads out of range"};
    if (s.execution < -1 || s.execution > 2) throw FuzzFailure{"execution out of range"};
    if (s.execution == -1 && s.mode != s.config.dataflow) throw FuzzFailure{"mode is not the config's dataflow"};
  }
};

}  // namespace

std::unique_ptr<Target> make_settings_target() { return std::make_unique<SettingsTarget>(); }

}  // namespace fuzz
