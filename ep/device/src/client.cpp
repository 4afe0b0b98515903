#include "device/client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "device/futex.h"
#include "device/protocol.h"

namespace rcnn::device {

using systolic::Error;

namespace {

constexpr int kWaitMs = 50;

uint64_t align_up(uint64_t v) { return (v + kOperandAlign - 1) / kOperandAlign * kOperandAlign; }

uint32_t wire_mode(systolic::Mode m) {
  switch (m) {
    case systolic::Mode::CPU: return static_cast<uint32_t>(WireMode::Cpu);
    case systolic::Mode::OS: return static_cast<uint32_t>(WireMode::Os);
    case systolic::Mode::WS: return static_cast<uint32_t>(WireMode::Ws);
  }
  throw Error("unknown mode");
}

// Elements of a rows x cols matrix with row stride ld (0: dense); the checks mirror the device's so that a bad
// stride is refused before anything is copied from the caller's memory.
uint64_t span_elems(const char* op, const char* what, int64_t rows, int64_t cols, int64_t ld) {
  if (rows < 1 || cols < 1 || ld < 0 || (ld != 0 && ld < cols) || rows > (int64_t{1} << 31) ||
      cols > (int64_t{1} << 31) || ld > (int64_t{1} << 40))
    throw Error(std::string(op) + ": bad " + what + " (" + std::to_string(rows) + " x " + std::to_string(cols) +
                ", stride " + std::to_string(ld) + ")");
  return static_cast<uint64_t>(rows - 1) * static_cast<uint64_t>(ld ? ld : cols) + static_cast<uint64_t>(cols);
}

WireConvShape wire_shape(const systolic::ConvShape& s) {
  WireConvShape w{};
  w.batch = s.batch, w.in_h = s.in_h, w.in_w = s.in_w, w.in_ch = s.in_ch, w.out_ch = s.out_ch;
  w.kernel_h = s.kernel_h, w.kernel_w = s.kernel_w, w.stride_h = s.stride_h, w.stride_w = s.stride_w;
  w.dil_h = s.dil_h, w.dil_w = s.dil_w;
  w.pad_top = s.pad_top, w.pad_left = s.pad_left, w.pad_bottom = s.pad_bottom, w.pad_right = s.pad_right;
  w.groups = s.groups;
  w.pool_enabled = s.pool.enabled ? 1 : 0;
  w.pool_padding = s.pool.padding == systolic::PoolPadding::Ignore ? 1 : 0;
  w.pool_kh = s.pool.kh, w.pool_kw = s.pool.kw, w.pool_sh = s.pool.sh, w.pool_sw = s.pool.sw;
  w.pool_pad_top = s.pool.pad_top, w.pool_pad_left = s.pool.pad_left;
  w.pool_pad_bottom = s.pool.pad_bottom, w.pool_pad_right = s.pool.pad_right;
  return w;
}

std::pair<int, int> parse_env_value(const std::string& value) {
  const std::size_t comma = value.find(',');
  const auto fd = [&](const std::string& s) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end || errno || v < 0 || v > 1 << 20)
      throw DeviceError(std::string(kEnvVar) + "='" + value + "' is not '<window fd>,<life fd>'");
    return static_cast<int>(v);
  };
  if (comma == std::string::npos)
    throw DeviceError(std::string(kEnvVar) + "='" + value + "' is not '<window fd>,<life fd>'");
  return {fd(value.substr(0, comma)), fd(value.substr(comma + 1))};
}

// The in-process ops refuse null operands too; here it also keeps the copies below from reading through null.
void require(const char* op, bool pointers_given) {
  if (!pointers_given) throw Error(std::string(op) + ": a required operand pointer is null");
}

}  // namespace

