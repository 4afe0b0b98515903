// Seed and regression files: read once, in a fixed (sorted) order so a seed means the same run everywhere.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mutator.h"

namespace fuzz {

struct InputFile {
  std::filesystem::path path;
  Bytes bytes;
};

// Regular files below each folder (recursively), sorted by path; files over `max_size` bytes are skipped (a large
// seed only slows every case down). A folder that does not exist is skipped.
std::vector<InputFile> read_input_files(const std::vector<std::filesystem::path>& folders, size_t max_size);

// Throws std::runtime_error naming the file when it cannot be read.
Bytes read_whole_file(const std::filesystem::path& path);

}  // namespace fuzz
