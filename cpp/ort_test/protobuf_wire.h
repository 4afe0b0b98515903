// The protobuf wire format (https://protobuf.dev/programming-guides/encoding/), just enough to read and write
// onnx.TensorProto and to walk an onnx.ModelProto without a protobuf library. Every read is bounds-checked and
// throws WireError on malformed input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ort_test {

class WireError : public std::runtime_error {
 public:
  explicit WireError(const std::string& message) : std::runtime_error(message) {}
};

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

struct WireTag {
  uint32_t field;
  WireType type;
};

// A non-owning view of bytes; the payload of a length-delimited field points into the reader's buffer.
struct ByteView {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

class WireReader {
 public:
  explicit WireReader(ByteView bytes) : bytes_(bytes) {}

  bool at_end() const { return pos_ == bytes_.size; }
  // Offset into the buffer: error messages name it so a corrupt file can be inspected.
  size_t position() const { return pos_; }

  WireTag read_tag();
  uint64_t read_varint();
  uint32_t read_fixed32();
  uint64_t read_fixed64();
  ByteView read_length_delimited();

  // The value of a singular field whose tag was just read; WireError naming the field if its wire type differs.
  uint64_t read_varint_value(WireTag tag);
  ByteView read_bytes_value(WireTag tag);
  // Appends the values of a repeated varint field, packed (one length-delimited run) or one per tag.
  void append_varints(WireTag tag, std::vector<uint64_t>& out);

  // Skips the value of a field whose tag was just read; for a start-group tag, skips through its end-group.
  void skip_field(WireTag tag);

 private:
  void skip_group(uint32_t field, int depth);
  void skip_value(WireTag tag, int depth);
  const uint8_t* take(size_t count, const char* what);

  ByteView bytes_;
  size_t pos_ = 0;
};

// Appends encoded fields to a byte vector.
class WireWriter {
 public:
  explicit WireWriter(std::vector<uint8_t>& out) : out_(out) {}

  void write_varint_field(uint32_t field, uint64_t value);
  void write_packed_varints_field(uint32_t field, const std::vector<uint64_t>& values);  // one length-delimited run
  void write_fixed32_field(uint32_t field, uint32_t value);
  void write_fixed64_field(uint32_t field, uint64_t value);
  void write_bytes_field(uint32_t field, const uint8_t* data, size_t size);
  void write_bytes_field(uint32_t field, const std::vector<uint8_t>& bytes);  // e.g. an embedded message
  void write_string_field(uint32_t field, const std::string& text);

 private:
  void write_tag(uint32_t field, WireType type);
  void write_varint(uint64_t value);

  std::vector<uint8_t>& out_;
};

// A singular embedded-message field as protobuf parses it: when the field occurs more than once, the occurrences
// are merged, which is the same as parsing the concatenation of their bytes (repeated fields append, scalars take
// the last value). Checking the merged bytes makes a message split over several occurrences be seen whole.
class MergedMessage {
 public:
  void add(ByteView part) { parts_.push_back(part); }
  void clear() { parts_.clear(); }
  bool present() const { return !parts_.empty(); }
  // The merged bytes: the one part itself, or a concatenated copy owned by this object (valid until the next call
  // or add). Empty when the field never occurred.
  ByteView bytes();

 private:
  std::vector<ByteView> parts_;
  std::vector<uint8_t> joined_;
};

}  // namespace ort_test
