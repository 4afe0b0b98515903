#include "tensor_check.h"

#include <limits>

#include "data_type.h"
#include "errors.h"
#include "external_data.h"
#include "size_limits.h"
#include "tensor.h"

namespace ort_test {
namespace {

// Field numbers of onnx.TensorProto and onnx.StringStringEntryProto (onnx/onnx.proto).
enum TensorField : uint32_t {
  kDims = 1,
  kDataType = 2,
  kFloatData = 4,
  kInt32Data = 5,
  kInt64Data = 7,
  kName = 8,
  kRawData = 9,
  kDoubleData = 10,
  kUint64Data = 11,
  kExternalData = 13,
  kDataLocation = 14,
};
enum EntryField : uint32_t { kKey = 1, kValue = 2 };
constexpr uint64_t kDataLocationExternal = 1;

// The fields that say how large the tensor is and where its data is; values are counted, not read.
struct TensorFields {
  std::string name;
  uint64_t data_type = 0;
  std::vector<int64_t> dims;
  std::optional<size_t> raw_data_size;
  uint64_t float_values = 0;
  uint64_t int32_values = 0;
  uint64_t int64_values = 0;
  uint64_t double_values = 0;
  uint64_t uint64_values = 0;
  ExternalDataEntries external_data;
  uint64_t data_location = 0;
};

std::string as_string(ByteView bytes) { return std::string(reinterpret_cast<const char*>(bytes.data), bytes.size); }

std::string wrong_wire_type(WireTag tag) {
  return "field " + std::to_string(tag.field) + " of a TensorProto has the wrong wire type";
}

uint64_t count_varints(WireReader& reader, WireTag tag) {
  if (tag.type == WireType::kVarint) {
    reader.read_varint();
    return 1;
  }
  if (tag.type != WireType::kLengthDelimited) throw WireError(wrong_wire_type(tag));
  WireReader packed(reader.read_length_delimited());
  uint64_t count = 0;
  for (; !packed.at_end(); ++count) packed.read_varint();
  return count;
}

// Counts a repeated fixed32 (width 4) or fixed64 (width 8) field, packed or not.
uint64_t count_fixed(WireReader& reader, WireTag tag, WireType single, size_t width) {
  if (tag.type == single) {
    reader.skip_field(tag);
    return 1;
  }
  if (tag.type != WireType::kLengthDelimited) throw WireError(wrong_wire_type(tag));
  const ByteView run = reader.read_length_delimited();
  if (run.size % width != 0) throw WireError("packed field " + std::to_string(tag.field) + " has a partial value");
  return run.size / width;
}

std::pair<std::string, std::string> read_entry(ByteView bytes) {
  std::pair<std::string, std::string> entry;
  WireReader reader(bytes);
  while (!reader.at_end()) {
    const WireTag tag = reader.read_tag();
    if (tag.field == kKey) {
      entry.first = as_string(reader.read_bytes_value(tag));
    } else if (tag.field == kValue) {
      entry.second = as_string(reader.read_bytes_value(tag));
    } else {
      reader.skip_field(tag);
    }
  }
  return entry;
}

TensorFields read_fields(ByteView bytes) {
  TensorFields fields;
  WireReader reader(bytes);
  while (!reader.at_end()) {
    const WireTag tag = reader.read_tag();
    switch (tag.field) {
      case kDims: {
        std::vector<uint64_t> dims;
        reader.append_varints(tag, dims);
        // int64 travels as the two's complement varint of the value.
        for (uint64_t dim : dims) fields.dims.push_back(static_cast<int64_t>(dim));
        break;
      }
      case kDataType: fields.data_type = reader.read_varint_value(tag); break;
      case kFloatData: fields.float_values += count_fixed(reader, tag, WireType::kFixed32, 4); break;
      case kInt32Data: fields.int32_values += count_varints(reader, tag); break;
      case kInt64Data: fields.int64_values += count_varints(reader, tag); break;
      case kName: fields.name = as_string(reader.read_bytes_value(tag)); break;
      case kRawData: fields.raw_data_size = reader.read_bytes_value(tag).size; break;
      case kDoubleData: fields.double_values += count_fixed(reader, tag, WireType::kFixed64, 8); break;
      case kUint64Data: fields.uint64_values += count_varints(reader, tag); break;
      case kExternalData: fields.external_data.push_back(read_entry(reader.read_bytes_value(tag))); break;
      case kDataLocation: fields.data_location = reader.read_varint_value(tag); break;
      default: reader.skip_field(tag); break;
    }
  }
  return fields;
}

int32_t onnx_type_of(uint64_t data_type) {
  return data_type <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) ? static_cast<int32_t>(data_type)
                                                                                 : -1;
}

// Elements of dims (all non-negative); nullopt when the count does not fit 64 bits.
std::optional<uint64_t> element_product(const std::vector<int64_t>& dims) {
  for (int64_t dim : dims) {
    if (dim == 0) return 0;  // before any overflow check: [2^40, 2^40, 0] holds nothing
  }
  uint64_t elements = 1;
  for (int64_t dim : dims) {
    const auto d = static_cast<uint64_t>(dim);
    if (elements > std::numeric_limits<uint64_t>::max() / d) return std::nullopt;
    elements *= d;
  }
  return elements;
}

// Bytes of `elements` elements `bits` wide; nullopt when that does not fit 64 bits.
std::optional<uint64_t> bytes_of(uint64_t elements, uint32_t bits) {
  if (bits % 8 == 0) {
    const uint64_t width = bits / 8;
    if (width != 0 && elements > std::numeric_limits<uint64_t>::max() / width) return std::nullopt;
    return elements * width;
  }
  // Sub-byte types (int4, float4) pack 8 / bits elements per byte, the last byte possibly part-filled.
  const uint64_t per_byte = 8 / bits;
  return elements / per_byte + (elements % per_byte != 0 ? 1 : 0);
}

// How many values the typed field ONNX assigns to the type holds, and how many it should hold.
struct TypedValues {
  uint64_t held = 0;
  uint64_t expected = 0;
};

std::optional<TypedValues> typed_values(const TensorFields& fields, int32_t onnx_type, uint64_t elements) {
  switch (onnx_type) {
    case 1: return TypedValues{fields.float_values, elements};        // float32
    case 14: return TypedValues{fields.float_values, 2 * elements};   // complex64: real, imaginary
    case 11: return TypedValues{fields.double_values, elements};      // float64
    case 15: return TypedValues{fields.double_values, 2 * elements};  // complex128
    case 7: return TypedValues{fields.int64_values, elements};
    case 12:
    case 13: return TypedValues{fields.uint64_values, elements};  // uint32, uint64
    case 21:
    case 22:
    case 23: return TypedValues{fields.int32_values, (elements + 1) / 2};  // 4-bit types: two per int32
    case 2:   // uint8
    case 3:   // int8
    case 4:   // uint16
    case 5:   // int16
    case 6:   // int32
    case 9:   // bool
    case 10:  // float16
    case 16:  // bfloat16
    case 17:  // float8 variants
    case 18:
    case 19:
    case 20:
    case 24: return TypedValues{fields.int32_values, elements};
    default: return std::nullopt;  // string (values are not sized) and unknown types
  }
}

std::string describe_tensor(const std::string& name, const std::string& where) {
  std::string label = "tensor '" + name + "'";
  if (name.empty()) label += " (" + where + ")";
  return label;
}

bool uses_external_data(const TensorFields& fields) {
  return fields.data_location == kDataLocationExternal || !fields.external_data.empty();
}

// Refuses data that does not match the declared size: ORT would read past it or leave part of the tensor unset.
void check_data_size(const TensorFields& fields, const std::string& label, int32_t onnx_type, uint64_t declared,
                     std::optional<uint64_t> external_length) {
  const std::string declaration = label + " declares dims " + format_dims(fields.dims) + " (" +
                                  std::to_string(declared) + " bytes of " + describe_onnx_type(onnx_type) +
                                  ") but holds ";
  if (external_length && *external_length != declared) {
    throw RefusedInput(declaration + std::to_string(*external_length) + " bytes");
  }
  if (fields.raw_data_size && *fields.raw_data_size != declared) {
    throw RefusedInput(declaration + std::to_string(*fields.raw_data_size) + " bytes");
  }
  if (external_length || fields.raw_data_size) return;
  const uint64_t elements = element_product(fields.dims).value_or(0);  // fits: the byte size did
  const std::optional<TypedValues> values = typed_values(fields, onnx_type, elements);
  // No values at all is left to ORT to report: it is not a size that disagrees.
  if (values && values->held != 0 && values->held != values->expected) {
    throw RefusedInput(label + " declares dims " + format_dims(fields.dims) + " (" + std::to_string(values->expected) +
                       " values of " + describe_onnx_type(onnx_type) + ") but holds " + std::to_string(values->held) +
                       " values");
  }
}

}  // namespace

