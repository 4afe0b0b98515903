// transport_bench: measures what a "device mode" transport between a riscv64 guest under qemu-user and a native
// host process can use (issue 10). One source, built for the host (x86_64) and for riscv64.
//
//   transport_bench host --guest "qemu-riscv64 -L SYSROOT ./transport_bench.rv64" --test TEST [options]
//   transport_bench host --guest ./transport_bench --test TEST             (native-native baseline)
//
// The host side creates the shared file (/dev/shm, O_CREAT|O_EXCL, unique name), the pipes and eventfds, spawns
// the guest with fork+exec (the fds are inherited; their numbers and the file's path are passed as arguments),
// serves it, and unlinks the file at the end. The guest side ("transport_bench guest ...") is never run by hand.
//
// Tests:
//   atomic      both sides increment shared counters (fetch_add and a CAS loop); lost increments are counted
//   spin        round trips, both sides spin on a shared atomic word (acquire/release)
//   futex       round trips, spin for --spin-us then FUTEX_WAIT (shared futex, not FUTEX_PRIVATE_FLAG)
//   pipe        round trips, the doorbell is one byte through a pipe per direction (data in shared memory)
//   eventfd     round trips, the doorbell is an eventfd per direction
//   bw          bandwidth: guest memcpy into the window, host reads it out; host writes, guest reads
//   host-death  the device process (host side) is SIGKILLed while the guest waits; how the guest notices
//   guest-death the guest is SIGKILLed while the host waits; how the host notices
//
// Options: --n N (round trips, default 10000), --spin-us US (futex spin phase, default 50), --mib LIST
// (bw, default 1,16,64), --guest-thread (the guest starts an idle helper thread first: qemu-user then translates
// code in "parallel" mode, with real atomics and fences), --idle-ms MS (idle-wait CPU measurement, default 1000).
//
// Every round trip carries a payload both ways (written before the doorbell, checked after it), so the round-trip
// tests also check release/acquire visibility across the two processes.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace {

static_assert(std::atomic<uint32_t>::is_always_lock_free, "32-bit atomics must be lock-free");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "64-bit atomics must be lock-free");

#if defined(__x86_64__)
const char* const kArch = "x86_64";
inline void cpu_relax() { __builtin_ia32_pause(); }
#elif defined(__riscv)
const char* const kArch = "riscv64";
inline void cpu_relax() { std::atomic_signal_fence(std::memory_order_seq_cst); }
#else
const char* const kArch = "other";
inline void cpu_relax() { std::atomic_signal_fence(std::memory_order_seq_cst); }
#endif

constexpr uint32_t kMagic = 0x52434e44;  // "RCND"
constexpr size_t kHeaderBytes = 4096;
constexpr int kPayloadWords = 8;

// The shared header: same layout on both ISAs (fixed-width fields, explicit alignment).
struct alignas(64) Shared {
  uint32_t magic;
  int32_t host_pid;                     // the process that serves (the "device")
  int32_t monitor_pid;
  std::atomic<uint32_t> guest_ready;    // guest: 1 once mapped
  std::atomic<uint32_t> guest_done;     // guest: 1 when finished, 2 on failure
  alignas(64) std::atomic<uint32_t> req;   // guest -> host: request sequence number
  alignas(64) std::atomic<uint32_t> resp;  // host -> guest: answered sequence number
  alignas(64) std::atomic<uint64_t> counter_add;  // atomic test
  std::atomic<uint64_t> counter_cas;
  std::atomic<uint32_t> go;
  alignas(64) std::atomic<uint64_t> heartbeat;    // host: incremented every 10 ms (death tests)
  alignas(64) uint64_t req_payload[kPayloadWords];
  alignas(64) uint64_t resp_payload[kPayloadWords];
  alignas(64) uint32_t bw_bytes_mib;    // bw: the size of this exchange
  double host_read_s;                   // bw: host timings, written before answering
  double host_write_s;
  double host_idle_cpu_s;               // CPU the host used while waiting idle for a request
  double host_idle_wall_s;
  uint64_t host_payload_errors;
  double kill_time;                     // host-death: when the monitor killed the device (CLOCK_MONOTONIC)
};
static_assert(sizeof(Shared) <= kHeaderBytes, "header too large");

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
double cpu_s() {  // the whole process: under qemu that is the qemu process, the real cost
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "transport_bench (%s, pid %d): %s: %s\n", kArch, int(getpid()), what, std::strerror(errno));
  std::exit(2);
}

