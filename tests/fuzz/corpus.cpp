#include "corpus.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

namespace fuzz {

namespace fs = std::filesystem;

Bytes read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path.string() + "'");
  Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("cannot read '" + path.string() + "'");
  return bytes;
}

std::vector<InputFile> read_input_files(const std::vector<fs::path>& folders, size_t max_size) {
  std::vector<fs::path> paths;
  for (const fs::path& folder : folders) {
    std::error_code error;
    if (!fs::is_directory(folder, error)) continue;
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(folder)) {
      if (entry.is_regular_file() && entry.file_size() <= max_size) paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<InputFile> files;
  for (const fs::path& path : paths) files.push_back(InputFile{path, read_whole_file(path)});
  return files;
}

}  // namespace fuzz
