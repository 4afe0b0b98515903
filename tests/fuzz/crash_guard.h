// What happens when a fuzz case does not come back: a sanitizer report, a fatal signal, std::terminate or a case
// running past its time limit. The running case's input is written to a file, one line names the target, seed and
// case, and the process exits 1. Those paths may run inside a signal handler, so they only use async-signal-safe
// calls (open, write, mkdir, _exit) on state prepared in advance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fuzz {

// Installs the handlers. `crash_dir` is created when the first crash is saved. A case running longer than
// `case_timeout_seconds` (0: no limit) counts as a hang.
void install_crash_guard(const std::string& crash_dir, unsigned case_timeout_seconds);

// The case about to run. `label` is a case number or a file name; `target` and `label` must outlive the case,
// and `data` must stay unchanged until case_finished().
void case_started(const char* target, uint64_t seed, const char* label, const uint8_t* data, size_t size);
void case_finished();

// A crash the fuzzer caught itself (an exception of an undocumented type, a broken invariant): the running case's
// input is saved and the failure printed the same way, and the run goes on. Returns the file written.
std::string report_crash(const std::string& what);

}  // namespace fuzz
