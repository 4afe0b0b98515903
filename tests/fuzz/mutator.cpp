#include "mutator.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace fuzz {
namespace {

// Byte values that sit on the edges parsers test: zero, sign bits, all ones, the varint continuation bit.
constexpr uint8_t kInterestingBytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x7e, 0x81, 0x20, 0x0a, 0x22, 0x3d};

// Integers at the edges of the widths a header or a protobuf field can hold.
constexpr uint64_t kInterestingValues[] = {
    0,          1,           2,           3,           7,          8,          15,
    16,         0x7f,        0x80,        0xff,        0x100,      0x3fff,     0x4000,
    0x7fff,     0x8000,      0xffff,      0x10000,     0x7fffffff, 0x80000000, 0xffffffff,
    0x100000000ull,          0x7fffffffffffffffull,   0x8000000000000000ull,   0xffffffffffffffffull,
    20000,      100000000,   2147483648ull,            (1ull << 24),            (1ull << 31) + 1,
};

enum class Op {
  kFlipBit,
  kInterestingByte,
  kRandomByte,
  kArithmetic,
  kInterestingWord,
  kInsertVarint,
  kOverwriteVarint,
  kInsertRandom,
  kDeleteChunk,
  kDuplicateChunk,
  kCopyChunk,
  kSplice,
  kTruncate,
  kInsertToken,
  kOverwriteToken,
  kCount,
};

uint64_t interesting_value(Rng& rng) {
  if (rng.one_in(4)) return rng.next() >> rng.below(64);  // any magnitude
  return kInterestingValues[rng.index(std::size(kInterestingValues))];
}

}  // namespace

