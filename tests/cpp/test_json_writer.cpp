// JSON writer: layout, escaping, numbers, misuse; and the outputs.json document as a whole.
#include <cmath>
#include <limits>
#include <string>

#include "check.h"
#include "json_writer.h"
#include "output_dir.h"

using namespace ort_test;

namespace {

void nested_layout(test::Checker& t) {
  JsonWriter json;
  json.begin_object();
  json.key("a").begin_array().value(1).value(int64_t{-2}).end_array();
  json.key("b").null();
  json.key("c").begin_object().end_object();
  json.key("d").begin_array().begin_object().key("x").value("y").end_object().end_array();
  json.end_object();
  CHECK_EQ(json.str(), std::string(R"({"a": [1, -2], "b": null, "c": {}, "d": [{"x": "y"}]})"));
}

void string_escapes(test::Checker& t) {
  CHECK_EQ(json_quote("plain"), std::string("\"plain\""));
  CHECK_EQ(json_quote("q\"b\\s/"), std::string(R"("q\"b\\s/")"));
  CHECK_EQ(json_quote("\n\t\r\b\f"), std::string(R"("\n\t\r\b\f")"));
  CHECK_EQ(json_quote(std::string("\x01\x1f", 2)), std::string(R"("\u0001\u001f")"));
  CHECK_EQ(json_quote(std::string("nul\0x", 5)), std::string(R"("nul\u0000x")"));
  CHECK_EQ(json_quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), std::string("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""));
  // Invalid UTF-8: lone continuation, truncated sequence, overlong, surrogate, above U+10FFFF.
  CHECK_EQ(json_quote("a\x80z"), std::string(R"("a\ufffdz")"));
  CHECK_EQ(json_quote("\xe2\x82"), std::string(R"("\ufffd\ufffd")"));
  CHECK_EQ(json_quote("\xc0\xaf"), std::string(R"("\ufffd\ufffd")"));
  CHECK_EQ(json_quote("\xed\xa0\x80"), std::string(R"("\ufffd\ufffd\ufffd")"));
  CHECK_EQ(json_quote("\xf4\x90\x80\x80"), std::string(R"("\ufffd\ufffd\ufffd\ufffd")"));
}

void numbers(test::Checker& t) {
  JsonWriter json;
  json.begin_array();
  json.value(3.4).value(0.1).value(2.0).value(-1e-7).value(1e300);
  json.value(std::numeric_limits<double>::quiet_NaN()).value(std::numeric_limits<double>::infinity());
  json.value(int64_t{INT64_MIN});
  json.end_array();
  CHECK_EQ(json.str(), std::string("[3.4, 0.1, 2, -1e-07, 1e+300, null, null, -9223372036854775808]"));
}

void misuse_is_a_logic_error(test::Checker& t) {
  {
    JsonWriter json;
    json.begin_object();
    CHECK_THROWS(json.value(1), "without a key");
    CHECK_THROWS(json.str(), "unclosed");
  }
  {
    JsonWriter json;
    json.begin_array();
    CHECK_THROWS(json.key("k"), "outside an object");
    CHECK_THROWS(json.end_object(), "unbalanced");
  }
  {
    JsonWriter json;
    json.value(1);
    CHECK_THROWS(json.value(2), "already has a top-level value");
  }
}

void outputs_json_document(test::Checker& t) {
  RunSummary run;
  run.model = "m \"1\".onnx";
  run.ort_version = "1.21.0";
  run.execution = 2;
  run.optimization_level = 1;
  run.threads = 4;
  run.preprocess = parse_preprocess_mode("zoo");
  run.session_create_ms = 1.5;
  run.inference_ms = {4.0, 2.0, 3.0, 10.0};
  BoundInput image;
  image.tensor.name = "x";
  image.tensor.dims = {1, 3, 2, 2};
  image.source = "image:a.png";
  BoundInput file;
  file.tensor.name = "info";
  file.tensor.dtype = DataType::kInt64;
  file.tensor.dims = {3};
  file.source = "file:i.pb";
  Tensor out0;
  out0.name = "boxes";
  out0.dims = {0, 4};
  Tensor out1;
  out1.name = "labels";
  out1.dtype = DataType::kUint8;
  out1.dims = {};
  CHECK_EQ(format_outputs_json(run, {image, file}, {out0, out1}),
           std::string(R"({"model": "m \"1\".onnx", "ort_version": "1.21.0", "execution": 2, )"
                       R"("graph_optimization_level": 1, "threads": 4, "preprocess": "zoo", )"
                       R"("inputs": [{"name": "x", "dtype": "float32", "shape": [1, 3, 2, 2], "source": "image:a.png"}, )"
                       R"({"name": "info", "dtype": "int64", "shape": [3], "source": "file:i.pb"}], )"
                       R"("outputs": [{"name": "boxes", "dtype": "float32", "shape": [0, 4], "file": "output_0.pb"}, )"
                       R"({"name": "labels", "dtype": "uint8", "shape": [], "file": "output_1.pb"}], )"
                       R"("timings_ms": {"session_create": 1.5, "inference": [4, 2, 3, 10], "inference_min": 2, )"
                       R"("inference_median": 3.5}})"
                       "\n"));
  run.preprocess.reset();
  CHECK(format_outputs_json(run, {}, {}).find(R"("preprocess": null, "inputs": [], "outputs": [])") !=
        std::string::npos);
  // The Systolic EP's report goes in last, unchanged.
  run.systolic_ep_json = R"({"mode": "ws", "ops": {}})";
  const std::string with_report = format_outputs_json(run, {}, {});
  CHECK(with_report.find(R"("inference_median": 3.5}, "systolic_ep": {"mode": "ws", "ops": {}}})" "\n") !=
        std::string::npos);
}

void raw_values(test::Checker& t) {
  JsonWriter json;
  json.begin_object().key("a").raw_value("[1, {\"b\": null}]").key("c").value(int64_t{2}).end_object();
  CHECK_EQ(json.str(), std::string(R"({"a": [1, {"b": null}], "c": 2})"));
  JsonWriter array;
  array.begin_array().raw_value("1").raw_value("true").end_array();
  CHECK_EQ(array.str(), std::string("[1, true]"));
}

}  // namespace

int main() {
  return test::run_tests("json_writer", {{"nested_layout", nested_layout},
                                         {"string_escapes", string_escapes},
                                         {"numbers", numbers},
                                         {"misuse_is_a_logic_error", misuse_is_a_logic_error},
                                         {"outputs_json_document", outputs_json_document},
                                         {"raw_values", raw_values}});
}
