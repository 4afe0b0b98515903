// The session config entries ort_test hands to custom-op libraries: defaults from -x/--threads, the accelerator
// flags, --session-config overrides (each key once), and the config file's text passed verbatim.
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
  CHECK((session_config_entries(parse({"-m", "m"})) ==
         Entries{{"systolic.execution", "0"}, {"systolic.threads", "1"}}));
  CHECK((session_config_entries(parse({"-m", "m", "-x", "2", "--threads", "4", "--dim", "32"})) ==
         Entries{{"systolic.execution", "2"}, {"systolic.threads", "4"}, {"systolic.dim", "32"}}));
}

void no_spinning_when_a_library_shares_the_cores(test::Checker& t) {
  const Entries two = session_config_entries(parse({"-m", "m", "--threads", "2", "--custom-op-lib", "l.so"}));
  CHECK((two == Entries{{"systolic.execution", "0"}, {"systolic.threads", "2"},
                        {"session.intra_op.allow_spinning", "0"}}));
  const Entries one = session_config_entries(parse({"-m", "m", "--custom-op-lib", "l.so"}));
  CHECK_EQ(one.size(), size_t{2});
  const Entries user = session_config_entries(parse({"-m", "m", "--threads", "2", "--custom-op-lib", "l.so",
                                                     "--session-config", "session.intra_op.allow_spinning=1"}));
  CHECK_EQ(user.back().second, std::string("1"));
}

void ep_options_are_the_systolic_entries(test::Checker& t) {
  using Map = std::unordered_map<std::string, std::string>;
  const Options o = parse({"-m", "m", "-x", "2", "--threads", "2", "--dim", "8", "--ep-lib", "ep.so",
                           "--session-config", "systolic.execution=1", "--session-config", "other=a"});
  CHECK((systolic_ep_options(o) ==
         Map{{"execution", "1"}, {"threads", "2"}, {"dim", "8"}, {"report_id", kSystolicEpReportId}}));
  // The EP's kernels share the cores with ORT's intra-op pool as the custom-op library's do.
  CHECK_EQ(session_config_entries(o).back().first, std::string("other"));
  bool spinning_off = false;
  for (const auto& [key, value] : session_config_entries(o)) {
    spinning_off = spinning_off || (key == "session.intra_op.allow_spinning" && value == "0");
  }
  CHECK(spinning_off);
  CHECK(o.ep_lib && o.ep_lib->front() == '/');  // made absolute: ORT resolves relative paths against itself
}

void overrides_keep_one_entry_per_key(test::Checker& t) {
  const Entries e = session_config_entries(parse({"-m", "m", "-x", "1", "--session-config", "systolic.execution=7",
                                                  "--session-config", "other=a", "--session-config", "other=b"}));
  CHECK((e == Entries{{"systolic.execution", "7"}, {"systolic.threads", "1"}, {"other", "b"}}));
}

void config_file_text(test::Checker& t, const std::string& dir) {
  const std::string path = dir + "/bad_accelerator.toml";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  CHECK(f != nullptr);
  std::string text;
  for (int c; f && (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  if (f) std::fclose(f);
  const Entries e = session_config_entries(parse({"-m", "m", "--systolic-config", path.c_str()}));
  CHECK_EQ(e.size(), size_t{3});
  CHECK_EQ(e[2].first, std::string("systolic.config"));
  CHECK_EQ(e[2].second, text);  // verbatim: the library reports errors by line number
  CHECK(!text.empty());

  bool threw = false;
  try {
    session_config_entries(parse({"-m", "m", "--systolic-config", (dir + "/missing.toml").c_str()}));
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
                          {"ep_options_are_the_systolic_entries", ep_options_are_the_systolic_entries},
                          {"no_spinning_when_a_library_shares_the_cores", no_spinning_when_a_library_shares_the_cores},
                          {"config_file_text", [&](test::Checker& t) { config_file_text(t, dir); }}});
}