Bytes encode_varint(uint64_t value) {
  Bytes out;
  while (value >= 0x80) {
    out.push_back(static_cast<uint8_t>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
  return out;
}

Mutator::Mutator(std::vector<std::string> dictionary, size_t max_size)
    : dictionary_(std::move(dictionary)), max_size_(max_size) {}

void Mutator::mutate(Bytes& data, Rng& rng, const Bytes& partner) const {
  const size_t count = rng.small(8);
  for (size_t i = 0; i < count; ++i) mutate_once(data, rng, partner);
}

// Inserts up to the size limit: a mutation never makes an input larger than max_size_.
void Mutator::insert(Bytes& data, size_t at, const uint8_t* bytes, size_t count) const {
  if (data.size() >= max_size_) return;
  count = std::min(count, max_size_ - data.size());
  data.insert(data.begin() + static_cast<std::ptrdiff_t>(at), bytes, bytes + count);
}

void Mutator::mutate_once(Bytes& data, Rng& rng, const Bytes& partner) const {
  auto op = static_cast<Op>(rng.below(static_cast<uint64_t>(Op::kCount)));
  if (data.empty() && op != Op::kInsertVarint && op != Op::kInsertRandom && op != Op::kSplice &&
      op != Op::kInsertToken) {
    op = Op::kInsertRandom;  // only growing mutations apply to nothing
  }
  if ((op == Op::kInsertToken || op == Op::kOverwriteToken) && dictionary_.empty()) op = Op::kInterestingWord;
  const size_t size = data.size();
  switch (op) {
    case Op::kFlipBit: data[rng.index(size)] ^= static_cast<uint8_t>(1u << rng.below(8)); break;
    case Op::kInterestingByte:
      data[rng.index(size)] = kInterestingBytes[rng.index(std::size(kInterestingBytes))];
      break;
    case Op::kRandomByte: data[rng.index(size)] = static_cast<uint8_t>(rng.next()); break;
    case Op::kArithmetic: {
      const auto delta = static_cast<uint8_t>(1 + rng.below(16));
      uint8_t& byte = data[rng.index(size)];
      byte = rng.one_in(2) ? static_cast<uint8_t>(byte + delta) : static_cast<uint8_t>(byte - delta);
      break;
    }
    case Op::kInterestingWord: {
      // Little- or big-endian 2/4/8-byte value: image headers are big-endian (PNG, JPEG), BMP little-endian.
      const size_t width = size_t{2} << rng.below(3);
      if (size < width) break;
      const uint64_t value = interesting_value(rng);
      const size_t at = rng.index(size - width + 1);
      const bool big_endian = rng.one_in(2);
      for (size_t i = 0; i < width; ++i) {
        const size_t shift = 8 * (big_endian ? width - 1 - i : i);
        data[at + i] = static_cast<uint8_t>(value >> shift);
      }
      break;
    }
    case Op::kInsertVarint: {
      // Sometimes a whole field: a tag (field 1..31, any wire type) before the value.
      Bytes varint = encode_varint(interesting_value(rng));
      if (rng.one_in(2)) {
        const auto tag = static_cast<uint8_t>(((1 + rng.below(31)) << 3) | rng.below(8));
        varint.insert(varint.begin(), tag);
      }
      insert(data, rng.index(size + 1), varint.data(), varint.size());
      break;
    }
    case Op::kOverwriteVarint: {
      const Bytes varint = encode_varint(interesting_value(rng));
      const size_t at = rng.index(size);
      for (size_t i = 0; i < varint.size() && at + i < size; ++i) data[at + i] = varint[i];
      break;
    }
    case Op::kInsertRandom: {
      Bytes chunk(rng.small(32));
      const uint8_t fill = rng.one_in(2) ? static_cast<uint8_t>(rng.next()) : 0;
      for (uint8_t& byte : chunk) byte = rng.one_in(2) ? fill : static_cast<uint8_t>(rng.next());
      insert(data, rng.index(size + 1), chunk.data(), chunk.size());
      break;
    }
    case Op::kDeleteChunk: {
      const size_t at = rng.index(size);
      const size_t count = std::min(rng.small(size), size - at);
      data.erase(data.begin() + static_cast<std::ptrdiff_t>(at), data.begin() + static_cast<std::ptrdiff_t>(at + count));
      break;
    }
    case Op::kDuplicateChunk: {
      const size_t at = rng.index(size);
      const size_t count = std::min(rng.small(size), size - at);
      const Bytes chunk(data.begin() + static_cast<std::ptrdiff_t>(at),
                        data.begin() + static_cast<std::ptrdiff_t>(at + count));
      insert(data, at, chunk.data(), chunk.size());
      break;
    }
    case Op::kCopyChunk: {  // overwrite one place with bytes from another
      const size_t from = rng.index(size);
      const size_t to = rng.index(size);
      const size_t count = std::min({rng.small(size), size - from, size - to});
      const Bytes chunk(data.begin() + static_cast<std::ptrdiff_t>(from),
                        data.begin() + static_cast<std::ptrdiff_t>(from + count));
      std::copy(chunk.begin(), chunk.end(), data.begin() + static_cast<std::ptrdiff_t>(to));
      break;
    }
    case Op::kSplice: {
      // A prefix of this input, then a suffix of the partner, or a chunk of the partner inserted.
      if (partner.empty()) break;
      const size_t from = rng.index(partner.size());
      if (rng.one_in(2) && !data.empty()) {
        data.resize(rng.index(size + 1));
        insert(data, data.size(), partner.data() + from, partner.size() - from);
      } else {
        const size_t count = std::min(rng.small(partner.size()), partner.size() - from);
        insert(data, rng.index(size + 1), partner.data() + from, count);
      }
      break;
    }
    case Op::kTruncate: data.resize(rng.index(size)); break;
    case Op::kInsertToken: {
      const std::string& token = dictionary_[rng.index(dictionary_.size())];
      insert(data, rng.index(size + 1), reinterpret_cast<const uint8_t*>(token.data()), token.size());
      break;
    }
    case Op::kOverwriteToken: {
      const std::string& token = dictionary_[rng.index(dictionary_.size())];
      const size_t at = rng.index(size);
      for (size_t i = 0; i < token.size() && at + i < size; ++i) data[at + i] = static_cast<uint8_t>(token[i]);
      break;
    }
    case Op::kCount: break;
  }
}

}  // namespace fuzz