long futex(std::atomic<uint32_t>* word, int op, uint32_t val, const timespec* timeout) {
  // Shared (not FUTEX_PRIVATE_FLAG): the kernel keys the wait on the file page, so two processes match.
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, timeout, nullptr, 0);
}

enum class Bell { Spin, Futex, Pipe, Eventfd };

struct Peer {
  Shared* sh = nullptr;
  uint8_t* data = nullptr;
  size_t data_bytes = 0;
  Bell bell = Bell::Spin;
  double spin_s = 50e-6;
  int fd_in = -1;   // read end of my doorbell (pipe/eventfd)
  int fd_out = -1;  // write end of the peer's doorbell
  int peer_pid = 0;
  uint64_t futex_waits = 0, futex_timeouts = 0, spin_wakes = 0;
};

// Waits until `word` != old. Returns false if `alive()` says the peer is gone.
template <class Alive>
bool wait_change(Peer& p, std::atomic<uint32_t>& word, uint32_t old, Alive alive) {
  switch (p.bell) {
    case Bell::Spin: {
      for (uint64_t i = 1;; ++i) {
        if (word.load(std::memory_order_acquire) != old) return true;
        cpu_relax();
        if ((i & 0xfffff) == 0 && !alive()) return false;
      }
    }
    case Bell::Futex: {
      if (p.spin_s > 0) {
        const double until = now_s() + p.spin_s;
        for (uint32_t i = 1;; ++i) {
          if (word.load(std::memory_order_acquire) != old) { ++p.spin_wakes; return true; }
          cpu_relax();
          if ((i & 63) == 0 && now_s() > until) break;
        }
      }
      for (;;) {
        if (word.load(std::memory_order_acquire) != old) return true;
        const timespec to{0, 100 * 1000 * 1000};  // bounded: a dead peer must not hang us
        ++p.futex_waits;
        if (futex(&word, FUTEX_WAIT, old, &to) != 0) {
          if (errno == ETIMEDOUT) {
            ++p.futex_timeouts;
            if (!alive()) return false;
          } else if (errno != EAGAIN && errno != EINTR) {
            die("futex wait");
          }
        }
      }
    }
    case Bell::Pipe:
    case Bell::Eventfd: {
      for (;;) {
        if (word.load(std::memory_order_acquire) != old) return true;
        pollfd pf{p.fd_in, POLLIN, 0};
        const int r = poll(&pf, 1, 100);
        if (r < 0 && errno != EINTR) die("poll");
        if (r > 0 && (pf.revents & POLLIN)) {
          uint64_t buf = 0;
          const ssize_t n = read(p.fd_in, &buf, p.bell == Bell::Pipe ? 1 : 8);
          if (n == 0) return false;  // EOF: the peer closed its end (died)
          if (n < 0 && errno != EINTR && errno != EAGAIN) die("read doorbell");
        } else if (r > 0 && (pf.revents & (POLLHUP | POLLERR))) {
          return word.load(std::memory_order_acquire) != old;
        } else if (r == 0 && !alive()) {
          return false;
        }
      }
    }
  }
  return false;
}

void notify(Peer& p, std::atomic<uint32_t>& word, uint32_t value) {
  word.store(value, std::memory_order_release);
  switch (p.bell) {
    case Bell::Spin: break;
    case Bell::Futex:
      if (futex(&word, FUTEX_WAKE, 1, nullptr) < 0) die("futex wake");
      break;
    case Bell::Pipe: {
      const char c = 1;
      while (write(p.fd_out, &c, 1) < 0) if (errno != EINTR) die("write pipe doorbell");
      break;
    }
    case Bell::Eventfd: {
      const uint64_t one = 1;
      while (write(p.fd_out, &one, 8) < 0) if (errno != EINTR) die("write eventfd doorbell");
      break;
    }
  }
}

