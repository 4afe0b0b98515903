// Whole-file reads and crash-safe writes. Errors are std::runtime_error naming the path and the OS reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ort_test {

std::vector<uint8_t> read_file(const std::string& path);

// Writes to "<path>.tmp" and renames it over `path`, so a reader never sees a half-written file.
void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes);
void write_file_atomically(const std::string& path, const std::string& text);

// Creates the directory and its parents if missing; fails if `path` exists and is not a directory.
void ensure_directory(const std::string& path);

// Throws unless `path` can be opened for reading (ORT's own "file not found" message is less direct).
void check_readable(const std::string& path, const char* what);

}  // namespace ort_test
