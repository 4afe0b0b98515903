#include "options.h"

#include <stdexcept>

namespace rcnn::ep {

const char* known_option_keys() noexcept {
  return "execution, config, dim, threads, device, adds, report_id, report_file";
}

EpOptions parse_options(const std::map<std::string, std::string>& options) {
  static const char* const kKeys[] = {"execution", "config", "dim", "threads", "device", "adds", "report_id",
                                        "report_file"};
  for (const auto& [key, value] : options) {
    bool known = false;
    for (const char* k : kKeys) known = known || key == k;
    if (!known) throw std::invalid_argument("unknown option '" + key + "' (known: " + known_option_keys() + ")");
  }
  EpOptions o;
  const ort::ConfigLookup lookup = [&](const char* key) -> std::optional<std::string> {
    auto it = options.find(key);
    if (it == options.end()) return std::nullopt;
    return it->second;
  };
  o.settings = ort::read_settings(lookup);
  if (auto it = options.find("adds"); it != options.end()) {
    if (it->second != "accelerator" && it->second != "cpu")
      throw std::invalid_argument("adds must be accelerator or cpu, got '" + it->second + "'");
    o.adds_on_cpu = it->second == "cpu";
  }
  if (auto it = options.find("report_id"); it != options.end()) o.report_id = it->second;
  if (auto it = options.find("report_file"); it != options.end()) o.report_file = it->second;
  return o;
}

}  // namespace rcnn::ep
