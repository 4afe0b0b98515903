#include "serve_loop.h"

#include <chrono>
#include <cstring>
#include <new>

#include "device/futex.h"

namespace rcnn::device {

WindowHeader* init_header(unsigned char* window, uint64_t window_bytes, int32_t device_pid) {
  auto* h = new (window) WindowHeader{};
  h->magic = kMagic;
  h->version = kProtocolVersion;
  h->header_bytes = static_cast<uint32_t>(kHeaderBytes);
  h->window_bytes = window_bytes;
  h->device_pid = device_pid;
  h->guest_pid.store(0, std::memory_order_relaxed);
  h->request_seq.store(0, std::memory_order_relaxed);
  h->response_seq.store(0, std::memory_order_release);
  return h;
}

void serve(unsigned char* window, uint64_t window_bytes, Server& server, const std::function<bool()>& should_stop,
           const CommandObserver& observer, int wait_ms) {
  auto* h = reinterpret_cast<WindowHeader*>(window);
  uint32_t seen = h->response_seq.load(std::memory_order_acquire);
  for (;;) {
    const uint32_t req = h->request_seq.load(std::memory_order_acquire);
    if (req == seen) {
      if (should_stop()) return;
      futex_wait(h->request_seq, seen, wait_ms);
      continue;
    }
    // A private copy first: the guest can rewrite the slot at any time, and validation must hold for what runs.
    Command cmd;
    std::memcpy(&cmd, &h->command, sizeof cmd);
    const auto t0 = std::chrono::steady_clock::now();
    const Response resp = server.handle(cmd, window, window_bytes);
    if (observer)
      observer(cmd, resp, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    std::memcpy(&h->response, &resp, sizeof resp);
    seen = req;
    h->response_seq.store(req, std::memory_order_release);
    futex_wake_all(h->response_seq);
  }
}

}  // namespace rcnn::device
