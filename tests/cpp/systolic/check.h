// Tiny assertion helper for the systolic tests (no framework): CHECK / CHECK_EQ record failures and go on,
// CHECK_THROWS checks that an expression throws a given type; main() returns finish().
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace check {

struct State {  // atomic: tests also check from inside ThreadPool tasks
  std::atomic<long> checks{0};
  std::atomic<long> failures{0};
};
inline State& state() {
  static State s;  // test-process state only (the library has none)
  return s;
}

inline void fail(const char* file, int line, const std::string& msg) {
  ++state().failures;
  if (state().failures <= 50) std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, msg.c_str());
}

// Prints int8/uint8 as numbers, everything else as is.
template <class T>
auto printable(const T& v) -> decltype(+v) {
  return +v;
}
inline const std::string& printable(const std::string& v) { return v; }

template <class A, class B>
void check_eq(const A& a, const B& b, const char* sa, const char* sb, const char* file, int line,
              const std::string& ctx) {
  ++state().checks;
  if (!(a == b)) {
    std::ostringstream os;
    os << sa << " == " << sb << " (" << printable(a) << " vs " << printable(b) << ")";
    if (!ctx.empty()) os << " [" << ctx << "]";
    fail(file, line, os.str());
  }
}

inline int finish(const char* name) {
  const State& s = state();
  std::printf("%s: %ld checks, %ld failures\n", name, s.checks.load(), s.failures.load());
  return s.failures == 0 ? 0 : 1;
}

}  // namespace check

#define CHECK(cond)                                                          \
  do {                                                                       \
    ++check::state().checks;                                                 \
    if (!(cond)) check::fail(__FILE__, __LINE__, "CHECK(" #cond ")");        \
  } while (0)
#define CHECK_MSG(cond, msg)                                                                         \
  do {                                                                                               \
    ++check::state().checks;                                                                         \
    if (!(cond)) check::fail(__FILE__, __LINE__, std::string("CHECK(" #cond ") ") + (msg));          \
  } while (0)
#define CHECK_EQ(a, b) check::check_eq((a), (b), #a, #b, __FILE__, __LINE__, std::string())
#define CHECK_EQ_CTX(a, b, ctx) check::check_eq((a), (b), #a, #b, __FILE__, __LINE__, (ctx))
#define CHECK_THROWS(expr, Type)                                                                   \
  do {                                                                                             \
    ++check::state().checks;                                                                       \
    bool thrown_ = false;                                                                          \
    try {                                                                                          \
      (void)(expr);                                                                                \
    } catch (const Type&) {                                                                        \
      thrown_ = true;                                                                              \
    } catch (...) {                                                                                \
    }                                                                                              \
    if (!thrown_) check::fail(__FILE__, __LINE__, "expected " #Type " from " #expr);               \
  } while (0)
