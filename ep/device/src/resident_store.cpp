#include "resident_store.h"

#include <string>

#include "systolic/types.h"

namespace rcnn::device {

uint64_t ResidentStore::alloc(uint64_t bytes) {
  if (bytes == 0) throw systolic::Error("alloc: a resident buffer needs at least 1 byte");
  if (bytes > limit_ - used_)
    throw systolic::Error("alloc: " + std::to_string(bytes) + " bytes would exceed the device's resident limit (" +
                          std::to_string(used_) + " of " + std::to_string(limit_) +
                          " bytes in use; rcnn_device --resident-mb raises it)");
  const uint64_t handle = next_handle_++;
  buffers_[handle].assign(static_cast<std::size_t>(bytes), 0);
  used_ += bytes;
  return handle;
}

std::vector<unsigned char>* ResidentStore::find(uint64_t handle) noexcept {
  const auto it = buffers_.find(handle);
  return it == buffers_.end() ? nullptr : &it->second;
}

void ResidentStore::free(uint64_t handle) {
  const auto it = buffers_.find(handle);
  if (it == buffers_.end()) throw systolic::Error("free: unknown resident handle " + std::to_string(handle));
  used_ -= it->second.size();
  buffers_.erase(it);
}

}  // namespace rcnn::device
