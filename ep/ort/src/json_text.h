// JSON string quoting for the EP's report (report.cpp).
#pragma once

#include <string>

namespace rcnn::ort {

// `text` as a JSON string literal: quotes and backslashes escaped, control characters as \u00XX.
std::string json_quote(const std::string& text);

}  // namespace rcnn::ort
