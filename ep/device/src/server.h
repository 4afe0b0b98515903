// The device's command handler: one Command in, one Response out, every field validated before use.
//
// handle() never trusts the command: op kind, mode, flags, shapes (ConvShape::validate(), matmul/resadd/quantize
// bounds), every operand's size against the shape, every window range against the window (overflow-safe), resident
// handles and their ranges, the config id, output/input overlap. A bad command gets Status::Error with a one-line message;
// exceptions from the accelerator model (systolic::Error, std::bad_alloc) become error responses too.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "device/protocol.h"
#include "resident_store.h"
#include "systolic/config.h"
#include "systolic/thread_pool.h"

namespace rcnn::device {

struct ServerLimits {
  uint64_t resident_bytes = uint64_t{1} << 30;
  std::size_t max_configs = 64;
};

class Server {
 public:
  // threads: the accelerator model's pool size (1: run on the calling thread). Results do not depend on it.
  explicit Server(unsigned threads, ServerLimits limits = {});

  // `window` is the whole mapping (header included, window_bytes long); operands may name only the data area
  // [kHeaderBytes, window_bytes). The command must already be a private copy (the guest may change the window).
  Response handle(const Command& cmd, unsigned char* window, uint64_t window_bytes);

  const ResidentStore& resident() const noexcept { return resident_; }

 private:
  Response dispatch(const Command& cmd, unsigned char* window, uint64_t window_bytes);

  std::unique_ptr<systolic::ThreadPool> pool_;
  ServerLimits limits_;
  ResidentStore resident_;
  std::map<uint64_t, systolic::AcceleratorConfig> configs_;
  uint64_t next_config_id_ = 1;
  friend class CommandRunner;
};

// Fills a response with Status::Error and the message (truncated to fit, always NUL-terminated).
Response error_response(const std::string& message) noexcept;
const char* command_name(uint32_t kind) noexcept;

}  // namespace rcnn::device
