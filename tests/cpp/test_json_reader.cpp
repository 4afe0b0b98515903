// The JSON reader ort_test uses for the Systolic EP's report: values, escapes, big integers, and rejection
// of everything that is not strict JSON.
#include <stdexcept>
#include <string>

#include "check.h"
#include "json_reader.h"
#include "json_writer.h"

using namespace ort_test;

namespace {

bool rejects(const std::string& text, const std::string& substring) {
  try {
    parse_json(text);
  } catch (const std::runtime_error& e) {
    return std::string(e.what()).find(substring) != std::string::npos;
  }
  return false;
}

void values(test::Checker& t) {
  const JsonValue v = parse_json(R"( {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "e": {}} )");
  CHECK(v.kind == JsonValue::Kind::Object);
  CHECK_EQ(v.members.size(), size_t{3});
  const JsonValue* a = v.find("a");
  CHECK(a != nullptr && a->kind == JsonValue::Kind::Array && a->items.size() == 5);
  CHECK_EQ(*a->items[0].as_uint64(), uint64_t{1});
  CHECK(!a->items[1].as_uint64());  // negative and fractional
  CHECK_EQ(*a->items[1].as_double(), -2500.0);
  CHECK(a->items[2].kind == JsonValue::Kind::Bool && a->items[2].boolean);
  CHECK(a->items[3].kind == JsonValue::Kind::Bool && !a->items[3].boolean);
  CHECK(a->items[4].kind == JsonValue::Kind::Null);
  CHECK_EQ(v.find("b")->find("c")->text, std::string("d"));
  CHECK(v.find("e")->members.empty());
  CHECK(v.find("zz") == nullptr);
  CHECK(a->find("x") == nullptr);  // not an object
  // Integers beyond 2^53 keep every digit.
  CHECK_EQ(*parse_json("18446744073709551615").as_uint64(), uint64_t{18446744073709551615ULL});
  CHECK(!parse_json("18446744073709551616").as_uint64());
}

void strings(test::Checker& t) {
  CHECK_EQ(parse_json(R"("a\"b\\c\/d\b\f\n\r\t")").text, std::string("a\"b\\c/d\b\f\n\r\t"));
  CHECK_EQ(parse_json(R"("\u00e9\u20ac\ud83d\ude00")").text, std::string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  // What JsonWriter writes, the reader reads back.
  const std::string odd = std::string("x\x01y\"z\\") + "\xc3\xa9";
  CHECK_EQ(parse_json(json_quote(odd)).text, odd);
}

void syntax_errors(test::Checker& t) {
  CHECK(rejects("", "offset 0: unexpected end"));
  CHECK(rejects("{", "expected a string key"));
  CHECK(rejects("{\"a\" 1}", "expected ':'"));
  CHECK(rejects("[1, 2", "expected ']'"));
  CHECK(rejects("[1,]", "expected a value"));
  CHECK(rejects("{\"a\": 1,}", "expected a string key"));
  CHECK(rejects("01", "unexpected text after the document"));
  CHECK(rejects("1.", "expected digits after '.'"));
  CHECK(rejects("1e", "expected digits in the exponent"));
  CHECK(rejects("nul", "expected a value"));
  CHECK(rejects("\"abc", "unterminated string"));
  CHECK(rejects("\"a\nb\"", "control character"));
  CHECK(rejects("\"\\x\"", "bad escape"));
  CHECK(rejects("\"\\u12g4\"", "bad \\u escape"));
  CHECK(rejects("{} {}", "offset 3: unexpected text"));
  CHECK(rejects(std::string(100, '[') + std::string(100, ']'), "nested too deeply"));
}

}  // namespace

int main() {
  return test::run_tests("json_reader", {{"values", values}, {"strings", strings}, {"syntax_errors", syntax_errors}});
}
