#include "server.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "systolic/conv.h"
#include "systolic/matmul.h"
#include "systolic/quantize.h"
#include "systolic/resadd.h"

namespace rcnn::device {

using systolic::Error;

const char* command_name(uint32_t kind) noexcept {
  switch (static_cast<CommandKind>(kind)) {
    case CommandKind::None: return "none";
    case CommandKind::Ping: return "ping";
    case CommandKind::SetConfig: return "set_config";
    case CommandKind::Alloc: return "alloc";
    case CommandKind::Write: return "write";
    case CommandKind::Free: return "free";
    case CommandKind::Conv2d: return "conv2d";
    case CommandKind::Conv2dF32: return "conv2d_f32";
    case CommandKind::Matmul: return "matmul";
    case CommandKind::MatmulF32: return "matmul_f32";
    case CommandKind::Resadd: return "resadd";
    case CommandKind::Quantize: return "quantize";
  }
  return "unknown";
}

Response error_response(const std::string& message) noexcept {
  Response r{};
  r.status = static_cast<uint32_t>(Status::Error);
  const std::size_t n = message.size() < kMessageBytes - 1 ? message.size() : kMessageBytes - 1;
  std::memcpy(r.message, message.data(), n);
  r.message[n] = '\0';
  return r;
}

namespace {

constexpr uint64_t kMaxConfigText = 64 * 1024;
constexpr int64_t kMaxMatmulDim = int64_t{1} << 31;
constexpr int64_t kMaxStride = int64_t{1} << 40;
constexpr int64_t kMaxResadd = int64_t{1} << 40;
constexpr int64_t kMaxQuantize = int64_t{1} << 40;  // per dimension and in total (elements)

uint64_t mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) throw Error("operand size overflows 64 bits");
  return r;
}

uint64_t u64(int64_t v) { return static_cast<uint64_t>(v); }  // callers checked v >= 0

void check_flag(const char* what, uint32_t v) {
  if (v > 1) throw Error(std::string(what) + " must be 0 or 1, got " + std::to_string(v));
}

int8_t int8_field(const char* what, int32_t v) {
  if (v < -128 || v > 127) throw Error(std::string(what) + " must be in [-128, 127], got " + std::to_string(v));
  return static_cast<int8_t>(v);
}

void check_range(const char* what, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    throw Error(std::string(what) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                std::to_string(v));
}

systolic::Mode wire_mode(uint32_t m) {
  switch (static_cast<WireMode>(m)) {
    case WireMode::Cpu: return systolic::Mode::CPU;
    case WireMode::Os: return systolic::Mode::OS;
    case WireMode::Ws: return systolic::Mode::WS;
  }
  throw Error("unknown mode " + std::to_string(m) + " (0 cpu, 1 os, 2 ws)");
}

// Elements a row-major matrix of `rows` x `cols` with row stride `ld` (0: dense) spans; checks the stride.
uint64_t strided_elems(const char* what, int64_t rows, int64_t cols, int64_t ld) {
  check_range(what, ld, 0, kMaxStride);
  if (ld != 0 && ld < cols)
    throw Error(std::string(what) + " (" + std::to_string(ld) + ") is below the row length " + std::to_string(cols));
  const uint64_t stride = ld == 0 ? u64(cols) : u64(ld);
  return mul(u64(rows - 1), stride) + u64(cols);  // rows, cols <= 2^31 and stride <= 2^40: no overflow
}

struct Range {
  uint64_t offset, bytes;
};

}  // namespace

// One command against the server's state; exists to keep the operand bookkeeping out of Server's interface.
class CommandRunner {
 public:
  CommandRunner(Server& s, const Command& c, unsigned char* w, uint64_t wb)
      : server_(s), cmd_(c), window_(w), window_bytes_(wb) {}

  Response run();

 private:
  // The operand in `slot`, which must hold exactly `need` bytes aligned to `align`, or nullptr when the slot is
  // empty and `optional`. Outputs must be in the window. Window inputs are remembered for the overlap check.
  unsigned char* operand(Slot slot, const char* name, uint64_t need, uint64_t align, bool optional, bool output);
  void forbid(Slot slot, const char* name, const char* why) const;
  // Refuses an output that overlaps a window input (partially, or at all unless `exact_alias_ok`).
  void check_overlap(bool exact_alias_ok) const;
  const systolic::AcceleratorConfig& config() const;

  systolic::Counters conv(bool f32);
  systolic::Counters matmul(bool f32);
  systolic::Counters resadd();
  void quantize();

