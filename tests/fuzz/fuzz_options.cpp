#include "fuzz_options.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace fuzz {
namespace {

uint64_t parse_count(const std::string& flag, const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  if (text.empty() || result.ec != std::errc() || result.ptr != end) {
    throw std::invalid_argument(flag + " expects a non-negative integer, got '" + text + "'");
  }
  return value;
}

double parse_seconds(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value < 0) {
    throw std::invalid_argument(flag + " expects a number of seconds >= 0, got '" + text + "'");
  }
  return value;
}

}  // namespace

FuzzOptions parse_fuzz_options(int argc, const char* const* argv) {
  FuzzOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      options.help = true;
      continue;
    }
    if (flag == "--verbose") {
      options.verbose = true;
      continue;
    }
    if (flag == "--list") {
      options.list = true;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument(flag == "" ? "empty argument" : flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--target") {
      options.target = value;
    } else if (flag == "--cases") {
      options.cases = parse_count(flag, value);
    } else if (flag == "--seed") {
      options.seed = parse_count(flag, value);
    } else if (flag == "--corpus") {
      options.corpus_dirs.push_back(value);
    } else if (flag == "--regressions") {
      options.regressions_dir = value;
    } else if (flag == "--save-crashes") {
      options.crash_dir = value;
    } else if (flag == "--time-limit") {
      options.time_limit_seconds = parse_seconds(flag, value);
    } else if (flag == "--case-timeout") {
      const uint64_t seconds = parse_count(flag, value);
      if (seconds > 3600) throw std::invalid_argument("--case-timeout expects at most 3600 seconds");
      options.case_timeout_seconds = static_cast<unsigned>(seconds);
    } else if (flag == "--max-size") {
      options.max_size = static_cast<size_t>(parse_count(flag, value));
      if (options.max_size == 0) throw std::invalid_argument("--max-size must be positive");
    } else if (flag == "--run") {
      options.run_files.push_back(value);
    } else {
      throw std::invalid_argument("unknown flag '" + flag + "' (see --help)");
    }
  }
  if (!options.run_files.empty() && options.target == "all") {
    throw std::invalid_argument("--run needs --target NAME: the target the files are inputs of");
  }
  return options;
}

std::string fuzz_help_text() {
  return R"(usage: fuzz_rcnn [--target NAME|all] [--cases N] [--seed S] [--corpus DIR ...] [--save-crashes DIR]
                 [--time-limit SECONDS] [--case-timeout SECONDS] [--regressions DIR] [--max-size BYTES]
       fuzz_rcnn --target NAME --run FILE [--run FILE ...]
       fuzz_rcnn --list

Deterministic mutation fuzzing of rcnn's parsers of untrusted input, in-process. Each target must accept its
input or throw its documented exception types; a sanitizer report, signal, std::terminate, hang, exception of
another type or broken invariant is a crash: one line naming target, seed and case, the input saved to
DIR/<target>-seed<S>-<case>, exit status 1 (at the end of the run for caught crashes, at once for fatal ones).

  --target NAME|all     one target (see --list) or all of them (default all)
  --cases N             cases across the selected targets, split evenly (default 10000, or unlimited with
                        --time-limit)
  --seed S              run seed (default 1): the same seed, corpus and binary give the same cases
  --corpus DIR          seed folder (repeatable), searched recursively; a file is a seed of the targets that take
                        its extension (.onnx .pb .png .jpg .bmp .ppm .pgm .argv .options .toml .json). Default:
                        tests/fuzz/corpus, tests/cpp/data, python/rcnn/data and ep/systolic of the source tree
  --regressions DIR     DIR/<target>/* are replayed first, every run (default tests/fuzz/regressions)
  --save-crashes DIR    where crashing inputs go (default ./fuzz-crashes, created on the first crash)
  --time-limit SECONDS  stop after this long (split evenly across the targets); 0 = no limit
  --case-timeout SEC    a case running longer is a hang (default 20)
  --max-size BYTES      mutated inputs never grow beyond this (default 262144)
  --run FILE            run FILE as one input of --target, unmutated, and print the outcome (repeatable)
  --verbose             print every new outcome (a refusal's message, stripped) as it is first seen
  --list                print the targets and their documented exception types
)";
}

}  // namespace fuzz
