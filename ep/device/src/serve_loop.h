// The device's side of the doorbell: wait for a request (bounded shared-futex waits, no spinning), handle it,
// publish the response, wake the guest.
#pragma once

#include <cstdint>
#include <functional>

#include "device/protocol.h"
#include "server.h"

namespace rcnn::device {

// Called after each command with the time handle() took (for rcnn_device --verbose).
using CommandObserver = std::function<void(const Command&, const Response&, double handle_ms)>;

// Serves the window until should_stop() returns true; it is asked at every wait timeout (wait_ms) and after every
// interrupted wait (e.g. SIGCHLD), never while an op runs.
void serve(unsigned char* window, uint64_t window_bytes, Server& server, const std::function<bool()>& should_stop,
           const CommandObserver& observer = nullptr, int wait_ms = 50);

// Writes a fresh header (magic, version, sizes, pid, sequence words 0) at the start of the window.
WindowHeader* init_header(unsigned char* window, uint64_t window_bytes, int32_t device_pid);

}  // namespace rcnn::device
