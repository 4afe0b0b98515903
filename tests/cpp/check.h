// A tiny test helper (no framework to download): CHECK-style macros record failures in a Checker, and
// run_tests() runs named test functions, catching stray exceptions, and returns the process exit code.
#pragma once

#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

namespace test {

class Checker {
 public:
  void check(bool ok, const char* expr, const char* file, int line) {
    ++checks_;
    if (!ok) fail(std::string("CHECK(") + expr + ")", file, line);
  }

  template <typename A, typename B>
  void check_eq(const A& a, const B& b, const char* ea, const char* eb, const char* file, int line) {
    ++checks_;
    if (!(a == b)) fail(std::string("CHECK_EQ(") + ea + ", " + eb + "): " + show(a) + " != " + show(b), file, line);
  }

  void check_near(double a, double b, double tolerance, const char* ea, const char* eb, const char* file, int line) {
    ++checks_;
    if (!(std::fabs(a - b) <= tolerance)) {
      fail(std::string("CHECK_NEAR(") + ea + ", " + eb + "): " + show(a) + " vs " + show(b), file, line);
    }
  }

  void fail(const std::string& what, const char* file, int line) {
    ++failures_;
    std::fprintf(stderr, "%s:%d: FAILED %s\n", file, line, what.c_str());
  }

  int failures() const { return failures_; }
  int checks() const { return checks_; }

 private:
  template <typename T>
  static std::string show(const T& value) {
    if constexpr (std::is_same_v<T, unsigned char> || std::is_same_v<T, signed char>) {
      return std::to_string(static_cast<int>(value));
    } else {
      std::ostringstream out;
      out.precision(9);
      out << value;
      return out.str();
    }
  }

  int failures_ = 0;
  int checks_ = 0;
};

using TestFunction = std::function<void(Checker&)>;

inline int run_tests(const char* suite, std::initializer_list<std::pair<const char*, TestFunction>> tests) {
  Checker t;
  for (const auto& [name, function] : tests) {
    const int before = t.failures();
    try {
      function(t);
    } catch (const std::exception& e) {
      t.fail(std::string("unexpected exception: ") + e.what(), name, 0);
    }
    std::printf("%s %s.%s\n", t.failures() == before ? "[ ok ]" : "[FAIL]", suite, name);
  }
  std::printf("%s: %d checks, %d failures\n", suite, t.checks(), t.failures());
  return t.failures() == 0 ? 0 : 1;
}

}  // namespace test

#define CHECK(cond) t.check(static_cast<bool>(cond), #cond, __FILE__, __LINE__)
#define CHECK_EQ(a, b) t.check_eq((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_NEAR(a, b, tol) t.check_near((a), (b), (tol), #a, #b, __FILE__, __LINE__)
// Checks that `expr` throws a std::exception whose message contains `substring`.
#define CHECK_THROWS(expr, substring)                                                                    \
  do {                                                                                                   \
    std::string what_ = "nothing thrown";                                                                \
    bool matched_ = false;                                                                               \
    try {                                                                                                \
      (void)(expr);                                                                                      \
    } catch (const std::exception& e_) {                                                                 \
      what_ = std::string("message '") + e_.what() + "'";                                                \
      matched_ = std::string(e_.what()).find(substring) != std::string::npos;                            \
    }                                                                                                    \
    t.check(matched_, (std::string("CHECK_THROWS(" #expr ", \"") + (substring) + "\"): " + what_).c_str(), \
            __FILE__, __LINE__);                                                                         \
  } while (0)