  Server& server_;
  const Command& cmd_;
  unsigned char* window_;
  uint64_t window_bytes_;
  std::vector<std::pair<const char*, Range>> inputs_;
  Range output_{0, 0};
};

unsigned char* CommandRunner::operand(Slot slot, const char* name, uint64_t need, uint64_t align, bool optional,
                                      bool output) {
  const Operand& op = cmd_.operands[slot];
  const auto where = [&] { return std::string(name) + " (slot " + std::to_string(slot) + ")"; };
  switch (static_cast<OperandKind>(op.kind)) {
    case OperandKind::None:
      if (optional) return nullptr;
      throw Error(where() + " is missing");
    case OperandKind::Window: {
      if (op.bytes != need)
        throw Error(where() + " has " + std::to_string(op.bytes) + " bytes, the shape needs " + std::to_string(need));
      if (op.offset < kHeaderBytes || op.offset > window_bytes_ || op.bytes > window_bytes_ - op.offset)
        throw Error(where() + " [" + std::to_string(op.offset) + ", +" + std::to_string(op.bytes) +
                    ") is outside the window's data area [" + std::to_string(kHeaderBytes) + ", " +
                    std::to_string(window_bytes_) + ")");
      if (op.offset % align != 0)
        throw Error(where() + " offset " + std::to_string(op.offset) + " is not a multiple of " +
                    std::to_string(align));
      if (output)
        output_ = {op.offset, op.bytes};
      else
        inputs_.push_back({name, {op.offset, op.bytes}});
      return window_ + op.offset;
    }
    case OperandKind::Resident: {
      if (output) throw Error(where() + " is an output: it must be in the window, not a resident buffer");
      std::vector<unsigned char>* buf = server_.resident_.find(op.handle);
      if (!buf) throw Error(where() + " names unknown resident handle " + std::to_string(op.handle));
      if (op.bytes != need)
        throw Error(where() + " has " + std::to_string(op.bytes) + " bytes, the shape needs " + std::to_string(need));
      if (op.offset > buf->size() || op.bytes > buf->size() - op.offset)
        throw Error(where() + " [" + std::to_string(op.offset) + ", +" + std::to_string(op.bytes) +
                    ") is outside resident buffer " + std::to_string(op.handle) + " of " +
                    std::to_string(buf->size()) + " bytes");
      if (op.offset % align != 0)
        throw Error(where() + " offset " + std::to_string(op.offset) + " is not a multiple of " +
                    std::to_string(align));
      return buf->data() + op.offset;
    }
  }
  throw Error(where() + " has unknown operand kind " + std::to_string(op.kind));
}

void CommandRunner::forbid(Slot slot, const char* name, const char* why) const {
  if (cmd_.operands[slot].kind != static_cast<uint32_t>(OperandKind::None))
    throw Error(std::string(name) + " (slot " + std::to_string(slot) + ") must be empty: " + why);
}

void CommandRunner::check_overlap(bool exact_alias_ok) const {
  for (const auto& [name, in] : inputs_) {
    if (in.bytes == 0 || output_.bytes == 0) continue;
    if (exact_alias_ok && in.offset == output_.offset && in.bytes == output_.bytes) continue;
    if (in.offset < output_.offset + output_.bytes && output_.offset < in.offset + in.bytes)
      throw Error(std::string("the output overlaps ") + name + " in the window");
  }
}

const systolic::AcceleratorConfig& CommandRunner::config() const {
  const auto it = server_.configs_.find(cmd_.config_id);
  if (it == server_.configs_.end())
    throw Error("unknown config id " + std::to_string(cmd_.config_id) + " (send the config with set_config first)");
  return it->second;
}

