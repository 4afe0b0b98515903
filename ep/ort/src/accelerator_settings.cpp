#include "accelerator_settings.h"

#include <charconv>
#include <stdexcept>

namespace rcnn::ort {
namespace {

// Strict decimal integer: optional '-', digits, nothing else (no blanks, no '+', no hex).
std::optional<long long> parse_integer(const std::string& text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  if (text.empty() || result.ec != std::errc() || result.ptr != end) return std::nullopt;
  return value;
}

[[noreturn]] void bad_value(const char* key, const std::string& expectation, const std::string& value) {
  throw std::invalid_argument(std::string(key) + " must be " + expectation + ", got '" + value + "'");
}

}  // namespace

Settings read_settings(const ConfigLookup& lookup) {
  Settings s;
  if (const std::optional<std::string> text = lookup(kConfigKey)) {
    try {
      s.config = systolic::parse_config_text(*text, kConfigKey);  // errors read "config:LINE: ..."
    } catch (const systolic::Error& e) {
      throw std::invalid_argument(e.what());
    }
  }
  if (const std::optional<std::string> text = lookup(kDimKey)) {
    const std::optional<long long> dim = parse_integer(*text);
    if (!dim) bad_value(kDimKey, "an integer", *text);
    try {
      s.config = s.config.with_dim(*dim);  // validates (power of two in 4..256, memories large enough)
    } catch (const systolic::Error& e) {
      throw std::invalid_argument(std::string(kDimKey) + " = " + *text + ": " + e.what());
    }
  }
  s.mode = s.config.dataflow;
  if (const std::optional<std::string> text = lookup(kExecutionKey)) {
    const std::optional<long long> x = parse_integer(*text);
    // The reference wraps any integer ((x - 1) mod 3); a value outside 0..2 is almost surely a mistake here.
    if (!x || *x < 0 || *x > 2) bad_value(kExecutionKey, "0 (CPU), 1 (OS) or 2 (WS)", *text);
    s.execution = static_cast<int>(*x);
    s.mode = systolic::mode_from_runner_flag(*x);
  }
  if (const std::optional<std::string> text = lookup(kThreadsKey)) {
    const std::optional<long long> n = parse_integer(*text);
    if (!n || *n < 1 || *n > kMaxThreads) {
      bad_value(kThreadsKey, "an integer in 1.." + std::to_string(kMaxThreads), *text);
    }
    s.threads = static_cast<int>(*n);
  }
  if (const std::optional<std::string> text = lookup(kDeviceKey)) {
    if (*text != "guest" && *text != "host") bad_value(kDeviceKey, "guest or host", *text);
    s.device_host = *text == "host";
  }
  return s;
}

}  // namespace rcnn::ort
