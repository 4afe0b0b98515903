#include "external_data.h"

#include <charconv>
#include <limits>
#include <optional>
#include <system_error>

#include "errors.h"

namespace ort_test {
namespace {

namespace fs = std::filesystem;

// ORT reads a tensor whose location is this tag from the memory address written in `offset`: from a model file
// that is an arbitrary read of the process's memory.
constexpr const char* kOrtMemoryAddressTag = "_ORT_MEM_ADDR_";

struct ExternalDataRef {
  std::string location;
  std::optional<std::string> offset;
  std::optional<std::string> length;
};

// ORT lets a repeated key's last value win; refusing repeats keeps there from being two readings of one tensor.
ExternalDataRef collect_entries(const ExternalDataEntries& entries, const std::string& tensor) {
  ExternalDataRef ref;
  bool has_location = false;
  for (const auto& [key, value] : entries) {
    std::optional<std::string>* slot = nullptr;
    if (key == "location") {
      if (has_location) throw RefusedInput("external data of " + tensor + " gives 'location' twice");
      has_location = true;
      ref.location = value;
      continue;
    }
    if (key == "offset") slot = &ref.offset;
    if (key == "length") slot = &ref.length;
    if (!slot) continue;  // checksum, or a key ORT rejects itself
    if (*slot) throw RefusedInput("external data of " + tensor + " gives '" + key + "' twice");
    *slot = value;
  }
  return ref;
}

// The checks that need only the text of the location.
void check_location_text(const std::string& location, const std::string& tensor) {
  if (location.empty()) throw RefusedInput("external data of " + tensor + " has no location");
  if (location.find('\0') != std::string::npos) {
    throw RefusedInput("external data of " + tensor + " has a location containing a NUL byte");
  }
  if (location.find(kOrtMemoryAddressTag) != std::string::npos) {
    throw RefusedInput("external data of " + tensor + " has location '" + location +
                       "', ONNX Runtime's tag for data at a memory address");
  }
  const fs::path path(location);
  if (path.has_root_directory() || path.has_root_name()) {
    throw RefusedInput("external data of " + tensor + " has an absolute location '" + location + "'");
  }
  for (const fs::path& component : path) {
    if (component == "..") {
      throw RefusedInput("external data of " + tensor + " at '" + location + "' leaves the model's folder");
    }
  }
}

// True when `path` is strictly below `folder` (both canonical): compared component by component, so that
// "/models2/x" is not taken to be inside "/models".
bool is_inside(const fs::path& path, const fs::path& folder) {
  auto p = path.begin();
  for (const fs::path& part : folder) {
    if (part.empty()) continue;  // a trailing separator's empty component
    if (p == path.end() || *p != part) return false;
    ++p;
  }
  while (p != path.end() && p->empty()) ++p;  // "folder/" is the folder itself
  return p != path.end();
}

uint64_t parse_size(const std::optional<std::string>& value, const char* key, const std::string& tensor) {
  if (!value) return 0;
  uint64_t parsed = 0;
  const char* end = value->data() + value->size();
  const auto result = std::from_chars(value->data(), end, parsed);
  // ORT parses these into signed 64-bit integers: larger values would be read differently there.
  if (value->empty() || result.ec != std::errc() || result.ptr != end ||
      parsed > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw RefusedInput("external data of " + tensor + " has " + key + " '" + *value +
                       "', not a non-negative decimal integer");
  }
  return parsed;
}

// The resolved file, refused unless it is a regular file inside the model's folder.
fs::path resolve_inside(const std::string& location, const std::string& tensor, const fs::path& model_folder) {
  std::error_code error;
  const fs::path resolved = fs::weakly_canonical(model_folder / location, error);
  if (error) {
    throw RefusedInput("external data file '" + location + "' of " + tensor + " cannot be resolved: " +
                       error.message());
  }
  // The folder itself is inside enough: it fails as a directory below.
  if (!is_inside(resolved, model_folder) && resolved != model_folder) {
    throw RefusedInput("external data of " + tensor + " at '" + location + "' resolves outside the model's folder");
  }
  const fs::file_status status = fs::status(resolved, error);
  if (!fs::exists(status)) {
    throw RefusedInput("external data file '" + location + "' of " + tensor + " not found");
  }
  if (!fs::is_regular_file(status)) {
    throw RefusedInput("external data file '" + location + "' of " + tensor + " is not a regular file");
  }
  return resolved;
}

}  // namespace

uint64_t check_external_data(const ExternalDataEntries& entries, const std::string& tensor,
                             const fs::path& model_folder) {
  const ExternalDataRef ref = collect_entries(entries, tensor);
  check_location_text(ref.location, tensor);
  const fs::path file = resolve_inside(ref.location, tensor, model_folder);
  std::error_code error;
  const uintmax_t file_size = fs::file_size(file, error);
  if (error) {
    throw RefusedInput("external data file '" + ref.location + "' of " + tensor + " cannot be read: " +
                       error.message());
  }
  const uint64_t offset = parse_size(ref.offset, "offset", tensor);
  const uint64_t length = parse_size(ref.length, "length", tensor);
  const bool fits = offset <= file_size && (!ref.length || length <= file_size - offset);
  if (!fits) {
    const std::string span =
        "offset " + std::to_string(offset) + (ref.length ? ", length " + std::to_string(length) : std::string());
    throw RefusedInput("external data of " + tensor + " (" + span + ") runs past the end of '" + ref.location +
                       "' (" + std::to_string(file_size) + " bytes)");
  }
  return ref.length ? length : file_size - offset;
}

fs::path canonical_model_folder(const std::string& model_path) {
  std::error_code error;
  const fs::path folder = fs::absolute(model_path, error).parent_path();
  if (error) throw std::runtime_error("cannot resolve the folder of model '" + model_path + "': " + error.message());
  const fs::path canonical = fs::weakly_canonical(folder, error);
  if (error) throw std::runtime_error("cannot resolve the folder of model '" + model_path + "': " + error.message());
  return canonical;
}

}  // namespace ort_test
