#include "ep_report_query.h"

#include <dlfcn.h>

#include <cstring>
#include <functional>
#include <stdexcept>

namespace ort_test {
namespace {

// The library ONNX Runtime already loaded (RTLD_NOLOAD: never a second copy), closed again on destruction.
class LoadedLibrary {
 public:
  explicit LoadedLibrary(const std::string& path) : handle_(dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD)) {}
  ~LoadedLibrary() {
    if (handle_ != nullptr) dlclose(handle_);  // drops the reference NOLOAD added
  }
  LoadedLibrary(const LoadedLibrary&) = delete;
  LoadedLibrary& operator=(const LoadedLibrary&) = delete;

  // The exported function `name` as a pointer of type Fn, or null.
  template <typename Fn>
  Fn function(const char* name) const {
    void* symbol = handle_ != nullptr ? dlsym(handle_, name) : nullptr;
    Fn fn = nullptr;
    static_assert(sizeof fn == sizeof symbol, "function and object pointers differ in size");
    std::memcpy(&fn, &symbol, sizeof fn);  // POSIX guarantees this conversion works
    return fn;
  }

 private:
  void* handle_;
};

// The report ABI: fill(buf, len) returns the full length, -1 for "nothing", < -1 for an error.
std::optional<std::string> read_json(const std::function<int(char*, size_t)>& fill, const std::string& what) {
  std::string json;
  for (int attempt = 0; attempt < 4; ++attempt) {  // the report may grow between the sizing call and the copy
    const int length = fill(json.empty() ? nullptr : json.data(), json.size());
    if (length == -1) return std::nullopt;
    if (length < 0) throw std::runtime_error(what + " failed to give its report");
    const size_t needed = static_cast<size_t>(length);
    if (needed < json.size()) {
      json.resize(needed);  // drop the NUL and the spare room
      return json;
    }
    json.assign(needed + 1, '\0');
  }
  throw std::runtime_error(what + " kept changing its report's size");
}

using EpReportFn = int (*)(const char* report_id, char* buf, size_t len);

}  // namespace

std::optional<std::string> query_systolic_ep_report(const std::string& library, const char* report_id) {
  const LoadedLibrary loaded(library);
  const auto report_fn = loaded.function<EpReportFn>("RcnnSystolicEpReport");
  if (report_fn == nullptr) return std::nullopt;
  return read_json([&](char* buf, size_t len) { return report_fn(report_id, buf, len); },
                   "EP library '" + library + "'");
}

}  // namespace ort_test
