// ep_options: the Systolic EP's provider options -> its option parser, rcnn::ep::parse_options (ep/ort/src/options.cpp
// and accelerator_settings.cpp). The input is NUL-separated KEY=VALUE records (the first record of a key wins, as
// in a map); a .toml seed becomes one config record. Documented errors: std::invalid_argument. Accepted options
// must be usable: the config valid, threads and execution in range, the mode the config's dataflow unless execution
// says otherwise.
#include <map>
#include <stdexcept>

#include "options.h"
#include "target.h"

namespace fuzz {
namespace {

using rcnn::ep::EpOptions;

class EpOptionsTarget : public Target {
 public:
  const char* name() const override { return "ep_options"; }
  const char* documented_errors() const override { return "std::invalid_argument"; }
  bool takes_seed(const std::filesystem::path& file) const override {
    return file.extension() == ".options" || file.extension() == ".toml";
  }
  Bytes seed(const std::filesystem::path& file, Bytes bytes) const override {
    if (file.extension() != ".toml") return bytes;
    const std::string key = std::string(rcnn::ort::kConfigKey) + "=";
    bytes.insert(bytes.begin(), key.begin(), key.end());
    return bytes;
  }

  std::vector<std::string> dictionary() const override {
    return {"execution=", "threads=", "config=", "dim=", "device=", "guest", "host", "report_id=", "report_file=", std::string(1, '\0'),
            "dim = ", "sp_banks = ", "sp_bank_rows = ", "acc_rows = ", "dataflow = ", "elem = ",
            "dma_bytes_per_cycle = ", "per_channel_scale = ", "zero_points = ", "\"cpu\"", "\"os\"", "\"ws\"",
            "\"int8\"", "\"fp32\"", "true", "false", "\n", "#", "_", "+", "-", "256", "1024", "1025", "16777216",
            "9223372036854775807", "-9223372036854775808"};
  }

  Outcome run(const Bytes& input) override {
    std::map<std::string, std::string> options;
    size_t start = 0;
    for (size_t end = 0; end <= input.size(); ++end) {
      if (end < input.size() && input[end] != 0) continue;
      const std::string record(input.begin() + static_cast<std::ptrdiff_t>(start),
                               input.begin() + static_cast<std::ptrdiff_t>(end));
      const size_t equals = record.find('=');
      if (equals != std::string::npos) options.emplace(record.substr(0, equals), record.substr(equals + 1));
      start = end + 1;
    }
    EpOptions parsed;
    try {
      parsed = rcnn::ep::parse_options(options);
    } catch (const std::invalid_argument& e) {
      return Outcome{false, message_feature(e.what())};
    }
    check(parsed, options);
    return Outcome{true, std::string("ok ") + rcnn::systolic::elem_name(parsed.settings.config.elem) + " " +
                             rcnn::systolic::mode_name(parsed.settings.mode)};
  }

 private:
  static void check(const EpOptions& o, const std::map<std::string, std::string>& given) {
    const rcnn::ort::Settings& s = o.settings;
    try {
      s.config.validate();
    } catch (const rcnn::systolic::Error& e) {
      throw FuzzFailure{std::string("parse_options accepted an invalid config: ") + e.what()};
    }
    if (s.threads < 1 || s.threads > rcnn::ort::kMaxThreads) throw FuzzFailure{"threads out of range"};
    if (s.execution < -1 || s.execution > 2) throw FuzzFailure{"execution out of range"};
    if (s.execution == -1 && s.mode != s.config.dataflow) throw FuzzFailure{"mode is not the config's dataflow"};
    const auto report_id = given.find("report_id");
    if ((report_id == given.end() ? std::string() : report_id->second) != o.report_id) {
      throw FuzzFailure{"report_id not taken as given"};
    }
  }
};

}  // namespace

std::unique_ptr<Target> make_ep_options_target() { return std::make_unique<EpOptionsTarget>(); }

}  // namespace fuzz
