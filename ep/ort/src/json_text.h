// JSON string quoting for the statistics and report documents of both ORT bindings (the custom-op library's
// stats_json and the plugin EP's report): one implementation, so both escape alike.
#pragma once

#include <string>

namespace rcnn::ort {

// `text` as a JSON string literal: quotes and backslashes escaped, control characters as \u00XX.
std::string json_quote(const std::string& text);

}  // namespace rcnn::ort