systolic::Counters CommandRunner::conv(bool f32) {
  const WireConvShape& w = cmd_.conv;
  systolic::ConvShape s;
  s.batch = w.batch, s.in_h = w.in_h, s.in_w = w.in_w, s.in_ch = w.in_ch, s.out_ch = w.out_ch;
  s.kernel_h = w.kernel_h, s.kernel_w = w.kernel_w, s.stride_h = w.stride_h, s.stride_w = w.stride_w;
  s.dil_h = w.dil_h, s.dil_w = w.dil_w;
  s.pad_top = w.pad_top, s.pad_left = w.pad_left, s.pad_bottom = w.pad_bottom, s.pad_right = w.pad_right;
  s.groups = w.groups;
  check_flag("pool_enabled", w.pool_enabled);
  check_flag("pool_padding", w.pool_padding);
  s.pool.enabled = w.pool_enabled != 0;
  s.pool.kh = w.pool_kh, s.pool.kw = w.pool_kw, s.pool.sh = w.pool_sh, s.pool.sw = w.pool_sw;
  s.pool.pad_top = w.pool_pad_top, s.pool.pad_left = w.pool_pad_left;
  s.pool.pad_bottom = w.pool_pad_bottom, s.pool.pad_right = w.pool_pad_right;
  s.pool.padding = w.pool_padding ? systolic::PoolPadding::Ignore : systolic::PoolPadding::Zero;
  s.validate();  // bounds every field (<= 2^20, element counts <= 2^40): the products below cannot overflow
  check_flag("relu", cmd_.relu);
  const systolic::Mode mode = wire_mode(cmd_.mode);
  const systolic::AcceleratorConfig& cfg = config();
  const uint64_t e = f32 ? 4 : 1;
  const uint64_t oc = u64(s.out_ch);
  unsigned char* in = operand(kIn, "input", mul(u64(s.input_elems()), e), e, false, false);
  unsigned char* wt = operand(kWeights, "weights", mul(u64(s.weight_elems()), e), e, false, false);
  unsigned char* bias = operand(kBias, "bias", oc * 4, 4, true, false);
  unsigned char* out = operand(kOut, "output", mul(u64(s.output_elems()), e), e, false, true);
  const systolic::ExecOptions opt{server_.pool_.get()};
  if (f32) {
    forbid(kMultipliers, "multipliers", "conv2d_f32 has none");
    check_overlap(false);
    systolic::ConvF32Args a;
    a.shape = s;
    a.input = reinterpret_cast<const float*>(in);
    a.weights = reinterpret_cast<const float*>(wt);
    a.bias = reinterpret_cast<const float*>(bias);
    a.relu = cmd_.relu != 0;
    a.output = reinterpret_cast<float*>(out);
    return systolic::conv2d_f32(cfg, mode, a, opt);
  }
  unsigned char* mult = operand(kMultipliers, "multipliers", oc * 4, 4, true, false);
  check_overlap(false);
  systolic::ConvArgs a;
  a.shape = s;
  a.input = reinterpret_cast<const int8_t*>(in);
  a.weights = reinterpret_cast<const int8_t*>(wt);
  a.bias = reinterpret_cast<const int32_t*>(bias);
  a.multiplier = cmd_.multiplier;
  a.relu = cmd_.relu != 0;
  a.output = reinterpret_cast<int8_t*>(out);
  a.multipliers = reinterpret_cast<const float*>(mult);
  a.x_zero_point = int8_field("x_zero_point", cmd_.x_zero_point);
  a.y_zero_point = cmd_.y_zero_point;  // the model checks its range
  return systolic::conv2d(cfg, mode, a, opt);
}

