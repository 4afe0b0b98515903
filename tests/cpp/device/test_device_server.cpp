// Server::handle() against hostile commands: every size, offset, handle, kind, mode, flag and shape field out of
// range must give an error response naming the problem, never an out-of-bounds access (this runs under
// ASan/UBSan in build/host-asan) or a crash. Then a few valid commands, to show the checks are not just refusing
// everything.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "device/protocol.h"
#include "server.h"
#include "systolic/conv.h"

using namespace rcnn::device;

namespace {

constexpr uint64_t kWindow = 1 << 20;

struct Fixture {
  Server server{1, ServerLimits{1 << 16, 4}};
  std::vector<unsigned char> window = std::vector<unsigned char>(kWindow, 0);
  uint64_t config_id = 0;

  Response run(const Command& c) { return server.handle(c, window.data(), kWindow); }
  uint64_t put(uint64_t offset, const std::string& s) {
    std::memcpy(window.data() + offset, s.data(), s.size());
    return s.size();
  }
};

Operand win(uint64_t offset, uint64_t bytes) {
  Operand o{};
  o.kind = static_cast<uint32_t>(OperandKind::Window);
  o.offset = offset;
  o.bytes = bytes;
  return o;
}

Operand res(uint64_t handle, uint64_t offset, uint64_t bytes) {
  Operand o{};
  o.kind = static_cast<uint32_t>(OperandKind::Resident);
  o.handle = handle;
  o.offset = offset;
  o.bytes = bytes;
  return o;
}

Command blank(CommandKind k) {
  Command c{};
  c.kind = static_cast<uint32_t>(k);
  return c;
}

// A valid int8 conv: 1x6x6x4 -> 8 channels, 3x3, pad 1, bias and multipliers; operands packed in the data area.
Command good_conv(uint64_t config_id) {
  Command c = blank(CommandKind::Conv2d);
  c.config_id = config_id;
  c.mode = static_cast<uint32_t>(WireMode::Ws);
  WireConvShape& s = c.conv;
  s.batch = 1, s.in_h = 6, s.in_w = 6, s.in_ch = 4, s.out_ch = 8, s.kernel_h = 3, s.kernel_w = 3;
  s.stride_h = s.stride_w = s.dil_h = s.dil_w = 1;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
  s.groups = 1;
  s.pool_kh = s.pool_kw = s.pool_sh = s.pool_sw = 1;
  c.multiplier = 0.01f;
  c.operands[kIn] = win(kHeaderBytes, 144);
  c.operands[kWeights] = win(kHeaderBytes + 256, 288);
  c.operands[kBias] = win(kHeaderBytes + 1024, 32);
  c.operands[kMultipliers] = win(kHeaderBytes + 1088, 32);
  c.operands[kOut] = win(kHeaderBytes + 2048, 288);
  return c;
}

Command good_matmul(uint64_t config_id) {
  Command c = blank(CommandKind::Matmul);
  c.config_id = config_id;
  c.mm.I = 5, c.mm.J = 7, c.mm.K = 9;
  c.mm.bias_kind = 1;
  c.multiplier = 0.02f;
  c.operands[kIn] = win(kHeaderBytes, 45);
  c.operands[kWeights] = win(kHeaderBytes + 64, 63);
  c.operands[kBias] = win(kHeaderBytes + 128, 28);
  c.operands[kOut] = win(kHeaderBytes + 192, 35);
  return c;
}

Command good_resadd(uint64_t config_id) {
  Command c = blank(CommandKind::Resadd);
  c.config_id = config_id;
  c.ra.n = 100;
  c.ra.a_ratio = c.ra.b_ratio = 0.5f;
  c.operands[kIn] = win(kHeaderBytes, 100);
  c.operands[kWeights] = win(kHeaderBytes + 128, 100);
  c.operands[kOut] = win(kHeaderBytes + 256, 100);
  return c;
}

// A valid quantize: 2 x 3 x 5 floats -> int8, NHWC.
Command good_quantize() {
  Command c = blank(CommandKind::Quantize);
  c.qz.batch = 2, c.qz.channels = 3, c.qz.spatial = 5;
  c.qz.scale = 0.25f;
  c.qz.zero_point = -3;
  c.qz.to_nhwc = 1;
  c.operands[kIn] = win(kHeaderBytes, 120);
  c.operands[kOut] = win(kHeaderBytes + 128, 30);
  return c;
}

void expect_ok(Fixture& f, const Command& c, const std::string& what) {
  const Response r = f.run(c);
  CHECK_EQ_CTX(r.status, static_cast<uint32_t>(Status::Ok), what + ": " + r.message);
}

void expect_error(Fixture& f, const Command& c, const std::string& what, const std::string& needle) {
  const Response r = f.run(c);
  CHECK_EQ_CTX(r.status, static_cast<uint32_t>(Status::Error), what);
  const std::string msg(r.message, strnlen(r.message, kMessageBytes));
  CHECK_MSG(msg.size() < kMessageBytes, what);
  CHECK_MSG(msg.find(needle) != std::string::npos, what + ": '" + needle + "' not in '" + msg + "'");
}

// The window-range checks every operand slot shares: wrong size, in or across the header, past or at the end,
// overflowing offset and offset + size, an unknown operand kind. `with` returns the good command with slot `s`
// replaced; `straddle` is an offset just under the header's end that keeps the slot's alignment.
template <typename With>
void expect_range_errors(Fixture& f, const With& with, const Operand& good, const std::string& slot,
                         uint64_t straddle) {
  expect_error(f, with(win(good.offset, good.bytes + 1)), slot + " size+1", "the shape needs");
  expect_error(f, with(win(good.offset, good.bytes - 1)), slot + " size-1", "the shape needs");
  expect_error(f, with(win(0, good.bytes)), slot + " in the header", "outside the window");
  expect_error(f, with(win(straddle, good.bytes)), slot + " straddles the header", "outside the window");
  expect_error(f, with(win(kWindow - good.bytes + 4, good.bytes)), slot + " past the end", "outside the window");
  expect_error(f, with(win(kWindow, good.bytes)), slot + " at the end", "outside the window");
  expect_error(f, with(win(~uint64_t{0} - 8, good.bytes)), slot + " offset overflow", "outside the window");
  expect_error(f, with(win(~uint64_t{0}, ~uint64_t{0})), slot + " offset+size overflow", "the shape needs");
  Operand bad_kind = good;
  bad_kind.kind = 9;
  expect_error(f, with(bad_kind), slot + " operand kind", "unknown operand kind 9");
}

}  // namespace