std::string config_to_text(const systolic::AcceleratorConfig& c) {
  std::string t;
  t += "dim = " + std::to_string(c.dim) + "\n";
  t += "sp_banks = " + std::to_string(c.sp_banks) + "\n";
  t += "sp_bank_rows = " + std::to_string(c.sp_bank_rows) + "\n";
  t += "acc_rows = " + std::to_string(c.acc_rows) + "\n";
  t += std::string("dataflow = \"") + systolic::mode_name(c.dataflow) + "\"\n";
  t += std::string("elem = \"") + systolic::elem_name(c.elem) + "\"\n";
  t += "dma_bytes_per_cycle = " + std::to_string(c.dma_bytes_per_cycle) + "\n";
  t += std::string("per_channel_scale = ") + (c.per_channel_scale ? "true" : "false") + "\n";
  t += std::string("zero_points = ") + (c.zero_points ? "true" : "false") + "\n";
  return t;
}

// One command being put together: operands are planned first (so that an op too large for the window is refused
// before anything is copied), then the inputs are copied in.
class Client::Op {
 public:
  Op(Client& c, CommandKind kind) : c_(c), cmd_{} {
    cmd_.kind = static_cast<uint32_t>(kind);
  }
  Command& cmd() { return cmd_; }

  void input(Slot s, const void* src, uint64_t bytes, const ResidentRef& r = {}) {
    Operand& o = cmd_.operands[s];
    if (r.handle) {
      o.kind = static_cast<uint32_t>(OperandKind::Resident);
      o.handle = r.handle;
      o.offset = r.offset;
      o.bytes = bytes;
      return;
    }
    if (!src) return;  // an absent optional operand (the device refuses a missing required one)
    place(o, bytes);
    copies_.push_back({src, o.offset, bytes});
  }
  uint64_t output(Slot s, uint64_t bytes) {
    place(cmd_.operands[s], bytes);
    return cmd_.operands[s].offset;
  }
  // Copies the inputs and the command into the window, rings, waits; returns the response's counters.
  systolic::Counters send(const char* op) {
    if (end_ > c_.window_bytes_)
      throw DeviceError(std::string(op) + ": the operands need " + std::to_string((end_ - kHeaderBytes) >> 20) +
                        " MiB of window, its data area has " +
                        std::to_string((c_.window_bytes_ - kHeaderBytes) >> 20) +
                        " MiB: run rcnn_device with a larger --window-mb");
    for (const Copy& k : copies_) std::memcpy(c_.window_ + k.offset, k.src, static_cast<std::size_t>(k.bytes));
    std::memcpy(static_cast<void*>(&header().command), &cmd_, sizeof cmd_);
    c_.round_trip_locked();
    return counters_from_wire(header().response.counters);
  }
  const unsigned char* at(uint64_t offset) const { return c_.window_ + offset; }

 private:
  struct Copy {
    const void* src;
    uint64_t offset, bytes;
  };
  WindowHeader& header() { return *c_.header_; }
  void place(Operand& o, uint64_t bytes) {
    o.kind = static_cast<uint32_t>(OperandKind::Window);
    o.offset = end_;
    o.bytes = bytes;
    end_ = align_up(end_ + bytes);
  }

  Client& c_;
  Command cmd_;
  uint64_t end_ = kHeaderBytes;
  std::vector<Copy> copies_;
};

std::unique_ptr<Client> Client::connect_from_env() {
  const char* v = std::getenv(kEnvVar);
  if (!v) return nullptr;
  return connect(v);
}