systolic::Counters CommandRunner::matmul(bool f32) {
  const WireMatmul& m = cmd_.mm;
  check_range("I", m.I, 1, kMaxMatmulDim);
  check_range("J", m.J, 1, kMaxMatmulDim);
  check_range("K", m.K, 1, kMaxMatmulDim);
  if (m.bias_kind > 2) throw Error("bias_kind must be 0 (none), 1 (per column) or 2 (full), got " +
                                   std::to_string(m.bias_kind));
  check_flag("relu", cmd_.relu);
  const systolic::Mode mode = wire_mode(cmd_.mode);
  const systolic::AcceleratorConfig& cfg = config();
  const uint64_t e = f32 ? 4 : 1;
  unsigned char* A = operand(kIn, "A", mul(strided_elems("lda", m.I, m.K, m.lda), e), e, false, false);
  unsigned char* B = operand(kWeights, "B", mul(strided_elems("ldb", m.K, m.J, m.ldb), e), e, false, false);
  const auto bias_kind = static_cast<systolic::BiasKind>(m.bias_kind);
  unsigned char* D = nullptr;
  if (bias_kind == systolic::BiasKind::None) {
    forbid(kBias, "D", "bias_kind is none");
  } else {
    const uint64_t d_elems =
        bias_kind == systolic::BiasKind::PerColumn ? u64(m.J) : strided_elems("ldd", m.I, m.J, m.ldd);
    D = operand(kBias, "D", mul(d_elems, 4), 4, false, false);
  }
  unsigned char* C = operand(kOut, "C", mul(strided_elems("ldc", m.I, m.J, m.ldc), e), e, false, true);
  const systolic::ExecOptions opt{server_.pool_.get()};
  if (f32) {
    forbid(kMultipliers, "multipliers", "matmul_f32 has none");
    check_overlap(false);
    systolic::MatmulF32Args a;
    a.I = m.I, a.J = m.J, a.K = m.K;
    a.A = reinterpret_cast<const float*>(A), a.lda = m.lda;
    a.B = reinterpret_cast<const float*>(B), a.ldb = m.ldb;
    a.bias_kind = bias_kind, a.bias = reinterpret_cast<const float*>(D), a.ldd = m.ldd;
    a.relu = cmd_.relu != 0;
    a.C = reinterpret_cast<float*>(C), a.ldc = m.ldc;
    return systolic::matmul_f32(cfg, mode, a, opt);
  }
  unsigned char* mult = operand(kMultipliers, "multipliers", mul(u64(m.J), 4), 4, true, false);
  check_overlap(false);
  systolic::MatmulArgs a;
  a.I = m.I, a.J = m.J, a.K = m.K;
  a.A = reinterpret_cast<const int8_t*>(A), a.lda = m.lda;
  a.B = reinterpret_cast<const int8_t*>(B), a.ldb = m.ldb;
  a.bias_kind = bias_kind, a.bias = reinterpret_cast<const int32_t*>(D), a.ldd = m.ldd;
  a.multiplier = cmd_.multiplier;
  a.relu = cmd_.relu != 0;
  a.C = reinterpret_cast<int8_t*>(C), a.ldc = m.ldc;
  a.multipliers = reinterpret_cast<const float*>(mult);
  a.x_zero_point = int8_field("x_zero_point", cmd_.x_zero_point);
  a.y_zero_point = cmd_.y_zero_point;
  return systolic::matmul(cfg, mode, a, opt);
}

systolic::Counters CommandRunner::resadd() {
  const WireResadd& r = cmd_.ra;
  check_range("n", r.n, 0, kMaxResadd);
  check_flag("relu", cmd_.relu);
  const systolic::Mode mode = wire_mode(cmd_.mode);
  const systolic::AcceleratorConfig& cfg = config();
  const uint64_t n = u64(r.n);
  unsigned char* A = operand(kIn, "A", n, 1, false, false);
  unsigned char* B = operand(kWeights, "B", n, 1, false, false);
  forbid(kBias, "bias", "resadd has none");
  forbid(kMultipliers, "multipliers", "resadd has none");
  unsigned char* C = operand(kOut, "C", n, 1, false, true);
  check_overlap(true);  // resadd allows C to alias A or B exactly
  systolic::ResaddArgs a;
  a.n = r.n;
  a.A = reinterpret_cast<const int8_t*>(A), a.a_ratio = r.a_ratio;
  a.B = reinterpret_cast<const int8_t*>(B), a.b_ratio = r.b_ratio;
  a.relu = cmd_.relu != 0;
  a.C = reinterpret_cast<int8_t*>(C);
  a.a_zero_point = int8_field("a_zero_point", r.a_zero_point);
  a.b_zero_point = int8_field("b_zero_point", r.b_zero_point);
  a.c_zero_point = r.c_zero_point;
  return systolic::resadd(cfg, mode, a, {server_.pool_.get()});
}

void CommandRunner::quantize() {
  const WireQuantize& q = cmd_.qz;
  check_range("batch", q.batch, 0, kMaxQuantize);
  check_range("channels", q.channels, 0, kMaxQuantize);
  check_range("spatial", q.spatial, 0, kMaxQuantize);
  const uint64_t elems = mul(mul(u64(q.batch), u64(q.channels)), u64(q.spatial));
  if (elems > u64(kMaxQuantize))
    throw Error(std::to_string(elems) + " elements are over the limit of " + std::to_string(kMaxQuantize));
  if (!(std::isfinite(q.scale) && q.scale > 0.0f))
    throw Error("scale must be finite and > 0, got " + std::to_string(q.scale));
  const int8_t zp = int8_field("zero_point", q.zero_point);
  check_flag("to_nhwc", q.to_nhwc);
  if (cmd_.operands[kIn].kind == static_cast<uint32_t>(OperandKind::Resident))
    throw Error("X (slot 0) must be in the window, not a resident buffer");
  unsigned char* X = operand(kIn, "X", elems * 4, 4, false, false);  // elems <= 2^40: no overflow
  forbid(kWeights, "weights", "quantize has none");
  forbid(kBias, "bias", "quantize has none");
  forbid(kMultipliers, "multipliers", "quantize has none");
  unsigned char* Y = operand(kOut, "Y", elems, 1, false, true);
  check_overlap(false);
  systolic::QuantizeArgs a;
  a.batch = q.batch, a.channels = q.channels, a.spatial = q.spatial;
  a.X = reinterpret_cast<const float*>(X);
  a.Y = reinterpret_cast<int8_t*>(Y);
  a.scale = q.scale;
  a.zero_point = zp;
  a.to_nhwc = q.to_nhwc != 0;
  systolic::quantize(a, {server_.pool_.get()});
}

