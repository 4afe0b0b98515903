// Runs one target: its regression inputs, its seeds unmodified, then mutated cases drawn from a pool that starts
// with the seeds and keeps every input that made the target do something new (a new outcome feature).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "corpus.h"
#include "target.h"

namespace fuzz {

struct TargetPlan {
  uint64_t seed = 1;
  uint64_t target_index = 0;  // mixes into the case seeds: two targets never share a case stream
  uint64_t cases = 0;
  double time_limit_seconds = 0;  // 0: none
  size_t max_size = 0;
  bool verbose = false;
};

struct TargetStats {
  uint64_t regressions = 0;
  uint64_t seeds = 0;
  uint64_t cases = 0;  // mutated cases
  uint64_t accepted = 0;
  uint64_t refused = 0;
  uint64_t crashes = 0;
  size_t outcomes = 0;  // distinct outcome features
  size_t pool = 0;
  double seconds = 0;
  double slowest_ms = 0;
};

TargetStats run_target(Target& target, const TargetPlan& plan, const std::vector<InputFile>& regressions,
                       const std::vector<InputFile>& seeds);

// One input, unmutated (--run): prints the outcome; returns false on a crash.
bool run_single(Target& target, const InputFile& file, uint64_t seed);

}  // namespace fuzz
