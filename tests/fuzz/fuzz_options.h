// The fuzzer's own command line (fuzz_rcnn --help).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fuzz {

struct FuzzOptions {
  std::string target = "all";
  std::optional<uint64_t> cases;        // across all selected targets; default 10000 unless --time-limit
  uint64_t seed = 1;
  std::vector<std::string> corpus_dirs;  // empty: the repository's default seed folders
  std::string regressions_dir;           // empty: tests/fuzz/regressions of the source tree
  std::string crash_dir = "fuzz-crashes";
  double time_limit_seconds = 0;         // 0: none
  unsigned case_timeout_seconds = 20;
  size_t max_size = 256 * 1024;
  std::vector<std::string> run_files;    // --run: only these inputs, unmutated
  bool verbose = false;                  // print each new outcome as it is found
  bool list = false;
  bool help = false;
};

// Throws std::invalid_argument with a one-line message for a bad command line.
FuzzOptions parse_fuzz_options(int argc, const char* const* argv);

std::string fuzz_help_text();

}  // namespace fuzz