Bell bell_of(const std::string& test) {
  if (test == "futex" || test == "host-death" || test == "guest-death") return Bell::Futex;
  if (test == "pipe") return Bell::Pipe;
  if (test == "eventfd") return Bell::Eventfd;
  return Bell::Spin;
}

struct Args {
  std::string role, test = "spin", shm, guest_cmd;
  int n = 10000;
  double spin_us = 50;
  std::vector<int> mib{1, 16, 64};
  bool guest_thread = false;
  int idle_ms = 1000;
  int fd_g2h = -1, fd_h2g = -1;  // guest: write end of host's bell / read end of its own
  int fd_life = -1;              // guest: read end of a pipe only the host writes (EOF = host gone)
  int host_pid = 0;
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s host --guest CMD --test TEST [--n N] [--spin-us US] [--mib 1,16,64] "
                         "[--guest-thread] [--idle-ms MS]\n", argv[0]);
    std::exit(2);
  }
  a.role = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", k.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (k == "--test") a.test = val();
    else if (k == "--shm") a.shm = val();
    else if (k == "--guest") a.guest_cmd = val();
    else if (k == "--n") a.n = std::stoi(val());
    else if (k == "--spin-us") a.spin_us = std::stod(val());
    else if (k == "--idle-ms") a.idle_ms = std::stoi(val());
    else if (k == "--guest-thread") a.guest_thread = true;
    else if (k == "--fd-g2h") a.fd_g2h = std::stoi(val());
    else if (k == "--fd-h2g") a.fd_h2g = std::stoi(val());
    else if (k == "--fd-life") a.fd_life = std::stoi(val());
    else if (k == "--host-pid") a.host_pid = std::stoi(val());
    else if (k == "--mib") {
      a.mib.clear();
      std::string s = val();
      for (size_t pos = 0; pos < s.size();) {
        size_t c = s.find(',', pos);
        if (c == std::string::npos) c = s.size();
        a.mib.push_back(std::stoi(s.substr(pos, c - pos)));
        pos = c + 1;
      }
    } else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); std::exit(2); }
  }
  return a;
}

