// fuzz_rcnn: deterministic mutation fuzzing of the parsers of untrusted input (tests/fuzz/README.md).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "corpus.h"
#include "crash_guard.h"
#include "fuzz_options.h"
#include "runner.h"
#include "target.h"

#ifndef RCNN_SOURCE_DIR
#error "RCNN_SOURCE_DIR must name the source tree (tests/fuzz/CMakeLists.txt defines it)"
#endif

#if defined(RCNN_FUZZ_SANITIZED)
// Sanitizer defaults of this binary (the environment's ASAN_OPTIONS/UBSAN_OPTIONS still win). An allocation this
// large from a parser fed a few kilobytes is a missing limit, reported like any other crash. GCC links UBSan as a
// runtime of its own, which never calls ASan's death callback: abort_on_error routes its reports through SIGABRT,
// whose handler saves the input (crash_guard.cpp).
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=1024:allocator_may_return_null=0"; }
extern "C" const char* __ubsan_default_options() { return "print_stacktrace=1:abort_on_error=1"; }
#endif

namespace {

namespace fs = std::filesystem;

// Seeds larger than this slow every case down for little gain (the demo model is 43 KB).
constexpr size_t kMaxSeedSize = 64 * 1024;

std::vector<fs::path> default_corpus() {
  const fs::path source(RCNN_SOURCE_DIR);
  return {source / "tests" / "fuzz" / "corpus", source / "tests" / "cpp" / "data", source / "python" / "rcnn" / "data",
          source / "ep" / "systolic"};
}

std::vector<std::unique_ptr<fuzz::Target>> make_targets(const fuzz::Scratch& scratch) {
  std::vector<std::unique_ptr<fuzz::Target>> targets;
  targets.push_back(fuzz::make_model_target(scratch));
  targets.push_back(fuzz::make_tensor_proto_target());
  targets.push_back(fuzz::make_image_target(scratch));
  targets.push_back(fuzz::make_args_target(scratch));
  targets.push_back(fuzz::make_ep_options_target());
  targets.push_back(fuzz::make_systolic_config_target());
  targets.push_back(fuzz::make_json_target());
  targets.push_back(fuzz::make_selftest_target());
  return targets;
}

int run(const fuzz::FuzzOptions& options) {
  const fuzz::Scratch scratch;
  std::vector<std::unique_ptr<fuzz::Target>> all = make_targets(scratch);
  if (options.list) {
    for (const auto& target : all) std::printf("%-16s %s\n", target->name(), target->documented_errors());
    return 0;
  }
  std::vector<fuzz::Target*> selected;
  for (const auto& target : all) {
    if ((options.target == "all" && target->in_all()) || options.target == target->name()) {
      selected.push_back(target.get());
    }
  }
  if (selected.empty()) throw std::invalid_argument("unknown target '" + options.target + "' (see --list)");

  fuzz::install_crash_guard(options.crash_dir, options.case_timeout_seconds);
  if (!options.run_files.empty()) {
    bool ok = true;
    for (const std::string& file : options.run_files) {
      ok = fuzz::run_single(*selected.front(), fuzz::InputFile{file, fuzz::read_whole_file(file)}, options.seed) && ok;
    }
    return ok ? 0 : 1;
  }

  std::vector<fs::path> corpus_dirs(options.corpus_dirs.begin(), options.corpus_dirs.end());
  for (const fs::path& dir : corpus_dirs) {
    if (!fs::is_directory(dir)) throw std::invalid_argument("--corpus: '" + dir.string() + "' is not a folder");
  }
  if (corpus_dirs.empty()) corpus_dirs = default_corpus();
  const std::vector<fuzz::InputFile> corpus = fuzz::read_input_files(corpus_dirs, kMaxSeedSize);
  const fs::path regressions_root = options.regressions_dir.empty()
                                        ? fs::path(RCNN_SOURCE_DIR) / "tests" / "fuzz" / "regressions"
                                        : fs::path(options.regressions_dir);

  const bool unlimited = !options.cases && options.time_limit_seconds > 0;
  const uint64_t total_cases = unlimited ? UINT64_MAX : options.cases.value_or(10000);
  char time_limit[32] = "none";
  if (options.time_limit_seconds > 0) std::snprintf(time_limit, sizeof time_limit, "%g s", options.time_limit_seconds);
  std::printf("fuzz_rcnn: seed %llu, %s cases over %zu target(s), time limit %s, crashes to %s\n",
              static_cast<unsigned long long>(options.seed),
              unlimited ? "unlimited" : std::to_string(total_cases).c_str(), selected.size(), time_limit,
              options.crash_dir.c_str());
  std::fflush(stdout);

  const auto start = std::chrono::steady_clock::now();
  uint64_t cases = 0;
  uint64_t crashes = 0;
  uint64_t planned = 0;
  for (size_t i = 0; i < selected.size(); ++i) {
    fuzz::Target& target = *selected[i];
    std::vector<fuzz::InputFile> seeds;
    for (const fuzz::InputFile& file : corpus) {
      if (target.takes_seed(file.path)) seeds.push_back(file);
    }
    const std::vector<fuzz::InputFile> regressions =
        fuzz::read_input_files({regressions_root / target.name()}, SIZE_MAX);

    fuzz::TargetPlan plan;
    plan.seed = options.seed;
    // The target's place in the full list, not in the selection: `--target X` repeats X's cases of `all`.
    for (size_t k = 0; k < all.size(); ++k) {
      if (all[k].get() == &target) plan.target_index = k;
    }
    const uint64_t left = selected.size() - i;
    plan.cases = unlimited ? UINT64_MAX : (total_cases - planned) / left;
    planned += plan.cases;
    if (options.time_limit_seconds > 0) {
      const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      plan.time_limit_seconds = std::max(0.001, (options.time_limit_seconds - spent) / static_cast<double>(left));
    }
    plan.max_size = options.max_size;
    plan.verbose = options.verbose;

    const fuzz::TargetStats s = fuzz::run_target(target, plan, regressions, seeds);
    const uint64_t ran = s.regressions + s.seeds + s.cases;
    cases += ran;
    crashes += s.crashes;
    std::printf("  %-16s %8llu cases %9.0f cases/s  accepted %llu, refused %llu, crashes %llu  (%llu regressions, "
                "%llu seeds, %zu outcomes, pool %zu, slowest %.1f ms)\n",
                target.name(), static_cast<unsigned long long>(ran), static_cast<double>(ran) / s.seconds,
                static_cast<unsigned long long>(s.accepted), static_cast<unsigned long long>(s.refused),
                static_cast<unsigned long long>(s.crashes), static_cast<unsigned long long>(s.regressions),
                static_cast<unsigned long long>(s.seeds), s.outcomes, s.pool, s.slowest_ms);
    std::fflush(stdout);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fuzz_rcnn: total %llu cases, %llu crashes in %.1f s (%.0f cases/s)\n",
              static_cast<unsigned long long>(cases), static_cast<unsigned long long>(crashes), seconds,
              static_cast<double>(cases) / seconds);
  return crashes == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const fuzz::FuzzOptions options = fuzz::parse_fuzz_options(argc, argv);
    if (options.help) {
      std::fputs(fuzz::fuzz_help_text().c_str(), stdout);
      return 0;
    }
    return run(options);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "fuzz_rcnn: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_rcnn: error: %s\n", e.what());
    return 1;
  }
}
