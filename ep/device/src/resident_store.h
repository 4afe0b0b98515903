// Device-side buffers that outlive one op (constant weights, biases, multipliers uploaded once per session and named
// by a handle afterwards), bounded in total bytes so that a runaway guest cannot exhaust the host's memory.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace rcnn::device {

class ResidentStore {
 public:
  explicit ResidentStore(uint64_t limit_bytes) : limit_(limit_bytes) {}

  // A zero-filled buffer of `bytes` (>= 1); throws rcnn::systolic::Error when the total would exceed the limit.
  uint64_t alloc(uint64_t bytes);
  // nullptr when the handle is unknown.
  std::vector<unsigned char>* find(uint64_t handle) noexcept;
  // Throws Error when the handle is unknown.
  void free(uint64_t handle);

  uint64_t used_bytes() const noexcept { return used_; }
  uint64_t limit_bytes() const noexcept { return limit_; }
  std::size_t count() const noexcept { return buffers_.size(); }

 private:
  uint64_t limit_;
  uint64_t used_ = 0;
  uint64_t next_handle_ = 1;  // 0 is "no handle" on the wire
  std::map<uint64_t, std::vector<unsigned char>> buffers_;
};

}  // namespace rcnn::device