int main() {
  Fixture f;

  // Ops before any config.
  expect_error(f, good_conv(1), "no config", "unknown config id 1");
  // Config: bad text, too large, outside the window, then a good one.
  {
    Command c = blank(CommandKind::SetConfig);
    c.operands[kIn] = win(kHeaderBytes, f.put(kHeaderBytes, "dim = 12\n"));
    expect_error(f, c, "bad config", "power of two");
    c.operands[kIn] = win(kHeaderBytes, 70000);
    expect_error(f, c, "huge config", "over the limit");
    c.operands[kIn] = win(kWindow - 4, 8);
    expect_error(f, c, "config past the end", "outside the window");
    c.operands[kIn] = win(kHeaderBytes, f.put(kHeaderBytes, "dim = 8\n"));
    const Response r = f.run(c);
    CHECK_EQ(r.status, static_cast<uint32_t>(Status::Ok));
    f.config_id = r.value;
    CHECK(f.config_id != 0);
    CHECK_EQ(f.run(c).value, f.config_id);  // the same config again: the same id, no new entry
  }
  const uint64_t cfg = f.config_id;
  expect_ok(f, good_conv(cfg), "good conv");
  expect_ok(f, good_matmul(cfg), "good matmul");
  expect_ok(f, good_resadd(cfg), "good resadd");
  expect_ok(f, blank(CommandKind::Ping), "ping");

  // Command kind, mode, flags.
  {
    Command c = good_conv(cfg);
    c.kind = 99;
    expect_error(f, c, "unknown kind", "unknown command kind 99");
    c.kind = 0;
    expect_error(f, c, "kind none", "unknown command kind 0");
    c = good_conv(cfg);
    c.mode = 3;
    expect_error(f, c, "bad mode", "unknown mode 3");
    c = good_conv(cfg);
    c.relu = 2;
    expect_error(f, c, "bad relu", "relu must be 0 or 1");
    c = good_conv(cfg);
    c.conv.pool_enabled = 7;
    expect_error(f, c, "bad pool flag", "pool_enabled");
    c = good_conv(cfg);
    c.conv.pool_padding = 2;
    expect_error(f, c, "bad pool padding", "pool_padding");
    c = good_conv(cfg);
    c.config_id = 77;
    expect_error(f, c, "unknown config", "unknown config id 77");
    c = good_conv(cfg);
    c.x_zero_point = 200;
    expect_error(f, c, "x zero point", "x_zero_point must be in [-128, 127]");
    c = good_conv(cfg);
    c.y_zero_point = 1000;
    expect_error(f, c, "y zero point (the model's own check)", "conv2d");
  }
  // Shapes that fail ConvShape::validate(), including values that would overflow any product.
  {
    const int64_t big = std::numeric_limits<int64_t>::max();
    int64_t WireConvShape::*fields[] = {&WireConvShape::batch,    &WireConvShape::in_h,     &WireConvShape::in_w,
                                        &WireConvShape::in_ch,    &WireConvShape::out_ch,   &WireConvShape::kernel_h,
                                        &WireConvShape::kernel_w, &WireConvShape::stride_h, &WireConvShape::groups};
    for (auto field : fields)
      for (int64_t v : {int64_t{0}, int64_t{-1}, big, std::numeric_limits<int64_t>::min(), int64_t{1} << 21}) {
        Command c = good_conv(cfg);
        c.conv.*field = v;
        expect_error(f, c, "conv field = " + std::to_string(v), "conv2d");
      }
    Command c = good_conv(cfg);
    c.conv.groups = 3;
    expect_error(f, c, "groups", "must divide");
    c = good_conv(cfg);
    c.conv.pad_top = -1;
    expect_error(f, c, "negative pad", "pad_top");
    c = good_conv(cfg);
    c.conv.pool_enabled = 1;
    c.conv.pool_kh = 2, c.conv.pool_pad_top = 2;
    expect_error(f, c, "pool pad", "pool");
    // Element counts far beyond the window: refused by validate() (2^40) or the size checks, never allocated.
    c = good_conv(cfg);
    c.conv.in_h = c.conv.in_w = c.conv.in_ch = 1 << 20;
    expect_error(f, c, "huge tensor", "conv2d");
  }
  // Every operand: wrong size, out of the window, overflowing offset + size, misaligned, wrong kind, unknown handle.
  for (Slot s : {kIn, kWeights, kBias, kMultipliers, kOut}) {
    const std::string slot = "slot " + std::to_string(s);
    const Operand good = good_conv(cfg).operands[s];
    auto with = [&](Operand o) {
      Command c = good_conv(cfg);
      c.operands[s] = o;
      return c;
    };
    expect_range_errors(f, with, good, slot, kHeaderBytes - 1);
    Operand odd = win(good.offset + 2, good.bytes);
    if (s == kBias || s == kMultipliers) expect_error(f, with(odd), slot + " misaligned", "not a multiple of 4");
    expect_error(f, with(res(12345, 0, good.bytes)), slot + " unknown handle",
                 s == kOut ? "must be in the window" : "unknown resident handle 12345");
    if (s == kIn || s == kWeights || s == kOut) expect_error(f, with(Operand{}), slot + " missing", "is missing");
  }
  // Output overlapping an input; resadd may alias exactly but not partially.
  {
    Command c = good_conv(cfg);
    c.operands[kOut] = win(kHeaderBytes + 64, 288);
    expect_error(f, c, "conv output overlaps input", "overlaps input");
    c = good_resadd(cfg);
    c.operands[kOut] = c.operands[kIn];
    expect_ok(f, c, "resadd exact alias");
    c.operands[kOut] = win(kHeaderBytes + 64, 100);
    expect_error(f, c, "resadd partial overlap", "overlaps A");
  }
  // Matmul: dims, strides, bias kinds.
  {
    Command c = good_matmul(cfg);
    c.mm.I = 0;
    expect_error(f, c, "I = 0", "I must be in");
    c = good_matmul(cfg);
    c.mm.K = std::numeric_limits<int64_t>::max();
    expect_error(f, c, "huge K", "K must be in");
    c = good_matmul(cfg);
    c.mm.lda = 3;
    expect_error(f, c, "lda < K", "below the row length");
    c = good_matmul(cfg);
    c.mm.ldc = -5;
    expect_error(f, c, "negative ldc", "ldc must be in");
    c = good_matmul(cfg);
    c.mm.lda = int64_t{1} << 40;
    c.mm.I = int64_t{1} << 31;
    expect_error(f, c, "huge span", "overflows 64 bits");
    c = good_matmul(cfg);
    c.mm.bias_kind = 3;
    expect_error(f, c, "bias kind", "bias_kind");
    c = good_matmul(cfg);
    c.mm.bias_kind = 0;
    expect_error(f, c, "bias given with kind none", "must be empty");
    c = good_matmul(cfg);
    c.mm.bias_kind = 2;
    expect_error(f, c, "full bias too small", "the shape needs 140");
    c = good_matmul(cfg);
    c.kind = static_cast<uint32_t>(CommandKind::MatmulF32);
    expect_error(f, c, "f32 sizes", "the shape needs");
  }
  // Resadd.
  {
    Command c = good_resadd(cfg);
    c.ra.n = -1;
    expect_error(f, c, "negative n", "n must be in");
    c = good_resadd(cfg);
    c.ra.a_zero_point = -129;
    expect_error(f, c, "a zp", "a_zero_point");
    c = good_resadd(cfg);
    c.operands[kBias] = win(kHeaderBytes + 512, 4);
    expect_error(f, c, "resadd bias", "must be empty");
  }
  // Quantize: the result itself, then every field and operand out of range.
  {
    const float xs[] = {0.125f, 0.375f, -0.125f, 1e9f, -1e9f};  // / 0.25: 0.5, 1.5, -0.5 (ties to even), huge
    std::vector<float> x(30);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = xs[i % 5] + static_cast<float>(i / 5);  // channel c adds c
    std::memcpy(f.window.data() + kHeaderBytes, x.data(), 120);
    std::memset(f.window.data() + kHeaderBytes + 128, 0x55, 64);
    expect_ok(f, good_quantize(), "good quantize");
    const auto* y = reinterpret_cast<const int8_t*>(f.window.data() + kHeaderBytes + 128);
    // NHWC: y[(b * 5 + s) * 3 + c] = quantize(x[(b * 3 + c) * 5 + s]); x = xs[s] + b * 3 + c.
    bool right = true;
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 3; ++c)
        for (int sp = 0; sp < 5; ++sp) {
          const int k = 4 * (b * 3 + c);  // (b * 3 + c) / 0.25
          const int expect[] = {k + 0 - 3, k + 2 - 3, k + 0 - 3, 127, -128};
          right = right && y[(b * 5 + sp) * 3 + c] == expect[sp];
        }
    CHECK_MSG(right, "quantize result");
    CHECK_EQ(static_cast<int>(y[30]), 0x55);  // nothing written past Y
    Command c = good_quantize();
    c.qz.to_nhwc = 0;
    expect_ok(f, c, "quantize nchw");
    c.qz.batch = 0;  // no elements: both operands empty but still in the data area
    c.operands[kIn].bytes = c.operands[kOut].bytes = 0;
    expect_ok(f, c, "quantize of nothing");
    c.operands[kIn] = win(0, 0);
    expect_error(f, c, "empty quantize input in the header", "outside the window");

    const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
    int64_t WireQuantize::*dims[] = {&WireQuantize::batch, &WireQuantize::channels, &WireQuantize::spatial};
    for (auto dim : dims)
      for (int64_t v : {int64_t{-1}, small, big, (int64_t{1} << 40) + 1}) {
        c = good_quantize();
        c.qz.*dim = v;
        expect_error(f, c, "quantize dim = " + std::to_string(v), "must be in [0, 1099511627776]");
      }
    c = good_quantize();
    c.qz.batch = c.qz.channels = c.qz.spatial = int64_t{1} << 40;  // each in range, the product overflows
    expect_error(f, c, "quantize product overflow", "overflows 64 bits");
    c.qz.batch = 1, c.qz.channels = int64_t{1} << 20, c.qz.spatial = (int64_t{1} << 20) + 1;
    expect_error(f, c, "quantize product over the limit", "over the limit");
    c = good_quantize();
    c.qz.spatial = int64_t{1} << 30;  // 2^31 x 3 elements: the operands cannot be that large
    expect_error(f, c, "quantize huge tensor", "the shape needs");
    for (float sc : {0.0f, -0.0f, -0.25f, std::numeric_limits<float>::infinity(),
                     -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
      c = good_quantize();
      c.qz.scale = sc;
      expect_error(f, c, "quantize scale " + std::to_string(sc), "scale must be finite and > 0");
    }
    c = good_quantize();
    c.qz.scale = std::numeric_limits<float>::denorm_min();  // tiny but valid
    expect_ok(f, c, "quantize denormal scale");
    for (int32_t zp : {-129, 128, 1 << 30, std::numeric_limits<int32_t>::min()}) {
      c = good_quantize();
      c.qz.zero_point = zp;
      expect_error(f, c, "quantize zp " + std::to_string(zp), "zero_point must be in [-128, 127]");
    }
    for (uint32_t flag : {2u, 0xffffffffu}) {
      c = good_quantize();
      c.qz.to_nhwc = flag;
      expect_error(f, c, "quantize to_nhwc " + std::to_string(flag), "to_nhwc must be 0 or 1");
    }
    for (Slot sl : {kWeights, kBias, kMultipliers}) {
      c = good_quantize();
      c.operands[sl] = win(kHeaderBytes + 512, 4);
      expect_error(f, c, "quantize extra operand " + std::to_string(sl), "must be empty: quantize has none");
    }
    // X and Y: sizes, ranges, overflow, alignment, kinds, overlap.
    for (Slot sl : {kIn, kOut}) {
      const std::string slot = "quantize slot " + std::to_string(sl);
      const Operand good = good_quantize().operands[sl];
      auto with = [&](Operand o) {
        Command q = good_quantize();
        q.operands[sl] = o;
        return q;
      };
      expect_range_errors(f, with, good, slot, kHeaderBytes - 4);
      expect_error(f, with(res(12345, 0, good.bytes)), slot + " resident", "must be in the window");
      expect_error(f, with(Operand{}), slot + " missing", "is missing");
    }
    c = good_quantize();
    c.operands[kIn].offset += 2;  // floats at an odd offset
    expect_error(f, c, "quantize misaligned X", "not a multiple of 4");
    c = good_quantize();
    c.operands[kOut] = win(kHeaderBytes + 64, 30);
    expect_error(f, c, "quantize Y overlaps X", "overlaps X");
    c.operands[kOut] = win(kHeaderBytes, 30);
    expect_error(f, c, "quantize Y aliases X's start", "overlaps X");
    c.operands[kOut] = win(kHeaderBytes + 119, 30);
    expect_error(f, c, "quantize Y on X's last byte", "overlaps X");
    c.operands[kOut] = win(kHeaderBytes + 120, 30);
    expect_ok(f, c, "quantize Y right after X");
  }
  // Resident buffers: limit, write ranges, use as an operand, free.
  {
    Command a = blank(CommandKind::Alloc);
    a.value = 0;
    expect_error(f, a, "alloc 0", "at least 1 byte");
    a.value = (1 << 16) + 1;
    expect_error(f, a, "alloc over the limit", "resident limit");
    a.value = ~uint64_t{0};
    expect_error(f, a, "alloc 2^64-1", "resident limit");
    a.value = 1024;
    const Response r = f.run(a);
    CHECK_EQ(r.status, static_cast<uint32_t>(Status::Ok));
    const uint64_t h = r.value;
    Command w = blank(CommandKind::Write);
    w.handle = h;
    w.value = 1000;
    w.operands[kIn] = win(kHeaderBytes, 100);
    expect_error(f, w, "write past the buffer", "outside resident buffer");
    w.value = ~uint64_t{0};
    expect_error(f, w, "write offset overflow", "outside resident buffer");
    w.handle = h + 100;
    expect_error(f, w, "write unknown handle", "unknown resident handle");
    w.handle = h;
    w.value = 0;
    w.operands[kIn] = win(kHeaderBytes + 256, 288);
    expect_ok(f, w, "write weights");
    Command c = good_conv(cfg);
    c.operands[kWeights] = res(h, 0, 288);
    expect_ok(f, c, "conv with resident weights");
    c.operands[kWeights] = res(h, 800, 288);
    expect_error(f, c, "resident range past the buffer", "outside resident buffer");
    c.operands[kWeights] = res(h, ~uint64_t{0} - 10, 288);
    expect_error(f, c, "resident offset overflow", "outside resident buffer");
    c.operands[kWeights] = res(h, 0, 288);
    c.operands[kBias] = res(h, 2, 32);
    expect_error(f, c, "resident misaligned bias", "not a multiple of 4");
    Command fr = blank(CommandKind::Free);
    fr.handle = h;
    expect_ok(f, fr, "free");
    expect_error(f, fr, "double free", "unknown resident handle");
    c = good_conv(cfg);
    c.operands[kWeights] = res(h, 0, 288);
    expect_error(f, c, "use after free", "unknown resident handle");
    CHECK_EQ(f.server.resident().used_bytes(), uint64_t{0});
  }
  // Too many configs.
  for (int d : {4, 16, 32, 64}) {
    Command c = blank(CommandKind::SetConfig);
    c.operands[kIn] = win(kHeaderBytes, f.put(kHeaderBytes, "dim = " + std::to_string(d) + "\n"));
    const Response r = f.run(c);
    if (d == 64)
      CHECK_MSG(r.status == static_cast<uint32_t>(Status::Error) && std::strstr(r.message, "too many"), r.message);
  }
  // Garbage commands: whatever the bytes, a response comes back.
  {
    uint64_t x = 88172645463325252ull;
    int errors = 0;
    for (int i = 0; i < 20000; ++i) {
      Command c = good_conv(cfg);
      auto* bytes = reinterpret_cast<unsigned char*>(&c);
      for (int k = 0; k < 4; ++k) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        bytes[x % sizeof c] = static_cast<unsigned char>(x >> 32);
      }
      if (i % 4 == 1) c.kind = static_cast<uint32_t>(CommandKind::Matmul);
      if (i % 4 == 2) c.kind = static_cast<uint32_t>(CommandKind::Resadd);
      if (i % 4 == 3) c.kind = static_cast<uint32_t>(CommandKind::Quantize);
      errors += f.run(c).status != 0;
    }
    CHECK(errors > 0);
  }
  // The same for quantize, from a valid one: some of these run (a changed scale or a zero point that stays in
  // range), most are refused; none may touch memory outside the window's data area.
  {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int errors = 0, oks = 0;
    for (int i = 0; i < 20000; ++i) {
      Command c = good_quantize();
      auto* bytes = reinterpret_cast<unsigned char*>(&c);
      const int flips = 1 + i % 4;
      for (int k = 0; k < flips; ++k) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        // Half of the flips land in the fields quantize reads (qz and the operands), the rest anywhere.
        const std::size_t at = k % 2 == 0 ? (x % 2 == 0 ? offsetof(Command, qz) + (x >> 8) % sizeof(WireQuantize)
                                                        : offsetof(Command, operands) + (x >> 8) % sizeof(c.operands))
                                          : (x >> 8) % sizeof c;
        bytes[at] = static_cast<unsigned char>(x >> 32);
      }
      const bool ok = f.run(c).status == 0;
      errors += !ok;
      oks += ok;
    }
    CHECK(errors > 0);
    CHECK(oks > 0);
  }
  return check::finish("device_server");
}
