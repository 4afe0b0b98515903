// The Systolic EP's report as ort_test prints it (print_systolic_ep_report): the config line, the placement line,
// the nodes left on the CPU (with MACs one by one, the rest grouped by reason, ops without an accelerator op counted
// per type), the counters line, and malformed documents.
#include <sstream>
#include <stdexcept>
#include <string>

#include "check.h"
#include "ep_report.h"

using namespace ort_test;

namespace {

// Shaped like RcnnSystolicEpReport's document (ep/ort/README.md, "Report"), trimmed to what is printed.
std::string document(const std::string& threads = "2", const std::string& total = R"({"calls": 8, "macs": 3000, )"
                                                                                   R"("cycles": 4500})") {
  return R"({"ep": "SystolicExecutionProvider", "execution": 2, "mode": "ws", "threads": )" + threads +
         R"(, "arithmetic": "device process 42", "config": {"description": "int8 16x16 array", "dim": 16, "elem": "int8"}, "nodes": [)"
         R"({"name": "c1", "op": "QLinearConv", "placement": "accelerator", "macs": 1000, "compiled_node": 0},)"
         R"({"name": "c2", "op": "QLinearConv", "placement": "cpu", "macs": 500, "reason": "weights are not a constant"},)"
         R"({"name": "a1", "op": "QLinearAdd", "placement": "cpu", "macs": null, "reason": "broadcasting add"},)"
         R"({"name": "a2", "op": "Add", "placement": "cpu", "macs": null, "reason": "broadcasting add"},)"
         R"({"name": "r1", "op": "Resize", "placement": "cpu", "macs": null, "reason": "no accelerator op for Resize"},)"
         R"({"name": "r2", "op": "Resize", "placement": "cpu", "macs": null, "reason": "no accelerator op for Resize"},)"
         R"({"name": "s1", "op": "Shape", "placement": "cpu", "macs": null, "reason": "no accelerator op for Shape"}],)"
         R"( "summary": {"nodes": 7, "nodes_on_accelerator": 1, "compiled_nodes": 1, "macs_accelerator": 1000,)"
         R"( "macs_cpu": 500}, "runs": 2, "total": )" + total + "}";
}

std::string printed(const std::string& json) {
  std::ostringstream out;
  print_systolic_ep_report(out, json, "ep.so");
  return out.str();
}

bool rejects(const std::string& json, const std::string& substring) {
  try {
    printed(json);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    return what.find("EP library 'ep.so' returned an unusable report: ") == 0 &&
           what.find(substring) != std::string::npos;
  }
  return false;
}

void prints_every_part(test::Checker& t) {
  CHECK_EQ(printed(document()),
           std::string("Systolic EP: int8 16x16 array; mode ws, 2 threads; arithmetic device process 42\n"
                       "Systolic EP: 1 of 7 nodes in 1 compiled node(s); 1000 of 1500 MACs on the accelerator "
                       "(66.7 %)\n"
                       "  on the CPU: c2 (QLinearConv, 500 MACs): weights are not a constant\n"
                       "  on the CPU: 2 nodes (Add, QLinearAdd): broadcasting add\n"
                       "  on the CPU: 3 nodes of ops the accelerator does not have: Resize 2, Shape 1\n"
                       "Systolic EP: 8 accelerator op calls, 3000 MACs, estimated cycles 4500 (all runs)\n"));
}

void one_thread_and_nothing_on_the_cpu(test::Checker& t) {
  const std::string json =
      R"({"mode": "cpu", "threads": 1, "arithmetic": "in-process", "config": {"description": "fp32 8x8"}, "nodes": [], "summary": )"
      R"({"nodes": 0, "nodes_on_accelerator": 0, "compiled_nodes": 0, "macs_accelerator": 0, "macs_cpu": 0},)"
      R"( "total": {"calls": 0, "macs": 0, "cycles": 0}})";
  const std::string text = printed(json);
  CHECK(text.find("Systolic EP: fp32 8x8; mode cpu, 1 thread; arithmetic in-process\n") == 0);
  CHECK(text.find("0 of 0 MACs on the accelerator (0.0 %)\n") != std::string::npos);
  CHECK(text.find("on the CPU") == std::string::npos);
}

void malformed(test::Checker& t) {
  CHECK(rejects("{", "invalid JSON"));
  CHECK(rejects("[]", "not a JSON object"));
  CHECK(rejects("{}", "no usable 'config'"));
  CHECK(rejects(R"({"config": {"description": 1}})", "no usable 'config.description'"));
  CHECK(rejects(document("-1"), "'threads' is not a non-negative integer"));
  CHECK(rejects(document("2", R"({"calls": 1, "macs": 1})"), "no usable 'total.cycles'"));
  std::string no_summary = document();
  no_summary.replace(no_summary.find("\"summary\""), 9, "\"summery\"");
  CHECK(rejects(no_summary, "no usable 'summary'"));
}

}  // namespace

int main() {
  return test::run_tests("ep_report", {{"prints_every_part", prints_every_part},
                                       {"one_thread_and_nothing_on_the_cpu", one_thread_and_nothing_on_the_cpu},
                                       {"malformed", malformed}});
}
