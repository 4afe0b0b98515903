// The custom-op library's settings (ep/ort/src/settings.cpp): systolic.* session config entries -> config, mode,
// threads, and the error messages for bad values. Driven through a plain map instead of ORT session options.
#include <map>
#include <stdexcept>
#include <string>

#include "check.h"
#include "settings.h"

using rcnn::ort::read_settings;
using rcnn::ort::Settings;
using rcnn::systolic::AcceleratorConfig;
using rcnn::systolic::Mode;

namespace {

Settings read(const std::map<std::string, std::string>& entries) {
  return read_settings([&](const char* key) -> std::optional<std::string> {
    const auto it = entries.find(key);
    if (it == entries.end()) return std::nullopt;
    return it->second;
  });
}

// The message must start with `prefix` (the key, so the user knows which entry is wrong).
bool rejects(const std::map<std::string, std::string>& entries, const std::string& prefix) {
  try {
    read(entries);
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).rfind(prefix, 0) == 0) return true;
    std::fprintf(stderr, "unexpected message: %s\n", e.what());
  }
  return false;
}

void defaults(test::Checker& t) {
  const Settings s = read({});
  CHECK(s.config == AcceleratorConfig::int8_defaults());
  CHECK(s.mode == Mode::WS);  // no systolic.execution: the config's dataflow
  CHECK_EQ(s.execution, -1);
  CHECK_EQ(s.threads, 1);
  CHECK(s.fallback == AcceleratorConfig::fp32_defaults());
  CHECK(&s.config_for(rcnn::systolic::ElemType::Int8) == &s.config);
  CHECK(&s.config_for(rcnn::systolic::ElemType::Fp32) == &s.fallback);
}

void fallback_config(test::Checker& t) {
  // An fp32 config: int8 ops fall back to the built-in int8 config; systolic.dim applies to both.
  const Settings s = read({{"systolic.config", "elem = \"fp32\"\ndim = 8\nacc_rows = 4096\n"}, {"systolic.dim", "32"}});
  CHECK(s.config.elem == rcnn::systolic::ElemType::Fp32);
  CHECK_EQ(s.config.dim, int64_t{32});
  CHECK(s.fallback == AcceleratorConfig::int8_defaults().with_dim(32));
  CHECK(&s.config_for(rcnn::systolic::ElemType::Int8) == &s.fallback);
  CHECK(read({{"systolic.dim", "4"}}).fallback == AcceleratorConfig::fp32_defaults().with_dim(4));
}

void execution_modes(test::Checker& t) {
  CHECK(read({{"systolic.execution", "0"}}).mode == Mode::CPU);
  CHECK(read({{"systolic.execution", "1"}}).mode == Mode::OS);
  CHECK(read({{"systolic.execution", "2"}}).mode == Mode::WS);
  CHECK_EQ(read({{"systolic.execution", "2"}}).execution, 2);
  const std::string message = "systolic.execution must be 0 (CPU), 1 (OS) or 2 (WS), got '";
  for (const char* bad : {"3", "-1", "", " 1", "1 ", "1.0", "+1", "0x1", "99999999999999999999"}) {
    CHECK(rejects({{"systolic.execution", bad}}, message + bad + "'"));
  }
}

void config_and_dim(test::Checker& t) {
  const Settings s = read({{"systolic.config", "dim = 8\ndataflow = \"os\"\nacc_rows = 512\n"}});
  CHECK_EQ(s.config.dim, int64_t{8});
  CHECK_EQ(s.config.acc_rows, int64_t{512});
  CHECK_EQ(s.config.sp_banks, int64_t{4});  // keys not in the text keep their defaults
  CHECK(s.mode == Mode::OS);
  // systolic.dim overrides the text's dim; systolic.execution overrides its dataflow.
  const Settings o = read({{"systolic.config", "dim = 8\n"}, {"systolic.dim", "32"}, {"systolic.execution", "0"}});
  CHECK_EQ(o.config.dim, int64_t{32});
  CHECK(o.mode == Mode::CPU);
  CHECK(read({{"systolic.config", "elem = \"fp32\"\ndim = 8\nacc_rows = 4096\n"}}).config.elem ==
        rcnn::systolic::ElemType::Fp32);

  CHECK(rejects({{"systolic.config", "dim = 16\nfoo = 1\n"}}, "systolic.config:2: unknown key 'foo'"));
  CHECK(rejects({{"systolic.config", "[table]\n"}}, "systolic.config:1: "));
  CHECK(rejects({{"systolic.config", "dim = 12\n"}}, "systolic.config"));
  CHECK(rejects({{"systolic.dim", "12"}}, "systolic.dim = 12: "));
  CHECK(rejects({{"systolic.dim", "sixteen"}}, "systolic.dim must be an integer, got 'sixteen'"));
  // A dim too large for the config's memories is caught by the config's own validation.
  CHECK(rejects({{"systolic.config", "acc_rows = 64\n"}, {"systolic.dim", "64"}}, "systolic.dim = 64: "));
}

void threads(test::Checker& t) {
  CHECK_EQ(read({{"systolic.threads", "8"}}).threads, 8);
  CHECK_EQ(read({{"systolic.threads", "1024"}}).threads, 1024);
  for (const char* bad : {"0", "1025", "-2", "two", ""}) {
    CHECK(rejects({{"systolic.threads", bad}}, std::string("systolic.threads must be an integer in 1..1024, got '") +
                                                   bad + "'"));
  }
}

}  // namespace

int main() {
  return test::run_tests("ort_settings", {{"defaults", defaults},
                                          {"fallback_config", fallback_config},
                                          {"execution_modes", execution_modes},
                                          {"config_and_dim", config_and_dim},
                                          {"threads", threads}});
}
