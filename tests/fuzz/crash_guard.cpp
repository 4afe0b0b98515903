#include "crash_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <exception>
#include <string>

#if defined(RCNN_FUZZ_SANITIZED) && __has_include(<sanitizer/common_interface_defs.h>)
#include <sanitizer/common_interface_defs.h>
#define RCNN_FUZZ_DEATH_CALLBACK 1
#endif

namespace fuzz {
namespace {

// Text assembled without allocating (malloc is not async-signal-safe); long parts are cut, never overflow.
class SafeText {
 public:
  SafeText& add(const char* text) {
    while (text && *text && size_ + 1 < sizeof buffer_) buffer_[size_++] = *text++;
    buffer_[size_] = '\0';
    return *this;
  }
  SafeText& add(uint64_t value) {
    char digits[24];
    size_t count = 0;
    do {
      digits[count++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    while (count > 0 && size_ + 1 < sizeof buffer_) buffer_[size_++] = digits[--count];
    buffer_[size_] = '\0';
    return *this;
  }
  const char* c_str() const { return buffer_; }
  size_t size() const { return size_; }

 private:
  char buffer_[1024] = {};
  size_t size_ = 0;
};

// The running case, read by the handlers. Atomics (lock-free pointers and integers) so a handler interrupting the
// main thread sees either the old case or the new one, never a torn mix.
std::atomic<const char*> g_target{nullptr};
std::atomic<uint64_t> g_seed{0};
std::atomic<const char*> g_label{nullptr};
std::atomic<const uint8_t*> g_data{nullptr};
std::atomic<size_t> g_size{0};
std::atomic<int> g_dying{0};  // int, not bool: riscv64 has no 1-byte atomic exchange without libatomic
char g_crash_dir[512] = {};
unsigned g_case_timeout = 0;

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written <= 0) return;
    data += written;
    size -= static_cast<size_t>(written);
  }
}

void write_stderr(const char* text) { write_all(STDERR_FILENO, text, std::strlen(text)); }

// Writes the running case's input to <crash dir>/<target>-seed<S>-<label>; the path goes to `path`.
bool save_input(SafeText& path) {
  const char* target = g_target.load();
  const char* label = g_label.load();
  if (!target || !label) return false;
  ::mkdir(g_crash_dir, 0777);  // EEXIST is fine
  path.add(g_crash_dir).add("/").add(target).add("-seed").add(g_seed.load()).add("-");
  // A label may be a file path: keep its last component, so the crash file lands in the crash folder.
  const char* base = std::strrchr(label, '/');
  path.add(base ? base + 1 : label);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  write_all(fd, reinterpret_cast<const char*>(g_data.load()), g_size.load());
  ::close(fd);
  return true;
}

SafeText describe(const char* what, const SafeText& path, bool saved) {
  SafeText line;
  line.add("fuzz_rcnn: CRASH in target ").add(g_target.load()).add(", seed ").add(g_seed.load()).add(", case ");
  line.add(g_label.load()).add(": ").add(what);
  line.add(saved ? "; input saved to " : "; the input could not be saved to ").add(path.c_str()).add("\n");
  return line;
}

// Fatal path: report once, then leave without running destructors or atexit handlers of a broken process.
void die(const char* what) {
  if (g_dying.exchange(1) != 0) return;
  if (!g_target.load()) {
    write_stderr("fuzz_rcnn: crash outside a fuzz case: ");
    write_stderr(what);
    write_stderr("\n");
    return;
  }
  SafeText path;
  const bool saved = save_input(path);
  write_stderr(describe(what, path, saved).c_str());
}

void on_signal(int signal_number) {
  const char* what = signal_number == SIGALRM   ? "hang (the case ran past its time limit)"
                     : signal_number == SIGSEGV ? "SIGSEGV"
                     : signal_number == SIGBUS  ? "SIGBUS"
                     : signal_number == SIGFPE  ? "SIGFPE"
                     : signal_number == SIGILL  ? "SIGILL"
                                                : "SIGABRT (abort, or the UBSan report above)";
  die(what);
  _exit(1);
}

void on_terminate() {
  die("std::terminate (an exception left a noexcept function, or none was active)");
  _exit(1);
}

#ifdef RCNN_FUZZ_DEATH_CALLBACK
// Called by ASan/UBSan after their report; the sanitizer exits the process afterwards.
void on_sanitizer_death() { die("sanitizer report (see above)"); }
#endif

void handle(int signal_number) {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  sigaction(signal_number, &action, nullptr);
}

}  // namespace

void install_crash_guard(const std::string& crash_dir, unsigned case_timeout_seconds) {
  std::strncpy(g_crash_dir, crash_dir.c_str(), sizeof g_crash_dir - 1);
  g_case_timeout = case_timeout_seconds;
  std::set_terminate(on_terminate);
  handle(SIGALRM);
  handle(SIGABRT);
#ifdef RCNN_FUZZ_DEATH_CALLBACK
  // ASan handles SIGSEGV/SIGBUS/SIGFPE itself, with a better report; its death callback saves the input.
  __sanitizer_set_death_callback(on_sanitizer_death);
#else
  handle(SIGSEGV);
  handle(SIGBUS);
  handle(SIGFPE);
  handle(SIGILL);
#endif
}

void case_started(const char* target, uint64_t seed, const char* label, const uint8_t* data, size_t size) {
  g_target.store(target);
  g_seed.store(seed);
  g_label.store(label);
  g_data.store(data);
  g_size.store(size);
  if (g_case_timeout != 0) alarm(g_case_timeout);
}

void case_finished() {
  if (g_case_timeout != 0) alarm(0);
  g_target.store(nullptr);
}

std::string report_crash(const std::string& what) {
  SafeText path;
  const bool saved = save_input(path);
  // Not in a signal handler: the message (an exception's what()) may be longer than SafeText holds.
  const std::string line = std::string("fuzz_rcnn: CRASH in target ") + g_target.load() + ", seed " +
                           std::to_string(g_seed.load()) + ", case " + g_label.load() + ": " + what +
                           (saved ? "; input saved to " : "; the input could not be saved to ") + path.c_str() + "\n";
  write_stderr(line.c_str());
  return path.c_str();
}

}  // namespace fuzz