std::unique_ptr<Client> Client::connect(const std::string& value) {
  const auto [shm_fd, life_fd] = parse_env_value(value);
  const std::string where = std::string("device mode (") + kEnvVar + "=" + value + "): ";
  struct stat st {};
  if (fstat(shm_fd, &st) != 0) throw DeviceError(where + "window fd: " + std::strerror(errno));
  if (fcntl(life_fd, F_GETFD) < 0) throw DeviceError(where + "life fd: " + std::strerror(errno));
  const uint64_t bytes = static_cast<uint64_t>(st.st_size);
  if (!S_ISREG(st.st_mode) || bytes < kHeaderBytes + kOperandAlign)
    throw DeviceError(where + "the window fd is not a device window (" + std::to_string(bytes) + " bytes)");
  void* map = mmap(nullptr, static_cast<std::size_t>(bytes), PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
  if (map == MAP_FAILED) throw DeviceError(where + "cannot map the window: " + std::strerror(errno));
  auto* h = static_cast<WindowHeader*>(map);
  std::string bad;
  if (h->magic != kMagic) bad = "bad magic";
  else if (h->version != kProtocolVersion)
    bad = "protocol version " + std::to_string(h->version) + ", this client speaks " + std::to_string(kProtocolVersion);
  else if (h->window_bytes != bytes || h->header_bytes != kHeaderBytes) bad = "inconsistent window sizes";
  if (bad.empty()) {
    const auto me = static_cast<uint32_t>(getpid());
    uint32_t owner = 0;
    while (!h->guest_pid.compare_exchange_strong(owner, me, std::memory_order_acq_rel)) {
      if (owner == me) {
        bad = "this process is already connected (use one Client per process)";
        break;
      }
      // A claim whose process is gone (crashed without disconnecting) may be taken over; kill(pid, 0) is only
      // trusted for "gone" (ESRCH), as a dead but unreaped process still answers.
      if (kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH) {
        bad = "the window is in use by process " + std::to_string(owner);
        break;
      }
    }
  }
  if (!bad.empty()) {
    munmap(map, static_cast<std::size_t>(bytes));
    throw DeviceError(where + bad);
  }
  // Not for ORT's or anyone's children: the descriptors belong to this connection.
  fcntl(shm_fd, F_SETFD, FD_CLOEXEC);
  fcntl(life_fd, F_SETFD, FD_CLOEXEC);
  std::unique_ptr<Client> c(new Client(shm_fd, life_fd, static_cast<unsigned char*>(map), bytes));
  // A previous guest may have died with a command in flight: wait until the device has answered it.
  std::lock_guard<std::mutex> lock(c->mu_);
  for (;;) {
    const uint32_t resp = h->response_seq.load(std::memory_order_acquire);
    if (resp == h->request_seq.load(std::memory_order_acquire)) break;
    futex_wait(h->response_seq, resp, kWaitMs);
    c->check_alive_locked();
  }
  return c;
}

Client::Client(int shm_fd, int life_fd, unsigned char* window, uint64_t window_bytes)
    : shm_fd_(shm_fd),
      life_fd_(life_fd),
      window_(window),
      window_bytes_(window_bytes),
      header_(reinterpret_cast<WindowHeader*>(window)),
      parent_was_device_(getppid() == header_->device_pid) {}

Client::~Client() {
  uint32_t me = static_cast<uint32_t>(getpid());
  header_->guest_pid.compare_exchange_strong(me, 0, std::memory_order_acq_rel);
  munmap(window_, static_cast<std::size_t>(window_bytes_));
  close(shm_fd_);
  close(life_fd_);
}

int Client::device_pid() const noexcept { return header_->device_pid; }

void Client::check_alive_locked() {
  if (dead_) throw DeviceError(dead_reason_);
  pollfd p{life_fd_, POLLIN, 0};
  const bool hup = poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0;
  const bool orphaned = parent_was_device_ && getppid() != header_->device_pid;
  if (hup || orphaned) {
    dead_ = true;
    dead_reason_ = "the systolic device process (pid " + std::to_string(header_->device_pid) + ") died";
    throw DeviceError(dead_reason_);
  }
}

void Client::round_trip_locked() {
  check_alive_locked();
  WindowHeader& h = *header_;
  const uint32_t seq = h.request_seq.load(std::memory_order_relaxed) + 1;
  h.request_seq.store(seq, std::memory_order_release);
  futex_wake_all(h.request_seq);
  for (;;) {
    const uint32_t resp = h.response_seq.load(std::memory_order_acquire);
    if (resp == seq) break;
    futex_wait(h.response_seq, resp, kWaitMs);
    if (h.response_seq.load(std::memory_order_acquire) == seq) break;
    check_alive_locked();
  }
  if (h.response.status != static_cast<uint32_t>(Status::Ok)) {
    char msg[kMessageBytes];
    std::memcpy(msg, h.response.message, kMessageBytes);
    msg[kMessageBytes - 1] = '\0';
    throw Error(msg);
  }
}

uint64_t Client::config_id_locked(const systolic::AcceleratorConfig& cfg) {
  for (const auto& [known, id] : configs_)
    if (known == cfg) return id;
  const std::string text = config_to_text(cfg);
  Op op(*this, CommandKind::SetConfig);
  op.input(kIn, text.data(), text.size());
  op.send("set_config");
  const uint64_t id = header_->response.value;
  configs_.emplace_back(cfg, id);
  return id;
}

void Client::ping() {
  std::lock_guard<std::mutex> lock(mu_);
  Op(*this, CommandKind::Ping).send("ping");
}

uint64_t Client::set_config(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  Op op(*this, CommandKind::SetConfig);
  op.input(kIn, text.data(), text.size());
  op.send("set_config");
  return header_->response.value;
}

uint64_t Client::upload(const void* data, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  Op alloc(*this, CommandKind::Alloc);
  alloc.cmd().value = bytes;
  alloc.send("alloc");
  const uint64_t handle = header_->response.value;
  const uint64_t piece = (window_bytes_ - kHeaderBytes) / kOperandAlign * kOperandAlign;
  for (uint64_t done = 0; done < bytes;) {
    const uint64_t n = bytes - done < piece ? bytes - done : piece;
    Op w(*this, CommandKind::Write);
    w.cmd().handle = handle;
    w.cmd().value = done;
    w.input(kIn, static_cast<const unsigned char*>(data) + done, n);
    w.send("write");
    done += n;
  }
  return handle;
}

void Client::free_buffer(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  Op op(*this, CommandKind::Free);
  op.cmd().handle = handle;
  op.send("free");
}

systolic::Counters Client::conv2d(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                  const systolic::ConvArgs& a, const ResidentOperands& r) {
  a.shape.validate();  // before the sizes below are trusted to read the caller's buffers
  require("conv2d", a.input && a.output && (a.weights || r.weights.handle));
  std::lock_guard<std::mutex> lock(mu_);
  Op op(*this, CommandKind::Conv2d);
  Command& c = op.cmd();
  c.mode = wire_mode(mode);
  c.config_id = config_id_locked(cfg);
  c.conv = wire_shape(a.shape);
  c.multiplier = a.multiplier;
  c.relu = a.relu ? 1 : 0;
  c.x_zero_point = a.x_zero_point;
  c.y_zero_point = a.y_zero_point;
  const auto oc = static_cast<uint64_t>(a.shape.out_ch);
  op.input(kIn, a.input, static_cast<uint64_t>(a.shape.input_elems()));
  op.input(kWeights, a.weights, static_cast<uint64_t>(a.shape.weight_elems()), r.weights);
  op.input(kBias, a.bias, oc * 4, r.bias);
  op.input(kMultipliers, a.multipliers, oc * 4, r.multipliers);
  const uint64_t out_bytes = static_cast<uint64_t>(a.shape.output_elems());
  const uint64_t out = op.output(kOut, out_bytes);
  const systolic::Counters counters = op.send("conv2d");
  std::memcpy(a.output, op.at(out), static_cast<std::size_t>(out_bytes));
  return counters;
}

systolic::Counters Client::conv2d_f32(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                      const systolic::ConvF32Args& a, const ResidentOperands& r) {
  a.shape.validate();
  require("conv2d_f32", a.input && a.output && (a.weights || r.weights.handle));
  std::lock_guard<std::mutex> lock(mu_);
  Op op(*this, CommandKind::Conv2dF32);
  Command& c = op.cmd();
  c.mode = wire_mode(mode);
  c.config_id = config_id_locked(cfg);
  c.conv = wire_shape(a.shape);
  c.relu = a.relu ? 1 : 0;
  const auto oc = static_cast<uint64_t>(a.shape.out_ch);
  op.input(kIn, a.input, 4 * static_cast<uint64_t>(a.shape.input_elems()));
  op.input(kWeights, a.weights, 4 * static_cast<uint64_t>(a.shape.weight_elems()), r.weights);
  op.input(kBias, a.bias, oc * 4, r.bias);
  const uint64_t out_bytes = 4 * static_cast<uint64_t>(a.shape.output_elems());
  const uint64_t out = op.output(kOut, out_bytes);
  const systolic::Counters counters = op.send("conv2d_f32");
  std::memcpy(a.output, op.at(out), static_cast<std::size_t>(out_bytes));
  return counters;
}

namespace {

// Copies a rows x cols output with row stride ld (0: dense) back, touching only its elements: the caller's bytes
// between the rows are not the device's to overwrite.
void copy_rows(void* dst, const unsigned char* src, int64_t rows, int64_t cols, int64_t ld, std::size_t elem) {
  const auto stride = static_cast<std::size_t>(ld ? ld : cols) * elem;
  const auto row = static_cast<std::size_t>(cols) * elem;
  if (stride == row) {
    std::memcpy(dst, src, static_cast<std::size_t>(rows) * row);
    return;
  }
  for (int64_t i = 0; i < rows; ++i)
    std::memcpy(static_cast<unsigned char*>(dst) + static_cast<std::size_t>(i) * stride,
                src + static_cast<std::size_t>(i) * stride, row);
}

template <class Args>
void fill_matmul(Command& c, const Args& a) {
  c.mm.I = a.I, c.mm.J = a.J, c.mm.K = a.K;
  c.mm.lda = a.lda, c.mm.ldb = a.ldb, c.mm.ldd = a.ldd, c.mm.ldc = a.ldc;
  c.mm.bias_kind = static_cast<uint32_t>(a.bias_kind);
  c.relu = a.relu ? 1 : 0;
}

}  // namespace

template <class Args>
static uint64_t matmul_bias_bytes(const char* op, const Args& a) {
  switch (a.bias_kind) {
    case systolic::BiasKind::None: return 0;
    case systolic::BiasKind::PerColumn: return 4 * span_elems(op, "bias", 1, a.J, 0);
    case systolic::BiasKind::Full: return 4 * span_elems(op, "D", a.I, a.J, a.ldd);
  }
  throw Error(std::string(op) + ": unknown bias kind");
}

systolic::Counters Client::matmul(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                  const systolic::MatmulArgs& a, const ResidentOperands& r) {
  const uint64_t a_bytes = span_elems("matmul", "A", a.I, a.K, a.lda);
  const uint64_t b_bytes = span_elems("matmul", "B", a.K, a.J, a.ldb);
  const uint64_t d_bytes = matmul_bias_bytes("matmul", a);
  const uint64_t c_bytes = span_elems("matmul", "C", a.I, a.J, a.ldc);
  require("matmul", a.A && a.C && (a.B || r.weights.handle) && (d_bytes == 0 || a.bias || r.bias.handle));
  std::lock_guard<std::mutex> lock(mu_);
  Op op(*this, CommandKind::Matmul);
  Command& c = op.cmd();
  c.mode = wire_mode(mode);
  c.config_id = config_id_locked(cfg);
  fill_matmul(c, a);
  c.multiplier = a.multiplier;
  c.x_zero_point = a.x_zero_point;
  c.y_zero_point = a.y_zero_point;
  op.input(kIn, a.A, a_bytes);
  op.input(kWeights, a.B, b_bytes, r.weights);
  if (d_bytes) op.input(kBias, a.bias, d_bytes, r.bias);
  op.input(kMultipliers, a.multipliers, 4 * static_cast<uint64_t>(a.J), r.multipliers);
  const uint64_t out = op.output(kOut, c_bytes);
  const systolic::Counters counters = op.send("matmul");
  copy_rows(a.C, op.at(out), a.I, a.J, a.ldc, 1);
  return counters;
}

systolic::Counters Client::matmul_f32(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                      const systolic::MatmulF32Args& a, const ResidentOperands& r) {
  const uint64_t a_bytes = 4 * span_elems("matmul_f32", "A", a.I, a.K, a.lda);
  const uint64_t b_bytes = 4 * span_elems("matmul_f32", "B", a.K, a.J, a.ldb);
  const uint64_t d_bytes = matmul_bias_bytes("matmul_f32", a);
  const uint64_t c_bytes = 4 * span_elems("matmul_f32", "C", a.I, a.J, a.ldc);
  require("matmul_f32", a.A && a.C && (a.B || r.weights.handle) && (d_bytes == 0 || a.bias || r.bias.handle));
  std::lock_guard<std::mutex> lock(mu_);
  Op op(*this, CommandKind::MatmulF32);
  Command& c = op.cmd();
  c.mode = wire_mode(mode);
  c.config_id = config_id_locked(cfg);
  fill_matmul(c, a);
  op.input(kIn, a.A, a_bytes);
  op.input(kWeights, a.B, b_bytes, r.weights);
  if (d_bytes) op.input(kBias, a.bias, d_bytes, r.bias);
  const uint64_t out = op.output(kOut, c_bytes);
  const systolic::Counters counters = op.send("matmul_f32");
  copy_rows(a.C, op.at(out), a.I, a.J, a.ldc, 4);
  return counters;
}

systolic::Counters Client::resadd(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                  const systolic::ResaddArgs& a) {
  if (a.n < 0 || a.n > (int64_t{1} << 40)) throw Error("resadd: n must be in [0, 2^40], got " + std::to_string(a.n));
  const auto n = static_cast<uint64_t>(a.n);
  require("resadd", n == 0 || (a.A && a.B && a.C));
  std::lock_guard<std::mutex> lock(mu_);
  Op op(*this, CommandKind::Resadd);
  Command& c = op.cmd();
  c.mode = wire_mode(mode);
  c.config_id = config_id_locked(cfg);
  c.ra.n = a.n;
  c.ra.a_ratio = a.a_ratio, c.ra.b_ratio = a.b_ratio;
  c.ra.a_zero_point = a.a_zero_point, c.ra.b_zero_point = a.b_zero_point, c.ra.c_zero_point = a.c_zero_point;
  c.relu = a.relu ? 1 : 0;
  // Always placed (n may be 0 with null pointers): the device wants all three.
  static const int8_t kNone = 0;
  op.input(kIn, a.A ? a.A : &kNone, n);
  op.input(kWeights, a.B ? a.B : &kNone, n);
  const uint64_t out = op.output(kOut, n);
  const systolic::Counters counters = op.send("resadd");
  if (n) std::memcpy(a.C, op.at(out), static_cast<std::size_t>(n));
  return counters;
}

void Client::quantize(const systolic::QuantizeArgs& a) {
  // The sizes are checked before they are trusted to read the caller's buffers (the device checks them again).
  constexpr int64_t kMax = int64_t{1} << 40;
  if (a.batch < 0 || a.channels < 0 || a.spatial < 0) throw Error("quantize: negative size");
  if (a.batch == 0 || a.channels == 0 || a.spatial == 0) return;  // in-process: nothing to do, nothing checked
  uint64_t elems = 0;
  if (a.batch > kMax || a.channels > kMax || a.spatial > kMax ||
      __builtin_mul_overflow(static_cast<uint64_t>(a.batch), static_cast<uint64_t>(a.channels), &elems) ||
      __builtin_mul_overflow(elems, static_cast<uint64_t>(a.spatial), &elems) || elems > static_cast<uint64_t>(kMax))
    throw Error("quantize: " + std::to_string(a.batch) + " x " + std::to_string(a.channels) + " x " +
                std::to_string(a.spatial) + " elements are over the limit of 2^40");
  require("quantize", a.X && a.Y);
  std::lock_guard<std::mutex> lock(mu_);
  Op op(*this, CommandKind::Quantize);
  Command& c = op.cmd();
  c.qz.batch = a.batch, c.qz.channels = a.channels, c.qz.spatial = a.spatial;
  c.qz.scale = a.scale;
  c.qz.zero_point = a.zero_point;
  c.qz.to_nhwc = a.to_nhwc ? 1 : 0;
  op.input(kIn, a.X, 4 * elems);
  const uint64_t out = op.output(kOut, elems);
  op.send("quantize");
  std::memcpy(a.Y, op.at(out), static_cast<std::size_t>(elems));
}

}  // namespace rcnn::device
