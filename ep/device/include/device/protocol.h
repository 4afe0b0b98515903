// The shared-memory window between the riscv64 guest (the Systolic EP under qemu-user) and the native device
// process (rcnn_device), and the one command slot in it.
//
// Layout: [WindowHeader, kHeaderBytes][data area, up to window_bytes]. The two sides map the window at different
// addresses, so everything in it is offsets (from the window's start) and fixed-width integers, never pointers.
// x86-64 and riscv64 are both LP64 little-endian with 8-byte int64 alignment: the static_asserts below pin the
// offsets so that a change on one side cannot silently disagree with the other.
//
// One op at a time: the guest fills `command` (and the data area), then increments request_seq (release) and wakes
// it (shared futex); the device reads request_seq (acquire), copies the command out before looking at it (the guest
// may scribble on the window meanwhile: only garbage results, never an out-of-bounds access), runs it, fills
// `response`, stores response_seq = request_seq (release) and wakes it. The guest serialises its ops with a mutex.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "systolic/counters.h"

namespace rcnn::device {

inline constexpr uint64_t kMagic = 0x315645444e4e4352ull;  // "RCNNDEV1" as little-endian bytes
inline constexpr uint32_t kProtocolVersion = 2;  // 2: Quantize (WireQuantize in Command)
inline constexpr uint64_t kHeaderBytes = 4096;
inline constexpr uint64_t kDefaultWindowBytes = uint64_t{256} << 20;
// Operands in the data area start at multiples of this (cache lines; also every element type's alignment).
inline constexpr uint64_t kOperandAlign = 64;
// "<shm fd>,<life fd>": both inherited from rcnn_device (see device_main.cpp).
inline constexpr const char* kEnvVar = "RCNN_SYSTOLIC_DEVICE";
inline constexpr std::size_t kMessageBytes = 480;

enum class CommandKind : uint32_t {
  None = 0,
  Ping = 1,       // no-op round trip
  SetConfig = 2,  // operands[kIn] = config text (TOML subset) -> value = config id
  Alloc = 3,      // value = bytes -> response value = resident handle (zero-filled)
  Write = 4,      // handle, value = offset in the buffer, operands[kIn] = bytes to copy there
  Free = 5,       // handle
  Conv2d = 16,
  Conv2dF32 = 17,
  Matmul = 18,
  MatmulF32 = 19,
  Resadd = 20,
  Quantize = 21,  // WireQuantize; operands[kIn] = float32 input, operands[kOut] = int8 output, both in the window
};

enum class WireMode : uint32_t { Cpu = 0, Os = 1, Ws = 2 };
enum class OperandKind : uint32_t { None = 0, Window = 1, Resident = 2 };
enum class Status : uint32_t { Ok = 0, Error = 1 };

// Operand slots. conv: input, weights, bias, multipliers, output; matmul: A, B, D, multipliers, C;
// resadd: A, B, -, -, C; quantize: X, -, -, -, Y.
enum Slot : uint32_t { kIn = 0, kWeights = 1, kBias = 2, kMultipliers = 3, kOut = 4, kSlots = 5 };

struct Operand {
  uint32_t kind = 0;  // OperandKind
  uint32_t reserved = 0;
  uint64_t offset = 0;  // Window: from the window's start
  uint64_t bytes = 0;   // Window and Resident: the operand's size (checked against the shape)
  uint64_t handle = 0;  // Resident
};

struct WireConvShape {
  int64_t batch, in_h, in_w, in_ch, out_ch, kernel_h, kernel_w, stride_h, stride_w, dil_h, dil_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right, groups;
  int64_t pool_kh, pool_kw, pool_sh, pool_sw, pool_pad_top, pool_pad_left, pool_pad_bottom, pool_pad_right;
  uint32_t pool_enabled;
  uint32_t pool_padding;  // 0 Zero, 1 Ignore
};

struct WireMatmul {
  int64_t I, J, K, lda, ldb, ldd, ldc;
  uint32_t bias_kind;  // 0 None, 1 PerColumn, 2 Full
  uint32_t reserved;
};

struct WireResadd {
  int64_t n;
  float a_ratio, b_ratio;
  int32_t a_zero_point, b_zero_point, c_zero_point;
  uint32_t reserved;
};

// systolic::QuantizeArgs without the pointers: X is [batch, channels, spatial] float32, Y the same (or
// [batch, spatial, channels] when to_nhwc) int8.
struct WireQuantize {
  int64_t batch, channels, spatial;
  float scale;
  int32_t zero_point;  // int8 domain
  uint32_t to_nhwc;    // 0 or 1
  uint32_t reserved;
};

struct Command {
  uint32_t kind;  // CommandKind
  uint32_t mode;  // WireMode (ops)
  uint64_t config_id;
  uint64_t handle;
  uint64_t value;
  WireConvShape conv;
  WireMatmul mm;
  WireResadd ra;
  WireQuantize qz;
  float multiplier;
  uint32_t relu;
  int32_t x_zero_point;
  int32_t y_zero_point;
  Operand operands[kSlots];
};

inline constexpr std::size_t kCounterCount = 0
#define RCNN_SYSTOLIC_COUNTER(name, meaning) +1
#include "systolic/counter_fields.def"
    ;

struct Response {
  uint32_t status;  // Status
  uint32_t reserved;
  uint64_t value;                    // SetConfig: config id; Alloc: handle
  uint64_t counters[kCounterCount];  // ops: every field of counter_fields.def, in its order
  char message[kMessageBytes];       // Error: one line, NUL-terminated
};

struct WindowHeader {
  // Written once by the device before the guest starts; read-only afterwards.
  uint64_t magic;
  uint32_t version;
  uint32_t header_bytes;
  uint64_t window_bytes;
  int32_t device_pid;
  uint32_t reserved0;
  // pid of the guest process that holds the window (0: free). A guest claims it with a CAS at connect and clears
  // it when it disconnects; a claim whose process is gone may be taken over.
  alignas(64) std::atomic<uint32_t> guest_pid;
  alignas(64) std::atomic<uint32_t> request_seq;
  alignas(64) std::atomic<uint32_t> response_seq;
  alignas(64) Command command;
  alignas(64) Response response;
};

static_assert(std::atomic<uint32_t>::is_always_lock_free, "cross-process atomics must be lock-free");
static_assert(std::is_standard_layout_v<WindowHeader>, "offsetof below");
static_assert(std::is_trivially_copyable_v<Command> && std::is_trivially_copyable_v<Response>);
static_assert(sizeof(Operand) == 32);
static_assert(sizeof(WireConvShape) == 200);
static_assert(sizeof(WireMatmul) == 64);
static_assert(sizeof(WireResadd) == 32);
static_assert(sizeof(WireQuantize) == 40);
static_assert(offsetof(Command, qz) == 328);
static_assert(sizeof(Command) == 32 + 200 + 64 + 32 + 40 + 16 + 5 * 32);
static_assert(offsetof(Command, operands) == 384);
static_assert(kCounterCount == 13, "a new counter changes Response: bump kProtocolVersion");
static_assert(sizeof(Response) == 16 + 8 * kCounterCount + kMessageBytes);
static_assert(offsetof(WindowHeader, guest_pid) == 64);
static_assert(offsetof(WindowHeader, request_seq) == 128);
static_assert(offsetof(WindowHeader, response_seq) == 192);
static_assert(offsetof(WindowHeader, command) == 256);
static_assert(offsetof(WindowHeader, response) == 256 + 576);
static_assert(sizeof(WindowHeader) <= kHeaderBytes);

inline void counters_to_wire(const systolic::Counters& c, uint64_t (&out)[kCounterCount]) {
  std::size_t i = 0;
#define RCNN_SYSTOLIC_COUNTER(name, meaning) out[i++] = c.name;
#include "systolic/counter_fields.def"
}

inline systolic::Counters counters_from_wire(const uint64_t (&in)[kCounterCount]) {
  systolic::Counters c;
  std::size_t i = 0;
#define RCNN_SYSTOLIC_COUNTER(name, meaning) c.name = in[i++];
#include "systolic/counter_fields.def"
  return c;
}

}  // namespace rcnn::device
