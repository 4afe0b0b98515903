// What ort_test hands to ONNX Runtime: the session config entries (its one default, --session-config overrides,
// each key once) and the Systolic EP's provider options from -x, --threads, --dim and the --systolic-config file's
// text, passed verbatim.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "args.h"
#include "check.h"
#include "session_config.h"

using namespace ort_test;

namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

Options parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ort_test");
  return parse_args(static_cast<int>(args.size()), args.data());
}

void defaults(test::Checker& t) {
  CHECK(session_config_entries(parse({"-m", "m"})).empty());
  // Without the EP nothing of ort_test's own goes into the session config, whatever the accelerator flags say.
  CHECK(session_config_entries(parse({"-m", "m", "-x", "2", "--threads", "4", "--dim", "32"})).empty());
}

void no_spinning_when_the_ep_shares_the_cores(test::Checker& t) {
  const Entries two = session_config_entries(parse({"-m", "m", "--threads", "2", "--ep-lib", "ep.so"}));
  CHECK((two == Entries{{"session.intra_op.allow_spinning", "0"}}));
  CHECK(session_config_entries(parse({"-m", "m", "--ep-lib", "ep.so"})).empty());
  // A custom-op library brings no pool ort_test knows of.
  CHECK(session_config_entries(parse({"-m", "m", "--threads", "2", "--custom-op-lib", "l.so"})).empty());
  const Entries user = session_config_entries(parse({"-m", "m", "--threads", "2", "--ep-lib", "ep.so",
                                                     "--session-config", "session.intra_op.allow_spinning=1"}));
  CHECK((user == Entries{{"session.intra_op.allow_spinning", "1"}}));
}

void ep_options_from_the_flags(test::Checker& t) {
  using Map = std::unordered_map<std::string, std::string>;
  const Options o = parse({"-m", "m", "-x", "2", "--threads", "2", "--dim", "8", "--ep-lib", "ep.so",
                           "--session-config", "other=a"});
  CHECK((systolic_ep_options(o) ==
         Map{{"execution", "2"}, {"threads", "2"}, {"dim", "8"}, {"report_id", kSystolicEpReportId}}));
  CHECK((systolic_ep_options(parse({"-m", "m"})) ==
         Map{{"execution", "0"}, {"threads", "1"}, {"report_id", kSystolicEpReportId}}));
  CHECK(o.ep_lib && o.ep_lib->front() == '/');  // made absolute: ORT resolves relative paths against itself
}

void overrides_keep_one_entry_per_key(test::Checker& t) {
  const Entries e = session_config_entries(parse({"-m", "m", "--session-config", "other=a", "--session-config",
                                                  "second=c", "--session-config", "other=b"}));
  CHECK((e == Entries{{"other", "b"}, {"second", "c"}}));
}

void config_file_text(test::Checker& t, const std::string& dir) {
  const std::string path = dir + "/bad_accelerator.toml";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  CHECK(f != nullptr);
  std::string text;
  for (int c; f && (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  if (f) std::fclose(f);
  const auto ep = systolic_ep_options(parse({"-m", "m", "--systolic-config", path.c_str()}));
  CHECK_EQ(ep.size(), size_t{4});
  CHECK_EQ(ep.at("config"), text);  // verbatim: the EP reports errors by line number
  CHECK(!text.empty());
  bool threw = false;
  try {
    systolic_ep_options(parse({"-m", "m", "--systolic-config", (dir + "/missing.toml").c_str()}));
  } catch (const std::runtime_error& error) {
    threw = std::string(error.what()).find("cannot open systolic config '") == 0;
  }
  CHECK(threw);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  return test::run_tests("session_config",
                         {{"defaults", defaults},
                          {"overrides_keep_one_entry_per_key", overrides_keep_one_entry_per_key},
                          {"ep_options_from_the_flags", ep_options_from_the_flags},
                          {"no_spinning_when_the_ep_shares_the_cores", no_spinning_when_the_ep_shares_the_cores},
                          {"config_file_text", [&](test::Checker& t) { config_file_text(t, dir); }}});
}
