#include "file_io.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <system_error>

namespace ort_test {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::runtime_error os_error(const std::string& action, const std::string& path, int error) {
  return std::runtime_error("cannot " + action + " '" + path + "': " + std::strerror(error));
}

FilePtr open_or_throw(const std::string& path, const char* mode, const std::string& action) {
  FilePtr file(std::fopen(path.c_str(), mode));
  if (!file) throw os_error(action, path, errno);
  return file;
}

void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  const std::string temp = path + ".tmp";
  {
    FilePtr file = open_or_throw(temp, "wb", "create");
    if (size != 0 && std::fwrite(data, 1, size, file.get()) != size) throw os_error("write", temp, errno);
    // fclose flushes: its failure (e.g. disk full) must not be ignored.
    if (std::fclose(file.release()) != 0) throw os_error("write", temp, errno);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temp.c_str());
    throw os_error("rename " + temp + " to", path, error);
  }
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  FilePtr file = open_or_throw(path, "rb", "open");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (;;) {
    const size_t got = std::fread(chunk, 1, sizeof chunk, file.get());
    bytes.insert(bytes.end(), chunk, chunk + got);
    if (got < sizeof chunk) break;
  }
  // A directory opens fine on Linux; reading it is what fails (EISDIR).
  if (std::ferror(file.get())) throw os_error("read", path, errno);
  return bytes;
}

void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_bytes(path, bytes.data(), bytes.size());
}

void write_file_atomically(const std::string& path, const std::string& text) {
  write_bytes(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

void ensure_directory(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) throw std::runtime_error("cannot create directory '" + path + "': " + error.message());
  if (!std::filesystem::is_directory(path, error)) {
    throw std::runtime_error("'" + path + "' exists and is not a directory");
  }
}

void check_readable(const std::string& path, const char* what) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw std::runtime_error(std::string("cannot open ") + what + " '" + path + "': it is a directory");
  }
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) throw std::runtime_error(std::string("cannot open ") + what + " '" + path + "': " + std::strerror(errno));
}

}  // namespace ort_test
