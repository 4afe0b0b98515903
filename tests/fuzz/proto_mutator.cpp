#include "proto_mutator.h"

#include <cstddef>
#include <iterator>
#include <optional>
#include <utility>

#include "protobuf_wire.h"

namespace fuzz {
namespace {

using ort_test::ByteView;
using ort_test::WireError;
using ort_test::WireReader;
using ort_test::WireTag;
using ort_test::WireType;

// Messages deeper than this are treated as opaque bytes (a model rarely nests more than graph/node/attribute/
// graph/node/attribute/tensor).
constexpr int kMaxDepth = 12;

// One field as it was read: for length-delimited fields `value` is the payload, for the others the encoded value.
struct Field {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  Bytes value;
};

Bytes to_bytes(ByteView view) { return Bytes(view.data, view.data + view.size); }

// The fields of a message; nullopt for bytes that are no message, or that use groups (never in ONNX files).
std::optional<std::vector<Field>> parse_fields(const Bytes& message) {
  std::vector<Field> fields;
  WireReader reader(ByteView{message.data(), message.size()});
  try {
    while (!reader.at_end()) {
      const WireTag tag = reader.read_tag();
      Field field{tag.field, tag.type, {}};
      const size_t start = reader.position();
      switch (tag.type) {
        case WireType::kLengthDelimited: field.value = to_bytes(reader.read_length_delimited()); break;
        case WireType::kVarint:
        case WireType::kFixed64:
        case WireType::kFixed32:
          reader.skip_field(tag);
          field.value.assign(message.begin() + static_cast<std::ptrdiff_t>(start),
                             message.begin() + static_cast<std::ptrdiff_t>(reader.position()));
          break;
        case WireType::kStartGroup:
        case WireType::kEndGroup: return std::nullopt;
      }
      fields.push_back(std::move(field));
    }
  } catch (const WireError&) {
    return std::nullopt;
  }
  return fields;
}

void append(Bytes& out, const Bytes& bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

Bytes serialize(const std::vector<Field>& fields) {
  Bytes out;
  for (const Field& field : fields) {
    append(out, encode_varint((static_cast<uint64_t>(field.number) << 3) | static_cast<uint8_t>(field.type)));
    if (field.type == WireType::kLengthDelimited) append(out, encode_varint(field.value.size()));
    append(out, field.value);
  }
  return out;
}

enum class FieldOp { kMutateValue, kDelete, kDuplicate, kMove, kRenumber, kRetype, kSetVarint, kFromPartner, kCount };

// A value of a field whose wire type changed: something the new type can hold, so the framing stays valid.
Bytes value_for_type(WireType type, Rng& rng) {
  switch (type) {
    case WireType::kVarint: return encode_varint(rng.next() >> rng.below(64));
    case WireType::kFixed32: return Bytes(4, static_cast<uint8_t>(rng.next()));
    case WireType::kFixed64: return Bytes(8, static_cast<uint8_t>(rng.next()));
    default: return Bytes(rng.below(4), static_cast<uint8_t>(rng.next()));
  }
}

bool mutate_at_depth(Bytes& message, Rng& rng, const Mutator& bytes, const Bytes& partner, int depth) {
  std::optional<std::vector<Field>> parsed = parse_fields(message);
  if (!parsed || parsed->empty()) return false;
  std::vector<Field>& fields = *parsed;
  const size_t pick = rng.index(fields.size());
  Field& field = fields[pick];
  const auto op = static_cast<FieldOp>(rng.below(static_cast<uint64_t>(FieldOp::kCount)));
  // Most of the time go down into an embedded message: the interesting tensors sit several levels deep.
  if (field.type == WireType::kLengthDelimited && depth < kMaxDepth && !rng.one_in(3) &&
      mutate_at_depth(field.value, rng, bytes, partner, depth + 1)) {
    message = serialize(fields);
    return true;
  }
  switch (op) {
    case FieldOp::kMutateValue:
      // Only length-delimited values change size; the others keep their width so the framing holds.
      if (field.type == WireType::kLengthDelimited) {
        bytes.mutate(field.value, rng, partner);
      } else if (field.type == WireType::kVarint) {
        field.value = encode_varint(rng.next() >> rng.below(64));
      } else {
        field.value[rng.index(field.value.size())] = static_cast<uint8_t>(rng.next());
      }
      break;
    case FieldOp::kDelete: fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(pick)); break;
    case FieldOp::kDuplicate: {
      const Field copy = field;
      fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(rng.index(fields.size() + 1)), copy);
      break;
    }
    case FieldOp::kMove: {
      Field moved = std::move(field);
      fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(pick));
      fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(rng.index(fields.size() + 1)), std::move(moved));
      break;
    }
    case FieldOp::kRenumber:
      field.number = rng.one_in(2) ? static_cast<uint32_t>(1 + rng.below(30))
                                   : static_cast<uint32_t>(field.number + 1 + rng.below(2));
      break;
    case FieldOp::kRetype: {
      static constexpr WireType kTypes[] = {WireType::kVarint, WireType::kFixed64, WireType::kLengthDelimited,
                                            WireType::kFixed32};
      field.type = kTypes[rng.index(4)];
      field.value = value_for_type(field.type, rng);
      break;
    }
    case FieldOp::kSetVarint: {
      static constexpr uint64_t kValues[] = {0, 1, 2, 8, 13, 14, 16, 0x7f, 0x80, 0x7fffffff, 0xffffffff,
                                             0x7fffffffffffffffull, 0x8000000000000000ull, 0xffffffffffffffffull};
      field.type = WireType::kVarint;
      field.value = encode_varint(rng.one_in(3) ? rng.next() >> rng.below(64) : kValues[rng.index(std::size(kValues))]);
      break;
    }
    case FieldOp::kFromPartner: {
      // A field of the other input (a whole initializer, node or graph), inserted at this level.
      const std::optional<std::vector<Field>> donor = parse_fields(partner);
      if (!donor || donor->empty()) return false;
      const Field& given = (*donor)[rng.index(donor->size())];
      fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(rng.index(fields.size() + 1)), given);
      break;
    }
    case FieldOp::kCount: break;
  }
  message = serialize(fields);
  return true;
}

}  // namespace

bool mutate_protobuf(Bytes& message, Rng& rng, const Mutator& bytes, const Bytes& partner) {
  return mutate_at_depth(message, rng, bytes, partner, 0);
}

}  // namespace fuzz