size_t window_bytes(const Args& a) {
  if (a.test != "bw") return 4096;
  return size_t(*std::max_element(a.mib.begin(), a.mib.end())) << 20;
}

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = size_t(q * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

bool pid_alive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// ============================================================================================== guest side
volatile sig_atomic_t g_pdeath = 0;
void on_pdeath(int) { g_pdeath = 1; }

int guest_main(const Args& a) {
  std::thread helper;
  std::atomic<bool> stop_helper{false};
  if (a.guest_thread) {  // idle thread: under qemu-user, the first clone(CLONE_VM) switches TCG to parallel mode
    helper = std::thread([&] { while (!stop_helper.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5)); });
  }
  const int fd = open(a.shm.c_str(), O_RDWR);
  if (fd < 0) die("open shm");
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat shm");
  void* m = mmap(nullptr, size_t(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) die("mmap shm");
  close(fd);
  Peer p;
  p.sh = static_cast<Shared*>(m);
  p.data = static_cast<uint8_t*>(m) + kHeaderBytes;
  p.data_bytes = size_t(st.st_size) - kHeaderBytes;
  p.bell = bell_of(a.test);
  p.spin_s = a.spin_us * 1e-6;
  p.fd_in = a.fd_h2g;
  p.fd_out = a.fd_g2h;
  p.peer_pid = a.host_pid;
  Shared& sh = *p.sh;
  if (sh.magic != kMagic) { std::fprintf(stderr, "guest: bad magic\n"); return 2; }
  auto alive = [&] { return pid_alive(p.peer_pid); };
  sh.guest_ready.store(1, std::memory_order_release);
  int rc = 0;

  if (a.test == "atomic") {
    while (sh.go.load(std::memory_order_acquire) == 0) cpu_relax();
    const double t0 = now_s();
    for (int i = 0; i < a.n; ++i) {
      sh.counter_add.fetch_add(1, std::memory_order_seq_cst);
      uint64_t v = sh.counter_cas.load(std::memory_order_relaxed);
      while (!sh.counter_cas.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst)) {}
    }
    std::printf("atomic guest=%s: %d fetch_add + %d CAS increments in %.3f s\n", a.guest_thread ? "mt" : "st", a.n,
                a.n, now_s() - t0);
    sh.go.store(2, std::memory_order_release);  // the host increments until it sees this
  } else if (a.test == "spin" || a.test == "futex" || a.test == "pipe" || a.test == "eventfd") {
    // clock cost under qemu (the per-round-trip timing includes two clock reads)
    std::vector<double> clk(1000);
    for (auto& c : clk) { const double t0 = now_s(); c = now_s() - t0; }
    const int warm = std::min(1000, a.n / 10);
    std::vector<double> rt;
    rt.reserve(size_t(a.n));
    uint64_t errors = 0;
    uint32_t seq = 0;
    auto send = [&](uint32_t s) {
      for (int w = 0; w < kPayloadWords; ++w) sh.req_payload[w] = uint64_t(s) * 1000003u + uint64_t(w);
      notify(p, sh.req, s);
    };
    for (int i = 0; i < warm + a.n; ++i) {
      ++seq;
      for (int w = 0; w < kPayloadWords; ++w) sh.req_payload[w] = uint64_t(seq) * 1000003u + uint64_t(w);
      const double t0 = now_s();
      notify(p, sh.req, seq);
      if (!wait_change(p, sh.resp, seq - 1, alive)) { std::fprintf(stderr, "guest: host gone\n"); return 3; }
      const double t1 = now_s();
      for (int w = 0; w < kPayloadWords; ++w) errors += sh.resp_payload[w] != uint64_t(seq) * 7u + uint64_t(w);
      if (i >= warm) rt.push_back(t1 - t0);
    }
    // idle waits: (1) the host waits while we sleep; (2) we wait while the host sleeps
    std::this_thread::sleep_for(std::chrono::milliseconds(a.idle_ms));
    ++seq;
    send(seq);
    if (!wait_change(p, sh.resp, seq - 1, alive)) return 3;
    ++seq;
    const double c0 = cpu_s(), w0 = now_s();
    send(seq);  // the host answers this one after idle_ms
    if (!wait_change(p, sh.resp, seq - 1, alive)) return 3;
    const double gcpu = cpu_s() - c0, gwall = now_s() - w0;
    ++seq;
    notify(p, sh.req, seq | 0x80000000u);  // stop
    std::printf("%-8s guest=%s n=%d  round trip us: median %.2f  p99 %.2f  min %.2f  max %.1f  "
                "(clock_gettime %.2f us)  payload errors %" PRIu64 "/%" PRIu64 "\n",
                a.test.c_str(), a.guest_thread ? "mt" : "st", a.n, 1e6 * pct(rt, 0.5), 1e6 * pct(rt, 0.99),
                1e6 * pct(rt, 0.0), 1e6 * pct(rt, 1.0), 1e6 * pct(clk, 0.5), errors, uint64_t(a.n + warm));
    std::printf("%-8s idle-wait CPU: guest %.0f %% of %.2f s, host %.0f %% of %.2f s  (guest: %" PRIu64
                " spin wakes, %" PRIu64 " futex waits, %" PRIu64 " futex timeouts)\n",
                a.test.c_str(), 100 * gcpu / gwall, gwall, 100 * sh.host_idle_cpu_s / sh.host_idle_wall_s,
                sh.host_idle_wall_s, p.spin_wakes, p.futex_waits, p.futex_timeouts);
    if (sh.host_payload_errors || errors) rc = 1;
  } else if (a.test == "bw") {
    std::vector<uint8_t> priv(p.data_bytes), back(p.data_bytes);
    for (size_t i = 0; i < priv.size(); ++i) priv[i] = uint8_t(i * 131u + (i >> 12));
    uint32_t seq = 0;
    for (const int mib : a.mib) {
      const size_t bytes = size_t(mib) << 20;
      const int reps = mib <= 1 ? 20 : mib <= 16 ? 8 : 5;
      std::vector<double> gw, hr, hw, gr;
      uint64_t bad = 0;
      for (int r = 0; r < reps; ++r) {
        priv[0] = uint8_t(r);
        double t0 = now_s();
        std::memcpy(p.data, priv.data(), bytes);
        gw.push_back(now_s() - t0);
        sh.bw_bytes_mib = uint32_t(mib);
        ++seq;
        notify(p, sh.req, seq);  // host: reads the window (checks it), writes its own bytes, answers
        if (!wait_change(p, sh.resp, seq - 1, alive)) return 3;
        hr.push_back(sh.host_read_s);
        hw.push_back(sh.host_write_s);
        t0 = now_s();
        std::memcpy(back.data(), p.data, bytes);
        gr.push_back(now_s() - t0);
        for (size_t i = 0; i < bytes; i += 4093) bad += back[i] != uint8_t(~(i * 131u + (i >> 12)) + r);
        bad += sh.host_payload_errors;
      }
      auto gbs = [&](const std::vector<double>& v) { return double(bytes) / pct(v, 0.5) / 1e9; };
      std::printf("bw %3d MiB guest=%s (median of %d) GB/s: guest write %.2f | host read %.2f | host write %.2f | "
                  "guest read %.2f   check errors %" PRIu64 "\n",
                  mib, a.guest_thread ? "mt" : "st", reps, gbs(gw), gbs(hr), gbs(hw), gbs(gr), bad);
      if (bad) rc = 1;
    }
    ++seq;
    notify(p, sh.req, seq | 0x80000000u);
  } else if (a.test == "host-death") {
    // The device (our parent here) is SIGKILLed while we wait. Each way of noticing is tried at every wake.
    struct sigaction sa{};
    sa.sa_handler = on_pdeath;
    sigaction(SIGUSR1, &sa, nullptr);
    const long pd = prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);
    const int ppid0 = getppid();
    std::printf("host-death guest=%s: prctl(PR_SET_PDEATHSIG) -> %ld%s; getppid() %d, device pid %d\n",
                a.guest_thread ? "mt" : "st", pd, pd ? std::strerror(errno) : "", ppid0, p.peer_pid);
    uint32_t seq = 0;
    // a few normal round trips first
    for (int i = 0; i < 100; ++i) {
      ++seq;
      notify(p, sh.req, seq);
      if (!wait_change(p, sh.resp, seq - 1, [] { return true; })) return 3;
    }
    ++seq;
    notify(p, sh.req, seq);  // never answered: the device dies
    const double t0 = now_s();
    double t_kill = -1, t_ppid = -1, t_hup = -1, t_hb = -1, t_sig = -1;
    uint64_t hb = sh.heartbeat.load();
    double hb_seen = t0;
    while (now_s() - t0 < 3.0 && (t_kill < 0 || t_ppid < 0 || t_hup < 0 || t_hb < 0 || t_sig < 0)) {
      const timespec to{0, 20 * 1000 * 1000};
      futex(&sh.resp, FUTEX_WAIT, seq - 1, &to);
      const double t = now_s();
      if (t_kill < 0 && !pid_alive(p.peer_pid)) t_kill = t;
      if (t_ppid < 0 && getppid() != ppid0) t_ppid = t;
      pollfd pf{a.fd_life, POLLIN, 0};
      if (t_hup < 0 && poll(&pf, 1, 0) > 0 && (pf.revents & POLLHUP)) t_hup = t;
      const uint64_t h = sh.heartbeat.load(std::memory_order_acquire);
      if (h != hb) { hb = h; hb_seen = now_s(); }
      if (t_hb < 0 && now_s() - hb_seen > 0.1) t_hb = t;
      if (t_sig < 0 && g_pdeath) t_sig = t;
    }
    const double tk = sh.kill_time;  // CLOCK_MONOTONIC is the same clock in both processes
    auto rel = [&](double t) { return t < 0 ? -1.0 : std::max(0.0, 1e3 * (t - tk)); };
    std::printf("host-death guest=%s: noticed after the device's SIGKILL (ms; -1 = not within 3 s): kill(pid,0)=ESRCH "
                "%.0f, getppid() changed %.0f, pipe POLLHUP %.0f, heartbeat stale>100ms %.0f, PDEATHSIG %.0f\n",
                a.guest_thread ? "mt" : "st", rel(t_kill), rel(t_ppid), rel(t_hup), rel(t_hb), rel(t_sig));
  } else if (a.test == "guest-death") {
    uint32_t seq = 0;
    for (int i = 0; i < 100; ++i) {
      ++seq;
      notify(p, sh.req, seq);
      if (!wait_change(p, sh.resp, seq - 1, alive)) return 3;
    }
    std::fflush(stdout);
    for (;;) pause();  // the host kills us now
  }
  if (helper.joinable()) { stop_helper = true; helper.join(); }
  sh.guest_done.store(rc ? 2 : 1, std::memory_order_release);
  std::fflush(stdout);
  return rc;
}

