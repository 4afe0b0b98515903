// Byte-level mutations of a fuzz input: bit flips, interesting values, varints, chunk insert/delete/duplicate,
// splicing with another input, truncation and dictionary tokens. Each call applies a few stacked mutations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "prng.h"

namespace fuzz {

using Bytes = std::vector<uint8_t>;

class Mutator {
 public:
  // `dictionary`: tokens of the input's language (flag names, keys, file names) that random bytes would almost never
  // spell. `max_size`: inputs never grow beyond it.
  Mutator(std::vector<std::string> dictionary, size_t max_size);

  // One to eight stacked mutations (fewer more often). `partner` is another input of the same target, for splicing.
  void mutate(Bytes& data, Rng& rng, const Bytes& partner) const;
  // Exactly one mutation.
  void mutate_once(Bytes& data, Rng& rng, const Bytes& partner) const;

  size_t max_size() const { return max_size_; }

 private:
  void insert(Bytes& data, size_t at, const uint8_t* bytes, size_t count) const;

  std::vector<std::string> dictionary_;
  size_t max_size_;
};

// The varint encoding of `value` (protobuf's base-128, least significant group first).
Bytes encode_varint(uint64_t value);

}  // namespace fuzz
