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
  set(entries, kExecutionConfigKey, std::to_string(options.execution));
  set(entries, kThreadsConfigKey, std::to_string(options.threads));
  if (options.systolic_config) {
    check_readable(*options.systolic_config, "systolic config");
    const std::vector<uint8_t> bytes = read_file(*options.systolic_config);
    set(entries, kSystolicConfigKey, std::string(bytes.begin(), bytes.end()));
  }
  if (options.dim) set(entries, kDimConfigKey, std::to_string(*options.dim));
  if (!options.custom_op_libs.empty() && options.threads > 1) set(entries, kAllowSpinningKey, "0");
  for (const auto& [key, value] : options.session_config) set(entries, key, value);
  return entries;
}

}  // namespace ort_test