// ============================================================================================== host side
std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

pid_t spawn_guest(const Args& a, const std::string& shm, int fd_g2h_w, int fd_h2g_r, int fd_life_r, int host_pid) {
  std::vector<std::string> argv = split_ws(a.guest_cmd);
  argv.insert(argv.end(), {"guest", "--test", a.test, "--shm", shm, "--n", std::to_string(a.n), "--spin-us",
                           std::to_string(a.spin_us), "--idle-ms", std::to_string(a.idle_ms), "--fd-g2h",
                           std::to_string(fd_g2h_w), "--fd-h2g", std::to_string(fd_h2g_r), "--fd-life",
                           std::to_string(fd_life_r), "--host-pid", std::to_string(host_pid)});
  if (a.guest_thread) argv.push_back("--guest-thread");
  std::string mib;
  for (int m : a.mib) mib += (mib.empty() ? "" : ",") + std::to_string(m);
  argv.insert(argv.end(), {"--mib", mib});
  std::vector<char*> cargv;
  for (auto& s : argv) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "exec %s: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  return pid;
}

// Serves round trips / bw until the stop bit. Returns false if the guest went away.
bool serve(Peer& p, const Args& a, int guest_pid) {
  Shared& sh = *p.sh;
  auto alive = [&] {
    int st;
    return waitpid(guest_pid, &st, WNOHANG) == 0;  // we are the parent: a zombie counts as dead
  };
  std::vector<uint8_t> priv, out;
  if (a.test == "bw") {
    priv.resize(p.data_bytes);
    out.resize(p.data_bytes);
    for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(~(i * 131u + (i >> 12)));
  }
  const bool roundtrip = a.test != "bw";
  const int idle_req = roundtrip ? std::min(1000, a.n / 10) + a.n + 1 : -1;  // guest sleeps before this one
  uint32_t last = 0;
  for (int k = 1;; ++k) {
    const bool idle = k == idle_req;
    const double c0 = idle ? cpu_s() : 0, w0 = idle ? now_s() : 0;
    if (!wait_change(p, sh.req, last, alive)) return false;
    if (idle) { sh.host_idle_cpu_s = cpu_s() - c0; sh.host_idle_wall_s = now_s() - w0; }
    const uint32_t r = sh.req.load(std::memory_order_acquire);
    if (r & 0x80000000u) return true;
    last = r;
    if (roundtrip) {
      for (int w = 0; w < kPayloadWords; ++w) sh.host_payload_errors += sh.req_payload[w] != uint64_t(r) * 1000003u + uint64_t(w);
      for (int w = 0; w < kPayloadWords; ++w) sh.resp_payload[w] = uint64_t(r) * 7u + uint64_t(w);
      if (k == idle_req + 1) std::this_thread::sleep_for(std::chrono::milliseconds(a.idle_ms));
    } else {
      const size_t bytes = size_t(sh.bw_bytes_mib) << 20;
      double t0 = now_s();
      std::memcpy(priv.data(), p.data, bytes);
      sh.host_read_s = now_s() - t0;
      // check: the guest wrote i*131 + (i>>12) with byte 0 = rep
      uint64_t bad = 0;
      for (size_t i = 1; i < bytes; i += 4093) bad += priv[i] != uint8_t(i * 131u + (i >> 12));
      sh.host_payload_errors = bad;
      const uint8_t rep = priv[0];
      for (size_t i = 0; i < bytes; i += 4093) out[i] = uint8_t(~(i * 131u + (i >> 12)) + rep);
      t0 = now_s();
      std::memcpy(p.data, out.data(), bytes);
      sh.host_write_s = now_s() - t0;
    }
    notify(p, sh.resp, r);
  }
}