std::optional<uint64_t> check_declared_size(const std::string& label, const std::vector<int64_t>& dims,
                                            int32_t onnx_type, uint64_t max_tensor_bytes) {
  for (int64_t dim : dims) {
    if (dim < 0) {
      throw RefusedInput(label + " declares a negative dimension " + std::to_string(dim) + " in dims " +
                         format_dims(dims));
    }
  }
  const std::optional<uint32_t> bits = onnx_element_bits(onnx_type);
  const std::optional<uint64_t> elements = element_product(dims);
  const std::optional<uint64_t> bytes = elements ? bytes_of(*elements, bits.value_or(8)) : std::nullopt;
  if (!bytes) {
    throw RefusedInput(label + " declares dims " + format_dims(dims) + ", more than 2^64 bytes, " +
                       over_the_limit(max_tensor_bytes, kMaxTensorBytesVariable));
  }
  if (*bytes > max_tensor_bytes) {
    throw RefusedInput(label + " declares " + std::to_string(*bytes) + " bytes, " +
                       over_the_limit(max_tensor_bytes, kMaxTensorBytesVariable));
  }
  if (!bits) return std::nullopt;
  return bytes;
}

TensorDeclaration check_tensor_proto(ByteView bytes, const std::string& where, const TensorRules& rules) {
  const TensorFields fields = read_fields(bytes);
  TensorDeclaration declaration;
  declaration.label = describe_tensor(fields.name, where);
  declaration.onnx_type = onnx_type_of(fields.data_type);
  const std::optional<uint64_t> declared =
      check_declared_size(declaration.label, fields.dims, declaration.onnx_type, rules.max_tensor_bytes);
  std::optional<uint64_t> external_length;
  if (uses_external_data(fields)) {
    external_length = check_external_data(fields.external_data, declaration.label, rules.model_folder);
  }
  if (declared) check_data_size(fields, declaration.label, declaration.onnx_type, *declared, external_length);
  return declaration;
}

}  // namespace ort_test
