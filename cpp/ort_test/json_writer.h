// A minimal streaming JSON writer: objects, arrays, strings, integers, doubles, null. It inserts commas and
// ": " itself and produces one line with a space after each comma, e.g. {"a": [1, 2], "b": null}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ort_test {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // Inside an object, every value is preceded by key().
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(int64_t number);
  JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
  // Shortest text that reads back as the same double; NaN and infinities (not JSON) are written as null.
  JsonWriter& value(double number);
  JsonWriter& null();
  // Inserts `json` as one value, unchanged. The caller guarantees it is a complete, valid JSON value (e.g. parsed
  // with parse_json first).
  JsonWriter& raw_value(std::string_view json);

  // The document; throws std::logic_error if an object or array is still open.
  const std::string& str() const;

 private:
  void before_value();
  void open(char bracket, bool is_object);
  void close(char bracket, bool is_object);

  struct Level {
    bool is_object;
    bool empty = true;
    bool awaiting_value = false;  // key() was written, its value not yet
  };
  std::string out_;
  std::vector<Level> stack_;
};

// `text` as a JSON string literal with quotes. Invalid UTF-8 bytes (possible in Linux paths) become U+FFFD so the
// document always parses.
std::string json_quote(std::string_view text);

}  // namespace ort_test