int host_main(const Args& a) {
  if (a.guest_cmd.empty()) { std::fprintf(stderr, "host: --guest CMD is required\n"); return 2; }
  char name[96];
  std::snprintf(name, sizeof name, "/dev/shm/rcnn-transport-%d-%lx", int(getpid()), long(now_s() * 1e6) & 0xffffff);
  const int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) die("create shm file");
  const size_t total = kHeaderBytes + window_bytes(a);
  if (ftruncate(fd, off_t(total)) != 0) die("ftruncate");
  void* m = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) die("mmap");
  close(fd);
  Shared* sh = new (m) Shared();
  sh->magic = kMagic;
  sh->monitor_pid = getpid();

  // doorbells: g2h (guest writes, host reads), h2g; "life" pipe: only the host side holds the write end
  int g2h[2], h2g[2], life[2];
  if (a.test == "eventfd") {
    g2h[0] = g2h[1] = eventfd(0, 0);
    h2g[0] = h2g[1] = eventfd(0, 0);
    if (g2h[0] < 0 || h2g[0] < 0) die("eventfd");
  } else {
    if (pipe(g2h) || pipe(h2g)) die("pipe");
  }
  if (pipe(life)) die("pipe");
  fcntl(life[1], F_SETFD, FD_CLOEXEC);

  Peer p;
  p.sh = sh;
  p.data = static_cast<uint8_t*>(m) + kHeaderBytes;
  p.data_bytes = total - kHeaderBytes;
  p.bell = bell_of(a.test);
  p.spin_s = a.spin_us * 1e-6;
  p.fd_in = g2h[0];
  p.fd_out = h2g[1];
  int rc = 0;

  if (a.test == "host-death") {
    // monitor (this process) -> device (fork, serves) -> guest (fork+exec, child of the device)
    const pid_t dev = fork();
    if (dev < 0) die("fork");
    if (dev == 0) {
      sh->host_pid = getpid();
      std::thread([sh] { for (;;) { sh->heartbeat.fetch_add(1); std::this_thread::sleep_for(std::chrono::milliseconds(10)); } }).detach();
      const pid_t g = spawn_guest(a, name, g2h[1], h2g[0], life[0], getpid());
      Args b = a;
      serve(p, b, g);  // the guest's 101st request is never answered: it is waited for when we are killed
      _exit(0);
    }
    close(life[1]);
    // let the guest map and run 100 round trips, then kill the device
    while (sh->guest_ready.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (unlink(name) != 0) die("unlink shm");
    while (sh->req.load() < 101) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sh->kill_time = now_s();
    kill(dev, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the device stays a zombie this long
    int st;
    waitpid(dev, &st, 0);
    // the guest is now an orphan (reparented): wait for it by polling its done flag
    const double t0 = now_s();
    while (sh->guest_done.load() == 0 && now_s() - t0 < 5) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::printf("host-death: the device was reaped (stopped being a zombie) 500 ms after its SIGKILL\n");
    rc = sh->guest_done.load() == 1 ? 0 : 1;
  } else {
    sh->host_pid = getpid();
    const pid_t g = spawn_guest(a, name, g2h[1], h2g[0], life[0], getpid());
    close(life[0]);
    if (a.test != "eventfd") { close(g2h[1]); close(h2g[0]); }
    const double t_start = now_s();
    while (sh->guest_ready.load(std::memory_order_acquire) == 0) {
      int st;
      if (waitpid(g, &st, WNOHANG) == g) { unlink(name); std::fprintf(stderr, "host: guest exited early\n"); return 2; }
      if (now_s() - t_start > 20) { unlink(name); kill(g, SIGKILL); std::fprintf(stderr, "host: guest never mapped the file\n"); return 2; }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (unlink(name) != 0) die("unlink shm");  // both sides have it mapped: a crash now leaves nothing behind
    std::printf("guest up after %.0f ms (pid %d); %s unlinked\n", 1e3 * (now_s() - t_start), int(g), name);
    std::fflush(stdout);
    if (a.test == "atomic") {
      // the host keeps incrementing for as long as the guest does, so that the two always overlap
      sh->go.store(1, std::memory_order_release);
      uint64_t mine = 0;
      while (sh->go.load(std::memory_order_acquire) == 1) {
        sh->counter_add.fetch_add(1, std::memory_order_seq_cst);
        uint64_t v = sh->counter_cas.load(std::memory_order_relaxed);
        while (!sh->counter_cas.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst)) {}
        ++mine;
      }
      int st;
      waitpid(g, &st, 0);
      const uint64_t want = uint64_t(a.n) + mine;
      if (sh->counter_add.load() != want || sh->counter_cas.load() != want) rc = 1;
      std::printf("atomic guest=%s: fetch_add %" PRIu64 "/%" PRIu64 " (lost %" PRId64 "), CAS loop %" PRIu64
                  "/%" PRIu64 " (lost %" PRId64 ")\n", a.guest_thread ? "mt" : "st", sh->counter_add.load(), want,
                  int64_t(want - sh->counter_add.load()), sh->counter_cas.load(), want,
                  int64_t(want - sh->counter_cas.load()));
    } else if (a.test == "guest-death") {
      // the guest does 100 round trips, then waits in pause(); we wait for request 101 with futex (bounded)
      const uint32_t last = 100;
      for (uint32_t k = 1; k <= last; ++k) {  // serve the guest's first 100 round trips
        if (!wait_change(p, sh->req, k - 1, [] { return true; })) return 2;
        notify(p, sh->resp, k);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::thread killer([g] { std::this_thread::sleep_for(std::chrono::milliseconds(100)); kill(g, SIGKILL); });
      const double t0 = now_s();
      double t_eof = -1, t_wait = -1;
      bool zombie_answers_kill0 = false;
      while (now_s() - t0 < 3 && (t_eof < 0 || t_wait < 0)) {
        const timespec to{0, 20 * 1000 * 1000};
        futex(&sh->req, FUTEX_WAIT, last, &to);
        const double t = now_s() - t0 - 0.1;
        pollfd pf{g2h[0], POLLIN, 0};
        if (t_eof < 0 && poll(&pf, 1, 0) > 0 && (pf.revents & POLLHUP)) t_eof = t;
        const bool alive0 = pid_alive(g);
        int st;
        if (t_wait < 0 && waitpid(g, &st, WNOHANG) == g) { t_wait = t; zombie_answers_kill0 = alive0; }
      }
      killer.join();
      auto ms = [](double t) { return t < 0 ? -1.0 : 1e3 * t; };
      std::printf("guest-death: the host (waiting in 20 ms futex waits) noticed after the SIGKILL (ms; -1 = never "
                  "within 3 s): pipe POLLHUP %.0f, waitpid %.0f; before the reap kill(pid,0) said %s\n",
                  ms(t_eof), ms(t_wait), zombie_answers_kill0 ? "alive (zombie)" : "gone");
    } else {
      const bool ok = serve(p, a, g);
      int st = 0;
      waitpid(g, &st, 0);
      if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = 1;
      if (sh->host_payload_errors) { std::printf("host: payload errors %" PRIu64 "\n", sh->host_payload_errors); rc = 1; }
    }
  }
  munmap(m, total);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const Args a = parse(argc, argv);
  if (a.role == "host") return host_main(a);
  if (a.role == "guest") return guest_main(a);
  std::fprintf(stderr, "role must be host or guest\n");
  return 2;
}
