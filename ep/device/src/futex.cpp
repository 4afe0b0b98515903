#include "device/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>

namespace rcnn::device {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "the kernel sees the atomic as a plain u32");

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, int timeout_ms) noexcept {
  timespec to{};
  to.tv_sec = timeout_ms / 1000;
  to.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
  // EAGAIN (the word already changed), ETIMEDOUT and EINTR all mean "look again": the callers loop.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT, expected, &to, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& word) noexcept {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace rcnn::device
