// The guest side of device mode: rcnn::systolic's ops, run by the native device process (rcnn_device) through the
// shared window instead of in this process. Outputs and counters are bit-identical to the in-process calls.
//
// One Client per process (the window has one command slot; the Client's mutex serialises its callers' ops).
// Operands are copied into the window, the device runs the op natively, the output is copied back. Constant
// operands (weights, bias, multipliers) can live in the device instead: upload() them once, then name them with a
// ResidentRef; the matching pointer in the args is then ignored.
//
// Errors: the op's own argument errors come back as rcnn::systolic::Error with the device's message (prefixed
// "device: <op>: "); a dead or unusable device throws DeviceError (also a systolic::Error). Waiting is bounded
// futex waits of 50 ms with a liveness check at each (the life pipe's POLLHUP, getppid()), so a dead device is
// noticed within about 50 ms and never hangs the caller. After DeviceError every further call throws at once.
// Ops whose operands do not fit the window's data area are refused (DeviceError naming the sizes and
// rcnn_device --window-mb); upload() of any size works (it is sent in window-sized pieces).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "systolic/config.h"
#include "systolic/conv.h"
#include "systolic/counters.h"
#include "systolic/matmul.h"
#include "systolic/quantize.h"
#include "systolic/resadd.h"

namespace rcnn::device {

struct WindowHeader;

class DeviceError : public systolic::Error {
 public:
  using systolic::Error::Error;
};

// A range inside a resident buffer; handle 0 means "not resident, use the pointer in the args".
struct ResidentRef {
  uint64_t handle = 0;
  uint64_t offset = 0;  // bytes from the buffer's start; a multiple of the element size
};

// Which conv2d / matmul operands are resident (matmul: weights = B, bias = D).
struct ResidentOperands {
  ResidentRef weights, bias, multipliers;
};

class Client {
 public:
  // nullptr when RCNN_SYSTOLIC_DEVICE is not set (no device: run in-process); throws DeviceError when it is set but
  // the window cannot be used (bad value, bad descriptor, wrong magic/version, window held by another process).
  static std::unique_ptr<Client> connect_from_env();
  // The same from the variable's value "<window fd>,<life fd>".
  static std::unique_ptr<Client> connect(const std::string& value);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void ping();
  // Sends config text (TOML subset) to be parsed by the device; returns its id. The ops do this by themselves for
  // the AcceleratorConfig they are given (once per distinct config).
  uint64_t set_config(const std::string& text);
  // Copies `bytes` (>= 1) into a new resident buffer; returns its handle.
  uint64_t upload(const void* data, uint64_t bytes);
  void free_buffer(uint64_t handle);

  systolic::Counters conv2d(const systolic::AcceleratorConfig& cfg, systolic::Mode mode, const systolic::ConvArgs& args,
                            const ResidentOperands& resident = {});
  systolic::Counters conv2d_f32(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                const systolic::ConvF32Args& args, const ResidentOperands& resident = {});
  systolic::Counters matmul(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                            const systolic::MatmulArgs& args, const ResidentOperands& resident = {});
  systolic::Counters matmul_f32(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                                const systolic::MatmulF32Args& args, const ResidentOperands& resident = {});
  systolic::Counters resadd(const systolic::AcceleratorConfig& cfg, systolic::Mode mode,
                            const systolic::ResaddArgs& args);
  // Float32 -> int8 (systolic::quantize, run by the device's pool): X is copied into the window, Y back out.
  // Not counted (no Counters). No elements: nothing is sent, as in-process nothing is checked but the sizes.
  void quantize(const systolic::QuantizeArgs& args);

  uint64_t window_bytes() const noexcept { return window_bytes_; }
  int device_pid() const noexcept;

 private:
  class Op;  // one command being put together (client.cpp)
  Client(int shm_fd, int life_fd, unsigned char* window, uint64_t window_bytes);
  uint64_t config_id_locked(const systolic::AcceleratorConfig& cfg);
  // Rings the doorbell and waits for the response (throws DeviceError on death, systolic::Error on an error reply).
  void round_trip_locked();
  void check_alive_locked();

  std::mutex mu_;
  int shm_fd_;
  int life_fd_;
  unsigned char* window_;
  uint64_t window_bytes_;
  WindowHeader* header_;
  int parent_was_device_;  // getppid() == device pid at connect: a later change means the device died
  bool dead_ = false;
  std::string dead_reason_;
  std::vector<std::pair<systolic::AcceleratorConfig, uint64_t>> configs_;
};

// The config as text that parse_config_text() reads back to an equal AcceleratorConfig.
std::string config_to_text(const systolic::AcceleratorConfig& cfg);

}  // namespace rcnn::device
