// selftest: crashes on purpose, one kind per input ("exception", "failure", "terminate", "abort", "segv", "hang",
// and under the sanitizers "asan", "ubsan"), so ctest can check that each is caught, named and saved
// (fuzz.selftest.*). Not part of `--target all`.
#include <chrono>
#include <climits>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include "target.h"

namespace fuzz {
namespace {

void throw_logic_error() { throw std::logic_error("thrown on purpose"); }

// Called through a volatile pointer so that the compiler neither warns about nor proves the throw.
void (*volatile g_thrower)() = throw_logic_error;

void call_without_exceptions() noexcept { g_thrower(); }

class SelftestTarget : public Target {
 public:
  const char* name() const override { return "selftest"; }
  const char* documented_errors() const override { return "none (every kind of input crashes on purpose)"; }
  bool in_all() const override { return false; }
  bool takes_seed(const std::filesystem::path&) const override { return false; }

  Outcome run(const Bytes& input) override {
    const std::string kind(input.begin(), input.end());
    if (kind == "exception") throw_logic_error();
    if (kind == "failure") throw FuzzFailure{"broken on purpose"};
    if (kind == "terminate") call_without_exceptions();
    if (kind == "abort") std::abort();
    if (kind == "segv") {
      volatile int* volatile nowhere = nullptr;
      *nowhere = 1;
    }
    if (kind == "hang") {
      for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
#if defined(RCNN_FUZZ_SANITIZED)
    if (kind == "asan") {
      std::vector<uint8_t> bytes(4);
      volatile size_t past_the_end = bytes.size() + input.size() / 64;
      return Outcome{bytes.data()[past_the_end] == 0, ""};
    }
    if (kind == "ubsan") {
      volatile int large = INT_MAX;
      const int sum = large + static_cast<int>(input.size());  // signed overflow
      return Outcome{sum != 0, ""};
    }
#endif
    return Outcome{true, "no crash for '" + kind + "'"};
  }
};

}  // namespace

std::unique_ptr<Target> make_selftest_target() { return std::make_unique<SelftestTarget>(); }

}  // namespace fuzz
