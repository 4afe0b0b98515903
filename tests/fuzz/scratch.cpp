// The scratch folder of the model and args targets. A model's external data may name any of these entries; the
// gate must accept only the regular files inside `models` and refuse the rest without opening them (the FIFO would
// block a reader: a hang, which the fuzzer reports).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "target.h"

namespace fuzz {
namespace {

namespace fs = std::filesystem;

void write_bytes(const fs::path& path, size_t size) {
  std::ofstream out(path, std::ios::binary);
  for (size_t i = 0; i < size; ++i) out.put(static_cast<char>(i * 7 + 1));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

fs::path make_temporary_folder() {
  const char* tmpdir = std::getenv("TMPDIR");
  const fs::path parent(tmpdir && *tmpdir ? tmpdir : "/tmp");
  fs::create_directories(parent);  // ctest points TMPDIR at a folder of the build tree, emptied between runs
  std::string pattern = (parent / "fuzz_rcnn.XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a scratch folder from " + pattern);
  return fs::path(pattern);
}

}  // namespace

Scratch::Scratch() : root_(make_temporary_folder()), models_(root_ / "models") {
  // Canonical, as ort_test resolves the model's folder: /tmp may itself be a symlink.
  root_ = fs::canonical(root_);
  models_ = root_ / "models";
  fs::create_directories(models_ / "sub");
  fs::create_directories(models_ / "dir");
  write_bytes(root_ / "secret.bin", 24);   // outside the model's folder
  write_bytes(models_ / "ok_w.bin", 24);   // float32 [2,3], as tests/cpp/data/external/ok_w.bin
  write_bytes(models_ / "big.bin", 4096);
  write_bytes(models_ / "empty.bin", 0);
  write_bytes(models_ / "sub" / "w.bin", 24);
  if (mkfifo((models_ / "fifo").c_str(), 0600) != 0) throw std::runtime_error("cannot create the scratch FIFO");
  fs::create_symlink("ok_w.bin", models_ / "link_in");
  fs::create_symlink("../secret.bin", models_ / "link_out");
  fs::create_symlink("..", models_ / "link_up");
  fs::create_symlink("link_loop", models_ / "link_loop");
  fs::create_symlink("missing.bin", models_ / "dangling");
  fs::create_symlink(root_, models_ / "link_abs");
}

void write_scratch_file(const std::string& path, const Bytes& bytes) {
  ::unlink(path.c_str());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write the scratch file " + path);
}

Scratch::~Scratch() {
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

}  // namespace fuzz
