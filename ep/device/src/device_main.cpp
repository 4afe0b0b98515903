// rcnn_device: the native device process, as a launcher around the guest.
//
//   rcnn_device [--window-mb N] [--threads N] [--resident-mb N] [--verbose] -- COMMAND [ARGS...]
//
// Creates the window (/dev/shm/rcnn-device-<pid>-<n>, O_CREAT|O_EXCL, 0600, a sparse file of --window-mb MiB),
// maps it, and unlinks it at once: the guest gets the open file descriptor, not the name, so no file can be left
// behind whatever dies. Then fork+execs COMMAND (typically qemu-riscv64 -L SYSROOT ort_test ...) with
// RCNN_SYSTOLIC_DEVICE=<window fd>,<life fd> in its environment: the window fd and the read end of a "life" pipe
// whose only write end this process holds (POLLHUP tells the guest that the device died). Serves the window until
// the child exits and exits with the child's status (128 + signal when it was killed). SIGINT, SIGTERM and SIGHUP
// are forwarded to the child. A child that never connects simply runs.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "device/protocol.h"
#include "serve_loop.h"
#include "server.h"

namespace {

// Signal handlers may only touch lock-free atomics: the child to forward to, and a signal that came before it existed.
std::atomic<pid_t> g_child{0};
std::atomic<int> g_pending_signal{0};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

void forward_signal(int sig) {
  const pid_t child = g_child.load();
  if (child > 0)
    kill(child, sig);
  else
    g_pending_signal.store(sig);
}

void on_sigchld(int) {}  // only to interrupt the futex wait, so the child's exit is noticed at once

struct Options {
  uint64_t window_mb = kDefaultWindowMb();
  uint64_t resident_mb = 1024;
  unsigned threads = 1;
  bool verbose = false;
  std::vector<char*> command;
  static uint64_t kDefaultWindowMb() { return rcnn::device::kDefaultWindowBytes >> 20; }
};

[[noreturn]] void usage(const std::string& error) {
  std::fprintf(stderr,
               "rcnn_device: %s\nusage: rcnn_device [--window-mb N (256)] [--threads N (1)] [--resident-mb N (1024)] "
               "[--verbose (each command and its time on stderr)] -- COMMAND [ARGS...]\n",
               error.c_str());
  std::exit(2);
}

uint64_t parse_uint(const char* flag, const char* s, uint64_t lo, uint64_t hi) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (!*s || *end || errno || s[0] == '-' || v < lo || v > hi)
    usage(std::string(flag) + " expects an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
          ", got '" + s + "'");
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--") {
      ++i;
      break;
    } else if (a == "--window-mb") {
      o.window_mb = parse_uint("--window-mb", value(), 1, 1 << 20);
    } else if (a == "--resident-mb") {
      o.resident_mb = parse_uint("--resident-mb", value(), 0, 1 << 24);
    } else if (a == "--threads") {
      o.threads = static_cast<unsigned>(parse_uint("--threads", value(), 1, 256));
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "-h" || a == "--help") {
      usage("the device process of the systolic accelerator (see ep/device/README.md)");
    } else {
      usage("unknown option '" + a + "'");
    }
  }
  for (; i < argc; ++i) o.command.push_back(argv[i]);
  if (o.command.empty()) usage("no command after --");
  o.command.push_back(nullptr);
  return o;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "rcnn_device: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

// The window file: created exclusively under a unique name and unlinked before anyone else can know it.
int create_window(uint64_t bytes) {
  for (int n = 0; n < 1000; ++n) {
    const std::string path = "/dev/shm/rcnn-device-" + std::to_string(getpid()) + "-" + std::to_string(n);
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      die("cannot create " + path);
    }
    if (unlink(path.c_str()) != 0) die("cannot unlink " + path);
    if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) die("cannot size the window to " + std::to_string(bytes));
    return fd;
  }
  errno = EEXIST;
  die("no free /dev/shm/rcnn-device-* name");
}

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  const uint64_t bytes = opt.window_mb << 20;

  const int shm_fd = create_window(bytes);
  void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
  if (map == MAP_FAILED) die("cannot map the window");
  auto* window = static_cast<unsigned char*>(map);
  rcnn::device::init_header(window, bytes, static_cast<int32_t>(getpid()));

  int life[2];
  if (pipe2(life, O_CLOEXEC) != 0) die("cannot create the life pipe");
  // The guest's environment, set here rather than between fork and exec (setenv is not async-signal-safe).
  const std::string env = std::to_string(shm_fd) + "," + std::to_string(life[0]);
  if (setenv(rcnn::device::kEnvVar, env.c_str(), 1) != 0) die("setenv");

  struct sigaction sa{};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  struct sigaction sc{};
  sc.sa_handler = on_sigchld;
  sigemptyset(&sc.sa_mask);
  sc.sa_flags = SA_NOCLDSTOP;  // no SA_RESTART: the child's exit interrupts the futex wait
  sigaction(SIGCHLD, &sc, nullptr);

  const pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    // Only these two descriptors cross the exec; the life pipe's write end stays with the device alone.
    if (fcntl(shm_fd, F_SETFD, 0) != 0 || fcntl(life[0], F_SETFD, 0) != 0) _exit(127);
    execvp(opt.command[0], opt.command.data());
    const int err = errno;
    std::fprintf(stderr, "rcnn_device: cannot run '%s': %s\n", opt.command[0], std::strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  g_child.store(child);
  if (const int sig = g_pending_signal.exchange(0)) kill(child, sig);
  close(life[0]);
  unsetenv(rcnn::device::kEnvVar);

  int status = 0;
  bool reaped = false;
  {
    // After the fork: the pool's threads must not exist in the child.
    rcnn::device::ServerLimits limits;
    limits.resident_bytes = opt.resident_mb << 20;
    rcnn::device::Server server(opt.threads, limits);
    const auto log = [](const rcnn::device::Command& c, const rcnn::device::Response& r, double ms) {
      std::fprintf(stderr, "rcnn_device: %s %.3f ms%s%s\n", rcnn::device::command_name(c.kind), ms,
                   r.status ? ": " : "", r.status ? r.message : "");
    };
    const auto should_stop = [&] {
      const pid_t r = waitpid(child, &status, WNOHANG);
      if (r < 0 && errno == ECHILD) status = 1 << 8;  // someone else reaped it: report a failure, not a hang
      reaped = r == child || (r < 0 && errno == ECHILD);
      return reaped;
    };
    rcnn::device::serve(window, bytes, server, should_stop,
                        opt.verbose ? rcnn::device::CommandObserver(log) : rcnn::device::CommandObserver());
    if (opt.verbose)
      std::fprintf(stderr, "rcnn_device: child done; %zu resident buffer(s), %llu bytes\n", server.resident().count(),
                   static_cast<unsigned long long>(server.resident().used_bytes()));
  }
  while (!reaped) {
    const pid_t r = waitpid(child, &status, 0);
    if (r == child) reaped = true;
    else if (r < 0 && errno != EINTR) die("waitpid");
  }
  munmap(map, bytes);
  close(shm_fd);
  close(life[1]);
  return exit_status(status);
}
