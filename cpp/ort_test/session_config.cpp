#include "session_config.h"

#include "file_io.h"

namespace ort_test {
namespace {

// Sets `key`, replacing an earlier value in place (ORT would warn about a duplicate AddConfigEntry).
void set(std::vector<std::pair<std::string, std::string>>& entries, const std::string& key, const std::string& value) {
  for (auto& entry : entries) {
    if (entry.first == key) {
      entry.second = value;
      return;
    }
  }
  entries.emplace_back(key, value);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> session_config_entries(const Options& options) {
  std::vector<std::pair<std::string, std::string>> entries;
  if (options.ep_lib && options.threads > 1) set(entries, kAllowSpinningKey, "0");
  for (const auto& [key, value] : options.session_config) set(entries, key, value);
  return entries;
}

std::unordered_map<std::string, std::string> systolic_ep_options(const Options& options) {
  std::unordered_map<std::string, std::string> ep;
  ep["execution"] = std::to_string(options.execution);
  ep["threads"] = std::to_string(options.threads);
  if (options.systolic_config) {
    check_readable(*options.systolic_config, "systolic config");
    const std::vector<uint8_t> bytes = read_file(*options.systolic_config);
    ep["config"] = std::string(bytes.begin(), bytes.end());  // verbatim: the EP reports errors by line number
  }
  if (options.dim) ep["dim"] = std::to_string(*options.dim);
  if (options.device) ep["device"] = *options.device;
  if (options.adds) ep["adds"] = *options.adds;
  ep["report_id"] = kSystolicEpReportId;
  return ep;
}

}  // namespace ort_test
