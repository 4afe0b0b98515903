#include "systolic_query.h"

#include <dlfcn.h>

#include <cstring>
#include <stdexcept>

#include "rcnn/systolic_ops.h"

namespace ort_test {

std::optional<std::string> query_systolic_stats(const std::string& library, const OrtSessionOptions* options) {
  // RTLD_NOLOAD: only a library that is already loaded (by ORT's RegisterCustomOpsLibrary) is returned.
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return std::nullopt;
  struct Close {
    void* handle;
    ~Close() { dlclose(handle); }  // drops the reference NOLOAD added
  } close{handle};
  void* symbol = dlsym(handle, "RcnnSystolicStats");
  if (symbol == nullptr) return std::nullopt;
  RcnnSystolicStatsFn stats_fn = nullptr;
  static_assert(sizeof stats_fn == sizeof symbol, "function and object pointers differ in size");
  std::memcpy(&stats_fn, &symbol, sizeof stats_fn);  // POSIX guarantees this conversion works

  std::string json;
  for (int attempt = 0; attempt < 4; ++attempt) {  // counters may grow between the sizing call and the copy
    const int length = stats_fn(options, json.empty() ? nullptr : json.data(), json.size());
    if (length == -1) return std::nullopt;
    if (length < 0) throw std::runtime_error("custom-op library '" + library + "' failed to report statistics");
    const size_t needed = static_cast<size_t>(length);
    if (needed < json.size()) {
      json.resize(needed);  // drop the NUL and the spare room
      return json;
    }
    json.assign(needed + 1, '\0');
  }
  throw std::runtime_error("custom-op library '" + library + "' kept changing its statistics' size");
}

}  // namespace ort_test
