// Shared (not FUTEX_PRIVATE_FLAG) futex wait/wake on a 32-bit word of the window: the kernel keys a shared futex on
// the file page, so a wake from the native device reaches a qemu guest's waiter and vice versa (ep/device/README.md).
// std::atomic::wait and glibc's locks use private futexes, which would not match across the two processes.
#pragma once

#include <atomic>
#include <cstdint>

namespace rcnn::device {

// Sleeps while *word == expected, at most timeout_ms (also returns early on a wake, a signal or a spurious wake-up:
// the caller re-reads the word). Never spins.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, int timeout_ms) noexcept;
void futex_wake_all(std::atomic<uint32_t>& word) noexcept;

}  // namespace rcnn::device
