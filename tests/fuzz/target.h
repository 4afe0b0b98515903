// A fuzz target: one parser of untrusted input, called in-process on mutated bytes. A target returns normally when
// the parser accepted the input or threw one of its documented exception types; anything else escapes (an
// exception of another type, a FuzzFailure for a broken invariant) or never returns (sanitizer report, signal,
// hang), and the fuzzer counts it as a crash.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mutator.h"

namespace fuzz {

// An accepted input that breaks what the parser promises about its result (e.g. a tensor whose bytes disagree with
// its shape). Deliberately no std::exception, so no target's catch clause can swallow it.
struct FuzzFailure {
  std::string message;
};

struct Outcome {
  bool accepted = false;
  // A coarse description of what the parser did (the refusal's message with names and numbers stripped, or the
  // kind of result). Inputs with a feature not seen before join the pool of inputs to mutate further.
  std::string feature;
};

class Target {
 public:
  virtual ~Target() = default;
  virtual const char* name() const = 0;
  // The exception types the target lets through, for the summary and help.
  virtual const char* documented_errors() const = 0;
  // Whether a corpus file is a seed of this target (by its extension); seed() turns its bytes into an input.
  virtual bool takes_seed(const std::filesystem::path& file) const = 0;
  virtual Bytes seed(const std::filesystem::path& /*file*/, Bytes bytes) const { return bytes; }
  virtual std::vector<std::string> dictionary() const { return {}; }
  // Whether `--target all` runs it.
  virtual bool in_all() const { return true; }
  // Inputs are protobuf messages: mutate their fields too, not only their bytes.
  virtual bool protobuf_input() const { return false; }
  virtual Outcome run(const Bytes& input) = 0;
};

// The feature of a refusal: the first words of its message without digits, quoted text and bracketed shapes, so
// "tensor 'W' [2,3] holds 20 bytes" and "tensor 'b' [8] holds 8 bytes" are the same behaviour.
std::string message_feature(const char* message);

// Knobs a target derives from its input (preprocessing size, which limit applies), so that replaying a saved
// input repeats exactly the same call.
uint64_t input_hash(const Bytes& input);

// The scratch folder model targets point external data at: regular files, a folder, a FIFO and symlinks leading in
// and out (scratch.cpp). Removed by the destructor.
class Scratch {
 public:
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const std::filesystem::path& root() const { return root_; }     // holds `models`, the links' target ".." etc.
  const std::filesystem::path& models() const { return models_; }  // the model's folder

 private:
  std::filesystem::path root_;
  std::filesystem::path models_;
};

// Replaces a scratch file's contents. Unlinks it first: ext4 flushes a file truncated and rewritten in place to disk
// on close (auto_da_alloc), which made every image case wait for the disk.
void write_scratch_file(const std::string& path, const Bytes& bytes);

std::unique_ptr<Target> make_model_target(const Scratch& scratch);
std::unique_ptr<Target> make_tensor_proto_target();
std::unique_ptr<Target> make_image_target(const Scratch& scratch);
std::unique_ptr<Target> make_args_target(const Scratch& scratch);
std::unique_ptr<Target> make_ep_options_target();
std::unique_ptr<Target> make_systolic_config_target();
std::unique_ptr<Target> make_json_target();
std::unique_ptr<Target> make_selftest_target();

}  // namespace fuzz
