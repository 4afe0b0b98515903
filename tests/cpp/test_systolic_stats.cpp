// The accelerator statistics ort_test reads from custom-op libraries: parsing (a document shaped like
// librcnn_systolic_ops' RcnnSystolicStats output), the console table, and malformed documents.
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

#include "check.h"
#include "systolic_stats.h"

using namespace ort_test;

namespace {

// A counters object with every key of the counter list (the reader requires them all), in the library's order;
// the ones the console table shows get the given values, the others 0.
std::string counters(int calls, int macs, int tiles, int mvin, int mvout, int cycles) {
  const std::map<std::string, int> shown = {{"calls", calls},      {"macs", macs},        {"tiles", tiles},
                                            {"mvin_bytes", mvin}, {"mvout_bytes", mvout}, {"cycles", cycles}};
  std::string out = "{";
  const auto add = [&](const std::string& key) {
    const auto it = shown.find(key);
    out += (out.size() > 1 ? ", \"" : "\"") + key + "\": " + std::to_string(it == shown.end() ? 0 : it->second);
  };
#define RCNN_SYSTOLIC_COUNTER(name, meaning) add(#name);
#define RCNN_SYSTOLIC_DERIVED(name, meaning) add(#name);
#include "systolic/counter_fields.def"
  return out + "}";
}

std::string document(const std::string& qconv, const std::string& qadd, const std::string& execution = "2") {
  return R"({"library": "rcnn_systolic_ops", "registration": 1, "config": {"description": "int8 16x16 array", )"
         R"("dim": 16}, "execution": )" + execution + R"(, "mode": "ws", "threads": 2, "ops": {"QConv": )" + qconv +
         R"(, "QAdd": )" + qadd + R"(}, "total": )" + counters(7, 1100, 12, 4096, 1024, 500) + "}";
}

bool rejects(const std::string& json, const std::string& substring) {
  try {
    parse_systolic_stats(json, "bad.so");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    return what.find("custom-op library 'bad.so' returned unusable statistics: ") == 0 &&
           what.find(substring) != std::string::npos;
  }
  return false;
}

void parse_and_print(test::Checker& t) {
  const std::string json = document(counters(5, 1000, 10, 3072, 512, 400), counters(2, 100, 2, 1024, 512, 100));
  const SystolicStats s = parse_systolic_stats(json, "lib.so");
  CHECK_EQ(s.json, json);
  CHECK_EQ(s.library, std::string("lib.so"));
  CHECK_EQ(s.description, std::string("int8 16x16 array"));
  CHECK_EQ(s.mode, std::string("ws"));
  CHECK_EQ(*s.execution, int64_t{2});
  CHECK_EQ(s.threads, uint64_t{2});
  CHECK_EQ(s.ops.size(), size_t{2});
  CHECK_EQ(s.ops[0].op, std::string("QConv"));
  CHECK_EQ(s.ops[0].macs, uint64_t{1000});
  CHECK_EQ(s.ops[1].mvin_bytes, uint64_t{1024});
  CHECK_EQ(s.total.cycles, uint64_t{500});

  std::ostringstream out;
  print_systolic_stats(out, s, 3);
  const std::string text = out.str();
  CHECK(text.find("Accelerator: int8 16x16 array; mode ws (-x 2), 2 threads\n") == 0);
  CHECK(text.find("Accelerator counters (lib.so, totals over 3 runs):\n") != std::string::npos);
  CHECK(text.find("  op         calls            MACs     tiles    mvin KiB   mvout KiB    est. cycles\n") !=
        std::string::npos);
  CHECK(text.find("  QConv          5            1000        10         3.0         0.5            400\n") !=
        std::string::npos);
  CHECK(text.find("  QAdd           2             100         2         1.0         0.5            100\n") !=
        std::string::npos);
  CHECK(text.find("  total          7            1100        12         4.0         1.0            500\n") !=
        std::string::npos);
}

void fallback_config_line(test::Checker& t) {
  const std::string fallback = R"({"elem": "fp32", "description": "fp32 8x8 array"})";
  std::string json = document(counters(1, 9, 0, 0, 0, 0), counters(0, 0, 0, 0, 0, 0));
  json.insert(json.find(", \"execution\""), ", \"fallback_config\": " + fallback);
  std::string with_elems = json;
  with_elems.replace(with_elems.find("\"QAdd\": {"), 9, "\"QAdd\": {\"elem\": \"fp32\", ");
  with_elems.replace(with_elems.find("\"QConv\": {"), 10, "\"QConv\": {\"elem\": \"int8\", ");
  const SystolicStats s = parse_systolic_stats(with_elems, "l");
  CHECK_EQ(s.fallback_elem, std::string("fp32"));
  CHECK_EQ(s.ops[0].elem, std::string("int8"));
  CHECK_EQ(s.ops[1].elem, std::string("fp32"));
  std::ostringstream unused;
  print_systolic_stats(unused, s, 1);  // the fp32 op did not run: no fallback line
  CHECK(unused.str().find("Accelerator for") == std::string::npos);

  std::string ran = with_elems;
  ran.replace(ran.find("\"elem\": \"fp32\", \"calls\": 0"), 26, "\"elem\": \"fp32\", \"calls\": 4");
  std::ostringstream used;
  print_systolic_stats(used, parse_systolic_stats(ran, "l"), 1);
  CHECK(used.str().find("2 threads\nAccelerator for fp32 ops: fp32 8x8 array\n") != std::string::npos);
  CHECK(rejects(json.replace(json.find(fallback), fallback.size(), "3"), "no usable 'fallback_config'"));
}

void unused_ops_are_not_listed(test::Checker& t) {
  const SystolicStats one = parse_systolic_stats(document(counters(1, 9, 0, 0, 0, 0), counters(0, 0, 0, 0, 0, 0),
                                                          "null"),
                                                 "l");
  CHECK(!one.execution);
  std::ostringstream out;
  print_systolic_stats(out, one, 1);
  CHECK(out.str().find("mode ws, 2 threads\n") != std::string::npos);
  CHECK(out.str().find("QAdd") == std::string::npos);
  CHECK(out.str().find("  total ") == std::string::npos);  // a single op type needs no total row
  CHECK(out.str().find("totals over 1 run)") != std::string::npos);

  const SystolicStats none = parse_systolic_stats(document(counters(0, 0, 0, 0, 0, 0), counters(0, 0, 0, 0, 0, 0)),
                                                  "l");
  std::ostringstream quiet;
  print_systolic_stats(quiet, none, 1);
  CHECK(quiet.str().find("  no rcnn.systolic op ran\n") != std::string::npos);
}

void malformed(test::Checker& t) {
  CHECK(rejects("{", "invalid JSON"));
  CHECK(rejects("[]", "not a JSON object"));
  CHECK(rejects("{}", "no usable 'config'"));
  CHECK(rejects(R"({"config": {"description": 1}})", "no usable 'config.description'"));
  const std::string good = document(counters(1, 1, 1, 1, 1, 1), counters(1, 1, 1, 1, 1, 1));
  std::string negative = good;
  negative.replace(negative.find("\"calls\": 1"), 10, "\"calls\": -1");
  CHECK(rejects(negative, "'ops.QConv.calls' is not a non-negative integer"));
  std::string no_total = good.substr(0, good.find(", \"total\"")) + "}";
  CHECK(rejects(no_total, "no usable 'total'"));
  // Every counter of the list is required, not only the ones the table prints.
  std::string no_preloads = good;
  no_preloads.erase(no_preloads.find("\"preloads\": 0, "), 15);
  CHECK(rejects(no_preloads, "no usable 'ops.QConv.preloads'"));
}

}  // namespace

int main() {
  return test::run_tests("systolic_stats", {{"parse_and_print", parse_and_print},
                                            {"fallback_config_line", fallback_config_line},
                                            {"unused_ops_are_not_listed", unused_ops_are_not_listed},
                                            {"malformed", malformed}});
}
