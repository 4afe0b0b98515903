// json: text -> parse_json, then print_systolic_ep_report (what ort_test does with the Systolic EP's report).
// Documented errors: std::runtime_error. An accepted document, written back with JsonWriter, must parse again, to
// the same values when its strings are valid UTF-8 (JsonWriter replaces invalid bytes with U+FFFD); the report
// printer may refuse it (std::runtime_error naming the library) but nothing else.
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "ep_report.h"
#include "json_reader.h"
#include "json_writer.h"
#include "target.h"

namespace fuzz {
namespace {

using ort_test::JsonValue;
using ort_test::JsonWriter;

// Strict UTF-8: shortest forms only, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code = lead & 0x1fu;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code = lead & 0x0fu;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code = lead & 0x07u;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3fu);
    }
    const uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (code < smallest || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

// Writes `value` and reports whether every string in it is valid UTF-8. Exercises the accessors on the way.
bool write_value(const JsonValue& value, JsonWriter& out) {
  bool utf8 = true;
  switch (value.kind) {
    case JsonValue::Kind::Null: out.null(); break;
    case JsonValue::Kind::Bool: out.raw_value(value.boolean ? "true" : "false"); break;
    case JsonValue::Kind::Number:
      (void)value.as_uint64();
      (void)value.as_double();
      out.raw_value(value.text);
      break;
    case JsonValue::Kind::String:
      utf8 = valid_utf8(value.text);
      out.value(value.text);
      break;
    case JsonValue::Kind::Array:
      out.begin_array();
      for (const JsonValue& item : value.items) utf8 = write_value(item, out) && utf8;
      out.end_array();
      break;
    case JsonValue::Kind::Object:
      out.begin_object();
      for (const auto& [key, member] : value.members) {
        if (value.find(key) == nullptr) throw FuzzFailure{"find() misses a member"};
        utf8 = valid_utf8(key) && utf8;
        out.key(key);
        utf8 = write_value(member, out) && utf8;
      }
      out.end_object();
      break;
  }
  return utf8;
}

bool same(const JsonValue& a, const JsonValue& b) {
  if (a.kind != b.kind || a.boolean != b.boolean || a.text != b.text || a.items.size() != b.items.size() ||
      a.members.size() != b.members.size()) {
    return false;
  }
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!same(a.items[i], b.items[i])) return false;
  }
  for (size_t i = 0; i < a.members.size(); ++i) {
    if (a.members[i].first != b.members[i].first || !same(a.members[i].second, b.members[i].second)) return false;
  }
  return true;
}

class JsonTarget : public Target {
 public:
  const char* name() const override { return "json"; }
  const char* documented_errors() const override { return "std::runtime_error"; }
  bool takes_seed(const std::filesystem::path& file) const override { return file.extension() == ".json"; }

  std::vector<std::string> dictionary() const override {
    return {"{", "}", "[", "]", ":", ",", "\"", "\\", "\\u", "\\ud83d\\ude00", "\\udc00", "\\ud800", "true", "false",
            "null", "-0", "1e", "1.5e-7", "18446744073709551615", "18446744073709551616", "\"calls\": ",
            "\"summary\": ", "\"nodes\": ", "\"placement\": \"cpu\"", "\"reason\": ", "\"macs\": ", "\"total\": ", "\xc3\xa9",
            "\xed\xa0\x80", "\xff"};
  }

  Outcome run(const Bytes& input) override {
    const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
    JsonValue value;
    try {
      value = ort_test::parse_json(text);
    } catch (const std::runtime_error& e) {
      return Outcome{false, message_feature(e.what())};
    }
    JsonWriter writer;
    const bool utf8 = write_value(value, writer);
    JsonValue reread;
    try {
      reread = ort_test::parse_json(writer.str());
    } catch (const std::runtime_error& e) {
      throw FuzzFailure{std::string("JsonWriter's output of an accepted document does not parse: ") + e.what()};
    }
    if (utf8 && !same(value, reread)) throw FuzzFailure{"the document changed in a parse/write/parse round trip"};
    static constexpr const char* kKinds[] = {"null", "bool", "number", "string", "array", "object"};
    std::ostringstream printed;
    try {
      ort_test::print_systolic_ep_report(printed, std::string(text), "ep.so");
    } catch (const std::runtime_error& e) {
      return Outcome{true, std::string("ok ") + kKinds[static_cast<int>(value.kind)] + ", report: " +
                               message_feature(e.what())};
    }
    return Outcome{true, std::string("ok ") + kKinds[static_cast<int>(value.kind)] + ", report printed"};
  }
};

}  // namespace

std::unique_ptr<Target> make_json_target() { return std::make_unique<JsonTarget>(); }

}  // namespace fuzz