Response CommandRunner::run() {
  Response resp{};
  resp.status = static_cast<uint32_t>(Status::Ok);
  const auto op = [&](const systolic::Counters& c) { counters_to_wire(c, resp.counters); };
  switch (static_cast<CommandKind>(cmd_.kind)) {
    case CommandKind::Ping:
      return resp;
    case CommandKind::SetConfig: {
      const unsigned char* text = operand(kIn, "config text", cmd_.operands[kIn].bytes, 1, false, false);
      if (cmd_.operands[kIn].bytes > kMaxConfigText)
        throw Error("config text of " + std::to_string(cmd_.operands[kIn].bytes) + " bytes is over the limit of " +
                    std::to_string(kMaxConfigText));
      const systolic::AcceleratorConfig cfg = systolic::parse_config_text(
          std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(cmd_.operands[kIn].bytes)),
          "device config");
      for (const auto& [id, known] : server_.configs_)
        if (known == cfg) {
          resp.value = id;
          return resp;
        }
      if (server_.configs_.size() >= server_.limits_.max_configs)
        throw Error("too many distinct configs (" + std::to_string(server_.limits_.max_configs) + ")");
      resp.value = server_.next_config_id_++;
      server_.configs_.emplace(resp.value, cfg);
      return resp;
    }
    case CommandKind::Alloc:
      resp.value = server_.resident_.alloc(cmd_.value);
      return resp;
    case CommandKind::Write: {
      std::vector<unsigned char>* buf = server_.resident_.find(cmd_.handle);
      if (!buf) throw Error("unknown resident handle " + std::to_string(cmd_.handle));
      const uint64_t bytes = cmd_.operands[kIn].bytes;
      const unsigned char* src = operand(kIn, "data", bytes, 1, false, false);
      if (cmd_.value > buf->size() || bytes > buf->size() - cmd_.value)
        throw Error("[" + std::to_string(cmd_.value) + ", +" + std::to_string(bytes) + ") is outside resident buffer " +
                    std::to_string(cmd_.handle) + " of " + std::to_string(buf->size()) + " bytes");
      if (bytes) std::memcpy(buf->data() + cmd_.value, src, static_cast<std::size_t>(bytes));
      return resp;
    }
    case CommandKind::Free:
      server_.resident_.free(cmd_.handle);
      return resp;
    case CommandKind::Conv2d: op(conv(false)); return resp;
    case CommandKind::Conv2dF32: op(conv(true)); return resp;
    case CommandKind::Matmul: op(matmul(false)); return resp;
    case CommandKind::MatmulF32: op(matmul(true)); return resp;
    case CommandKind::Resadd: op(resadd()); return resp;
    case CommandKind::Quantize: quantize(); return resp;  // not counted: the counters stay 0
    case CommandKind::None:
      break;
  }
  throw Error("unknown command kind " + std::to_string(cmd_.kind));
}

Server::Server(unsigned threads, ServerLimits limits)
    : pool_(threads > 1 ? std::make_unique<systolic::ThreadPool>(threads) : nullptr),
      limits_(limits),
      resident_(limits.resident_bytes) {}

Response Server::dispatch(const Command& cmd, unsigned char* window, uint64_t window_bytes) {
  return CommandRunner(*this, cmd, window, window_bytes).run();
}

Response Server::handle(const Command& cmd, unsigned char* window, uint64_t window_bytes) {
  const std::string what = std::string("device: ") + command_name(cmd.kind) + ": ";
  try {
    return dispatch(cmd, window, window_bytes);
  } catch (const std::bad_alloc&) {
    return error_response(what + "out of memory");
  } catch (const std::exception& e) {
    return error_response(what + e.what());
  }
}

}  // namespace rcnn::device
