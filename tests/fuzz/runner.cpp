#include "runner.h"

#include <cxxabi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>
#include <unordered_set>

#include "crash_guard.h"
#include "proto_mutator.h"

namespace fuzz {
namespace {

using Clock = std::chrono::steady_clock;

// Inputs kept for a new outcome: enough variety, few enough that each gets mutated often.
constexpr size_t kMaxPool = 1024;
// Outcomes remembered: beyond this, a long run stops adding to the pool rather than growing without bound.
constexpr size_t kMaxFeatures = size_t{1} << 16;

std::string demangled(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                                   &std::free);
  return status == 0 && name ? name.get() : mangled;
}

// Runs one case under the crash guard. A crash the fuzzer catches itself is reported, and the run goes on.
struct CaseResult {
  bool crashed = false;
  Outcome outcome;
};

CaseResult run_case(Target& target, uint64_t seed, const char* label, const Bytes& input) {
  CaseResult result;
  case_started(target.name(), seed, label, input.data(), input.size());
  std::string crash;
  try {
    result.outcome = target.run(input);
  } catch (const FuzzFailure& failure) {
    crash = "broken invariant: " + failure.message;
  } catch (const std::exception& e) {
    crash = "undocumented exception " + demangled(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    crash = "undocumented exception of a type not derived from std::exception";
  }
  if (!crash.empty()) {
    report_crash(crash);
    result.crashed = true;
  }
  case_finished();
  return result;
}

// The inputs cases start from: the regressions and seeds, which stay, and the inputs that showed a new outcome,
// which replace each other oldest first once the pool is full.
class Pool {
 public:
  void add_seed(const Bytes& input) { seeds_.push_back(input); }
  // Keeps `input` when its outcome is new; returns whether it was.
  bool offer(const Bytes& input, const Outcome& outcome) {
    if (features_.size() >= kMaxFeatures || !features_.insert(feature_hash(outcome)).second) return false;
    if (found_.size() < kMaxPool) {
      found_.push_back(input);
    } else {
      found_[replace_next_++ % kMaxPool] = input;
    }
    return true;
  }
  void note(const Outcome& outcome) {
    if (features_.size() < kMaxFeatures) features_.insert(feature_hash(outcome));
  }
  // Half of the cases start from a seed: echoed junk in refusals can make many outcomes look new, and the seeds keep
  // the structure that reaches deep into a parser.
  const Bytes& pick(Rng& rng) const {
    if (found_.empty() || (!seeds_.empty() && rng.one_in(2))) return seeds_[rng.index(seeds_.size())];
    return found_[rng.index(found_.size())];
  }
  size_t size() const { return seeds_.size() + found_.size(); }
  size_t features() const { return features_.size(); }

 private:
  // Hashes, not the texts: a long run meets many distinct refusals (op types, key names).
  static uint64_t feature_hash(const Outcome& outcome) {
    return fnv1a(reinterpret_cast<const uint8_t*>(outcome.feature.data()), outcome.feature.size());
  }

  std::vector<Bytes> seeds_;
  std::vector<Bytes> found_;
  std::unordered_set<uint64_t> features_;
  size_t replace_next_ = 0;
};

void count(TargetStats& stats, const CaseResult& result) {
  if (result.crashed) {
    ++stats.crashes;
  } else if (result.outcome.accepted) {
    ++stats.accepted;
  } else {
    ++stats.refused;
  }
}

}  // namespace

TargetStats run_target(Target& target, const TargetPlan& plan, const std::vector<InputFile>& regressions,
                       const std::vector<InputFile>& seeds) {
  TargetStats stats;
  const Clock::time_point start = Clock::now();
  Pool pool;
  // Regressions first: a crash fixed once must stay fixed. They seed the pool too.
  for (const InputFile& file : regressions) {
    const std::string label = "regression-" + file.path.filename().string();
    const CaseResult result = run_case(target, plan.seed, label.c_str(), file.bytes);
    count(stats, result);
    ++stats.regressions;
    pool.add_seed(file.bytes);
    pool.note(result.outcome);
  }
  for (const InputFile& file : seeds) {
    const Bytes input = target.seed(file.path, file.bytes);
    const std::string label = "seed-" + file.path.filename().string();
    const CaseResult result = run_case(target, plan.seed, label.c_str(), input);
    count(stats, result);
    ++stats.seeds;
    pool.add_seed(input);
    pool.note(result.outcome);
  }
  if (pool.size() == 0) pool.add_seed(Bytes{});

  const Mutator mutator(target.dictionary(), plan.max_size);
  const bool protobuf = target.protobuf_input();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(plan.time_limit_seconds));
  char label[24];
  for (uint64_t k = 0; k < plan.cases; ++k) {
    if (plan.time_limit_seconds > 0 && k % 16 == 0 && Clock::now() >= deadline) break;
    Rng rng(case_seed(plan.seed, plan.target_index, k));
    Bytes input = pool.pick(rng);
    const Bytes& partner = pool.pick(rng);
    // Protobuf inputs: mostly field-level mutations (framing kept), sometimes raw bytes (framing broken).
    if (!protobuf || rng.one_in(3) || !mutate_protobuf(input, rng, mutator, partner)) {
      mutator.mutate(input, rng, partner);
    }
    if (input.size() > plan.max_size) input.resize(plan.max_size);
    std::snprintf(label, sizeof label, "%llu", static_cast<unsigned long long>(k));
    const Clock::time_point case_start = Clock::now();
    const CaseResult result = run_case(target, plan.seed, label, input);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - case_start).count();
    if (ms > stats.slowest_ms) stats.slowest_ms = ms;
    count(stats, result);
    ++stats.cases;
    if (!result.crashed && pool.offer(input, result.outcome) && plan.verbose) {
      std::printf("    %s case %s, new outcome: %s\n", target.name(), label, result.outcome.feature.c_str());
    }
  }
  stats.outcomes = pool.features();
  stats.pool = pool.size();
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

bool run_single(Target& target, const InputFile& file, uint64_t seed) {
  const std::string label = file.path.string();
  const CaseResult result = run_case(target, seed, label.c_str(), file.bytes);
  if (!result.crashed) {
    std::printf("%s: %s (%s)\n", file.path.string().c_str(), result.outcome.accepted ? "accepted" : "refused",
                result.outcome.feature.c_str());
  }
  return !result.crashed;
}

}  // namespace fuzz
