// The Systolic EP's option parser (ep/ort/src/options.cpp, accelerator_settings.cpp): provider options -> config,
// mode, threads, report keys, and the error messages for bad values and unknown keys. Driven through a plain map,
// as ORT hands the options to CreateEp.
#include <map>
#include <stdexcept>
#include <string>

#include "check.h"
#include "options.h"

using rcnn::ep::EpOptions;
using rcnn::ep::parse_options;
using rcnn::ort::Settings;
using rcnn::systolic::AcceleratorConfig;
using rcnn::systolic::Mode;

namespace {

Settings read(const std::map<std::string, std::string>& entries) { return parse_options(entries).settings; }

// The message must start with `prefix` (the key, so the user knows which option is wrong).
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
  CHECK(s.mode == Mode::WS);  // no execution option: the config's dataflow
  CHECK_EQ(s.execution, -1);
  CHECK_EQ(s.threads, 1);
  const EpOptions o = parse_options({});
  CHECK(o.report_id.empty() && o.report_file.empty());
}

void fp32_config(test::Checker& t) {
  // The config's element type is the session's (the EP then claims float units); dim applies to it.
  const Settings s = read({{"config", "elem = \"fp32\"\ndim = 8\nacc_rows = 4096\n"}, {"dim", "32"}});
  CHECK(s.config.elem == rcnn::systolic::ElemType::Fp32);
  CHECK_EQ(s.config.dim, int64_t{32});
}

void report_keys_and_unknown_keys(test::Checker& t) {
  const EpOptions o = parse_options({{"report_id", "r7"}, {"report_file", "/tmp/r.json"}});
  CHECK_EQ(o.report_id, std::string("r7"));
  CHECK_EQ(o.report_file, std::string("/tmp/r.json"));
  // The former custom-op library's session config names are not options of the EP.
  CHECK(rejects({{"systolic.execution", "1"}}, "unknown option 'systolic.execution' (known: execution, config, "
                                               "dim, threads, device, adds, report_id, report_file)"));
  CHECK(!o.adds_on_cpu);
  CHECK(parse_options({{"adds", "cpu"}}).adds_on_cpu);
  CHECK(!parse_options({{"adds", "accelerator"}}).adds_on_cpu);
  CHECK(rejects({{"adds", "CPU"}}, "adds must be accelerator or cpu, got 'CPU'"));
  CHECK(rejects({{"exec", "1"}}, "unknown option 'exec'"));
}

void execution_modes(test::Checker& t) {
  CHECK(read({{"execution", "0"}}).mode == Mode::CPU);
  CHECK(read({{"execution", "1"}}).mode == Mode::OS);
  CHECK(read({{"execution", "2"}}).mode == Mode::WS);
  CHECK_EQ(read({{"execution", "2"}}).execution, 2);
  const std::string message = "execution must be 0 (CPU), 1 (OS) or 2 (WS), got '";
  for (const char* bad : {"3", "-1", "", " 1", "1 ", "1.0", "+1", "0x1", "99999999999999999999"}) {
    CHECK(rejects({{"execution", bad}}, message + bad + "'"));
  }
}

void config_and_dim(test::Checker& t) {
  const Settings s = read({{"config", "dim = 8\ndataflow = \"os\"\nacc_rows = 512\n"}});
  CHECK_EQ(s.config.dim, int64_t{8});
  CHECK_EQ(s.config.acc_rows, int64_t{512});
  CHECK_EQ(s.config.sp_banks, int64_t{4});  // keys not in the text keep their defaults
  CHECK(s.mode == Mode::OS);
  // dim overrides the text's dim; execution overrides its dataflow.
  const Settings o = read({{"config", "dim = 8\n"}, {"dim", "32"}, {"execution", "0"}});
  CHECK_EQ(o.config.dim, int64_t{32});
  CHECK(o.mode == Mode::CPU);
  CHECK(read({{"config", "elem = \"fp32\"\ndim = 8\nacc_rows = 4096\n"}}).config.elem ==
        rcnn::systolic::ElemType::Fp32);

  CHECK(rejects({{"config", "dim = 16\nfoo = 1\n"}}, "config:2: unknown key 'foo'"));
  CHECK(rejects({{"config", "[table]\n"}}, "config:1: "));
  CHECK(rejects({{"config", "dim = 12\n"}}, "config"));
  CHECK(rejects({{"dim", "12"}}, "dim = 12: "));
  CHECK(rejects({{"dim", "sixteen"}}, "dim must be an integer, got 'sixteen'"));
  // A dim too large for the config's memories is caught by the config's own validation.
  CHECK(rejects({{"config", "acc_rows = 64\n"}, {"dim", "64"}}, "dim = 64: "));
}

void threads(test::Checker& t) {
  CHECK_EQ(read({{"threads", "8"}}).threads, 8);
  CHECK_EQ(read({{"threads", "1024"}}).threads, 1024);
  for (const char* bad : {"0", "1025", "-2", "two", ""}) {
    CHECK(rejects({{"threads", bad}}, std::string("threads must be an integer in 1..1024, got '") + bad + "'"));
  }
}

void device(test::Checker& t) {
  CHECK(!read({}).device_host);  // in-process unless asked
  CHECK(!read({{"device", "guest"}}).device_host);
  CHECK(read({{"device", "host"}}).device_host);
  for (const char* bad : {"", "Host", "gpu", "1"}) {
    CHECK(rejects({{"device", bad}}, std::string("device must be guest or host, got '") + bad + "'"));
  }
}

}  // namespace

int main() {
  return test::run_tests("ort_settings", {{"defaults", defaults},
                                          {"fp32_config", fp32_config},
                                          {"report_keys_and_unknown_keys", report_keys_and_unknown_keys},
                                          {"execution_modes", execution_modes},
                                          {"config_and_dim", config_and_dim},
                                          {"threads", threads},
                                          {"device", device}});
}
