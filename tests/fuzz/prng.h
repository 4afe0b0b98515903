// Deterministic pseudo-random numbers for the fuzzer: splitmix64 to turn a seed into state, xoshiro256** for the
// stream (both written here from their published definitions). std:: engines are deterministic too, but their
// distributions are not the same across standard libraries, and a seed must mean the same cases everywhere.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzz {

// One step of splitmix64: advances `state` and returns a well-mixed 64-bit value.
inline uint64_t splitmix64(uint64_t& state) {
  state += 0x9e3779b97f4a7c15ull;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The seed of one case of one target. Which pool entries case k starts from depends on the cases before it (the
// pool grows), so a run is reproduced from its seed as a whole; a single crash is reproduced from its saved input.
inline uint64_t case_seed(uint64_t run_seed, uint64_t target_index, uint64_t case_index) {
  uint64_t state = run_seed;
  uint64_t mixed = splitmix64(state) ^ (target_index * 0xd1b54a32d192ed03ull);
  state = mixed;
  mixed = splitmix64(state) ^ case_index;
  state = mixed;
  return splitmix64(state);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t state = seed;
    for (uint64_t& word : s_) word = splitmix64(state);
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform enough in [0, n) for n > 0 (the modulo bias is below 2^-40 for the sizes used here).
  uint64_t below(uint64_t n) { return next() % n; }
  size_t index(size_t n) { return static_cast<size_t>(below(n)); }
  // True once in `n` calls on average.
  bool one_in(uint64_t n) { return below(n) == 0; }
  // In [1, max], small values much more often than large ones: chunk lengths, how many mutations to stack.
  size_t small(size_t max) {
    if (max == 0) return 0;
    const size_t bound = static_cast<size_t>(1) << below(bits_of(max) + 1);
    const size_t limit = bound < max ? bound : max;
    return 1 + index(limit);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t bits_of(size_t n) {
    uint64_t bits = 0;
    while (n >>= 1) ++bits;
    return bits;
  }

  uint64_t s_[4];
};

// FNV-1a: a stable hash of bytes, for outcome features and for targets that derive their knobs from the input.
inline uint64_t fnv1a(const uint8_t* data, size_t size, uint64_t hash = 0xcbf29ce484222325ull) {
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

}  // namespace fuzz
