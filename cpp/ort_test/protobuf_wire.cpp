#include "protobuf_wire.h"

namespace ort_test {
namespace {

// Nested groups are obsolete and never used by ONNX; the limit only stops a hostile file from recursing deeply.
constexpr int kMaxGroupDepth = 64;
constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;

}  // namespace

const uint8_t* WireReader::take(size_t count, const char* what) {
  if (count > bytes_.size - pos_) {
    throw WireError(std::string("truncated ") + what + " at byte " + std::to_string(pos_));
  }
  const uint8_t* start = bytes_.data + pos_;
  pos_ += count;
  return start;
}

uint64_t WireReader::read_varint() {
  const size_t start = pos_;
  uint64_t value = 0;
  // A 64-bit varint has at most 10 bytes of 7 bits; the 10th byte may only contribute the top bit.
  for (unsigned shift = 0; shift < 70; shift += 7) {
    if (pos_ == bytes_.size) throw WireError("truncated varint at byte " + std::to_string(start));
    const uint8_t byte = bytes_.data[pos_++];
    if (shift == 63 && (byte & 0x7e) != 0) throw WireError("varint overflows 64 bits at byte " + std::to_string(start));
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw WireError("varint longer than 10 bytes at byte " + std::to_string(start));
}

WireTag WireReader::read_tag() {
  const size_t start = pos_;
  const uint64_t key = read_varint();
  const uint64_t field = key >> 3;
  const auto type = static_cast<uint8_t>(key & 7);
  if (field == 0 || field > kMaxFieldNumber) {
    throw WireError("invalid field number " + std::to_string(field) + " at byte " + std::to_string(start));
  }
  if (type > static_cast<uint8_t>(WireType::kFixed32)) {
    throw WireError("invalid wire type " + std::to_string(type) + " at byte " + std::to_string(start));
  }
  return WireTag{static_cast<uint32_t>(field), static_cast<WireType>(type)};
}

uint32_t WireReader::read_fixed32() {
  const uint8_t* p = take(4, "fixed32");
  uint32_t value = 0;
  for (unsigned i = 0; i < 4; ++i) value |= static_cast<uint32_t>(p[i]) << (8 * i);
  return value;
}

uint64_t WireReader::read_fixed64() {
  const uint8_t* p = take(8, "fixed64");
  uint64_t value = 0;
  for (unsigned i = 0; i < 8; ++i) value |= static_cast<uint64_t>(p[i]) << (8 * i);
  return value;
}

ByteView WireReader::read_length_delimited() {
  const size_t start = pos_;
  const uint64_t length = read_varint();
  if (length > bytes_.size - pos_) {
    throw WireError("length " + std::to_string(length) + " at byte " + std::to_string(start) +
                    " runs past the end of the data");
  }
  const auto size = static_cast<size_t>(length);
  return ByteView{take(size, "length-delimited field"), size};
}

uint64_t WireReader::read_varint_value(WireTag tag) {
  if (tag.type != WireType::kVarint) {
    throw WireError("field " + std::to_string(tag.field) + " has the wrong wire type (expected varint)");
  }
  return read_varint();
}

ByteView WireReader::read_bytes_value(WireTag tag) {
  if (tag.type != WireType::kLengthDelimited) {
    throw WireError("field " + std::to_string(tag.field) + " has the wrong wire type (expected length-delimited)");
  }
  return read_length_delimited();
}

void WireReader::append_varints(WireTag tag, std::vector<uint64_t>& out) {
  if (tag.type == WireType::kVarint) {
    out.push_back(read_varint());
  } else if (tag.type == WireType::kLengthDelimited) {
    WireReader packed(read_length_delimited());
    while (!packed.at_end()) out.push_back(packed.read_varint());
  } else {
    throw WireError("field " + std::to_string(tag.field) + " has the wrong wire type (expected varint)");
  }
}

void WireReader::skip_field(WireTag tag) { skip_value(tag, 0); }

void WireReader::skip_value(WireTag tag, int depth) {
  switch (tag.type) {
    case WireType::kVarint: read_varint(); return;
    case WireType::kFixed64: take(8, "fixed64"); return;
    case WireType::kLengthDelimited: read_length_delimited(); return;
    case WireType::kFixed32: take(4, "fixed32"); return;
    case WireType::kStartGroup: skip_group(tag.field, depth + 1); return;
    case WireType::kEndGroup:
      throw WireError("unexpected end-group tag before byte " + std::to_string(pos_));
  }
}

void WireReader::skip_group(uint32_t field, int depth) {
  if (depth > kMaxGroupDepth) throw WireError("groups nested too deeply at byte " + std::to_string(pos_));
  for (;;) {
    if (at_end()) throw WireError("truncated group (field " + std::to_string(field) + ")");
    const WireTag tag = read_tag();
    if (tag.type == WireType::kEndGroup) {
      if (tag.field != field) {
        throw WireError("end-group tag for field " + std::to_string(tag.field) + " closes group " +
                        std::to_string(field) + " before byte " + std::to_string(pos_));
      }
      return;
    }
    skip_value(tag, depth);
  }
}

void WireWriter::write_varint(uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<uint8_t>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<uint8_t>(value));
}

void WireWriter::write_tag(uint32_t field, WireType type) {
  write_varint((static_cast<uint64_t>(field) << 3) | static_cast<uint8_t>(type));
}

void WireWriter::write_varint_field(uint32_t field, uint64_t value) {
  write_tag(field, WireType::kVarint);
  write_varint(value);
}

void WireWriter::write_packed_varints_field(uint32_t field, const std::vector<uint64_t>& values) {
  std::vector<uint8_t> run;
  WireWriter packed(run);
  for (uint64_t value : values) packed.write_varint(value);
  write_bytes_field(field, run);
}

void WireWriter::write_fixed32_field(uint32_t field, uint32_t value) {
  write_tag(field, WireType::kFixed32);
  for (unsigned i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void WireWriter::write_fixed64_field(uint32_t field, uint64_t value) {
  write_tag(field, WireType::kFixed64);
  for (unsigned i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void WireWriter::write_bytes_field(uint32_t field, const uint8_t* data, size_t size) {
  write_tag(field, WireType::kLengthDelimited);
  write_varint(size);
  out_.insert(out_.end(), data, data + size);
}

void WireWriter::write_bytes_field(uint32_t field, const std::vector<uint8_t>& bytes) {
  write_bytes_field(field, bytes.data(), bytes.size());
}

void WireWriter::write_string_field(uint32_t field, const std::string& text) {
  write_bytes_field(field, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

ByteView MergedMessage::bytes() {
  if (parts_.size() == 1) return parts_.front();
  joined_.clear();
  for (const ByteView& part : parts_) joined_.insert(joined_.end(), part.data, part.data + part.size);
  return ByteView{joined_.data(), joined_.size()};
}

}  // namespace ort_test
