// A small JSON parser for the document ort_test reads from the Systolic EP (its report). Strict RFC 8259
// syntax, nesting limited to 64 levels; numbers keep their text so integers above 2^53 survive.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ort_test {

struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  std::string text;  // String: the decoded string; Number: the number as written
  std::vector<JsonValue> items;                            // Array
  std::vector<std::pair<std::string, JsonValue>> members;  // Object, in document order

  // Object member by key (first match), or nullptr (also when this is not an object).
  const JsonValue* find(std::string_view key) const;
  // A Number that is a non-negative integer fitting in uint64; nullopt otherwise.
  std::optional<uint64_t> as_uint64() const;
  // A Number as double; nullopt otherwise.
  std::optional<double> as_double() const;
};

// Throws std::runtime_error("invalid JSON at offset N: <reason>") on any syntax error or trailing garbage.
JsonValue parse_json(std::string_view text);

}  // namespace ort_test
