#include "tensor_proto.h"

#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>

#include "file_io.h"

namespace ort_test {
namespace {

// Field numbers of onnx.TensorProto (onnx/onnx.proto).
enum Field : uint32_t {
  kDims = 1,
  kDataType = 2,
  kSegment = 3,
  kFloatData = 4,
  kInt32Data = 5,
  kStringData = 6,
  kInt64Data = 7,
  kName = 8,
  kRawData = 9,
  kDoubleData = 10,
  kUint64Data = 11,
  kExternalData = 13,
  kDataLocation = 14,
};

constexpr uint64_t kDataLocationExternal = 1;

// Every field of the message that matters, before any interpretation.
struct TensorFields {
  std::vector<uint64_t> dims;  // int64 as two's-complement varints
  uint64_t data_type = 0;
  std::string name;
  std::optional<ByteView> raw_data;
  std::vector<uint32_t> float_data;   // IEEE bits
  std::vector<uint64_t> int32_data;   // varints: negative int32 values arrive sign-extended to 64 bits
  std::vector<uint64_t> int64_data;
  std::vector<uint64_t> double_data;  // IEEE bits
  std::vector<uint64_t> uint64_data;
  bool has_string_data = false;
  bool has_segment = false;
  bool has_external_data = false;
  uint64_t data_location = 0;
};

std::string field_error(uint32_t field, const char* expected) {
  return "field " + std::to_string(field) + " has the wrong wire type (expected " + expected + ")";
}

void read_repeated_fixed32(WireReader& reader, WireTag tag, std::vector<uint32_t>& out) {
  if (tag.type == WireType::kFixed32) {
    out.push_back(reader.read_fixed32());
  } else if (tag.type == WireType::kLengthDelimited) {
    const ByteView run = reader.read_length_delimited();
    if (run.size % 4 != 0) throw WireError("packed field " + std::to_string(tag.field) + " is not a multiple of 4 bytes");
    WireReader packed(run);
    while (!packed.at_end()) out.push_back(packed.read_fixed32());
  } else {
    throw WireError(field_error(tag.field, "fixed32"));
  }
}

void read_repeated_fixed64(WireReader& reader, WireTag tag, std::vector<uint64_t>& out) {
  if (tag.type == WireType::kFixed64) {
    out.push_back(reader.read_fixed64());
  } else if (tag.type == WireType::kLengthDelimited) {
    const ByteView run = reader.read_length_delimited();
    if (run.size % 8 != 0) throw WireError("packed field " + std::to_string(tag.field) + " is not a multiple of 8 bytes");
    WireReader packed(run);
    while (!packed.at_end()) out.push_back(packed.read_fixed64());
  } else {
    throw WireError(field_error(tag.field, "fixed64"));
  }
}

TensorFields read_fields(ByteView bytes) {
  TensorFields fields;
  WireReader reader(bytes);
  while (!reader.at_end()) {
    const WireTag tag = reader.read_tag();
    switch (tag.field) {
      case kDims: reader.append_varints(tag, fields.dims); break;
      case kDataType: fields.data_type = reader.read_varint_value(tag); break;
      case kFloatData: read_repeated_fixed32(reader, tag, fields.float_data); break;
      case kInt32Data: reader.append_varints(tag, fields.int32_data); break;
      case kInt64Data: reader.append_varints(tag, fields.int64_data); break;
      case kName: {
        const ByteView name = reader.read_bytes_value(tag);
        fields.name.assign(reinterpret_cast<const char*>(name.data), name.size);
        break;
      }
      case kRawData: fields.raw_data = reader.read_bytes_value(tag); break;
      case kDoubleData: read_repeated_fixed64(reader, tag, fields.double_data); break;
      case kUint64Data: reader.append_varints(tag, fields.uint64_data); break;
      case kDataLocation: fields.data_location = reader.read_varint_value(tag); break;
      // Unsupported features: remember that they are present, skip their bytes, reject after parsing.
      case kStringData: fields.has_string_data = true; reader.skip_field(tag); break;
      case kSegment: fields.has_segment = true; reader.skip_field(tag); break;
      case kExternalData: fields.has_external_data = true; reader.skip_field(tag); break;
      default: reader.skip_field(tag); break;
    }
  }
  return fields;
}

DataType checked_data_type(uint64_t raw) {
  if (raw > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    throw std::runtime_error("invalid data_type " + std::to_string(raw));
  }
  const auto onnx_type = static_cast<int32_t>(raw);
  if (onnx_type == 0) throw std::runtime_error("data_type is missing (UNDEFINED)");
  if (auto type = data_type_from_onnx(onnx_type)) return *type;
  throw std::runtime_error("dtype " + describe_onnx_type(onnx_type) + " is not supported");
}

std::vector<int64_t> checked_dims(const std::vector<uint64_t>& raw) {
  std::vector<int64_t> dims;
  dims.reserve(raw.size());
  for (uint64_t value : raw) {
    // Two's complement reinterpretation of the varint, as protobuf defines int64 (well defined since C++20,
    // implementation-defined but two's complement on GCC/Clang before).
    const auto dim = static_cast<int64_t>(value);
    if (dim < 0) throw std::runtime_error("negative dimension " + std::to_string(dim));
    dims.push_back(dim);
  }
  return dims;
}

template <typename T>
void append_le(std::vector<uint8_t>& out, T value) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // host order == little-endian (checked in tensor.h)
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

// Converts int32_data varints to the element type, rejecting values the type cannot hold.
template <typename T>
void pack_int32_field(const std::vector<uint64_t>& values, int64_t min, int64_t max, const char* type_name,
                      std::vector<uint8_t>& out) {
  for (uint64_t raw : values) {
    const auto value = static_cast<int64_t>(raw);
    if (value < min || value > max) {
      throw std::runtime_error("int32_data value " + std::to_string(value) + " is out of range for " + type_name);
    }
    append_le(out, static_cast<T>(value));
  }
}

const char* source_field_name(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return "float_data";
    case DataType::kFloat64: return "double_data";
    case DataType::kInt64: return "int64_data";
    case DataType::kUint32:
    case DataType::kUint64: return "uint64_data";
    default: return "int32_data";
  }
}

size_t typed_value_count(const TensorFields& fields, DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32: return fields.float_data.size();
    case DataType::kFloat64: return fields.double_data.size();
    case DataType::kInt64: return fields.int64_data.size();
    case DataType::kUint32:
    case DataType::kUint64: return fields.uint64_data.size();
    default: return fields.int32_data.size();
  }
}

// ONNX stores each dtype's values in one typed field; values in any other one mean the writer was confused.
void check_no_foreign_fields(const TensorFields& fields, DataType dtype) {
  const std::string expected = fields.raw_data ? "raw_data" : source_field_name(dtype);
  const struct {
    const char* name;
    size_t count;
  } typed[] = {{"float_data", fields.float_data.size()},   {"int32_data", fields.int32_data.size()},
               {"int64_data", fields.int64_data.size()},   {"double_data", fields.double_data.size()},
               {"uint64_data", fields.uint64_data.size()}};
  for (const auto& field : typed) {
    if (field.count != 0 && expected != field.name) {
      throw std::runtime_error(std::string(data_type_name(dtype)) + " tensor has values in " + field.name +
                               " (expected them in " + expected + ")");
    }
  }
}

std::vector<uint8_t> pack_typed_values(const TensorFields& fields, DataType dtype) {
  std::vector<uint8_t> out;
  out.reserve(typed_value_count(fields, dtype) * element_size(dtype));
  switch (dtype) {
    case DataType::kFloat32:
      for (uint32_t bits : fields.float_data) append_le(out, bits);
      break;
    case DataType::kFloat64:
      for (uint64_t bits : fields.double_data) append_le(out, bits);
      break;
    case DataType::kInt64:
      for (uint64_t value : fields.int64_data) append_le(out, value);
      break;
    case DataType::kUint64:
      for (uint64_t value : fields.uint64_data) append_le(out, value);
      break;
    case DataType::kUint32:
      for (uint64_t value : fields.uint64_data) {
        if (value > std::numeric_limits<uint32_t>::max()) {
          throw std::runtime_error("uint64_data value " + std::to_string(value) + " is out of range for uint32");
        }
        append_le(out, static_cast<uint32_t>(value));
      }
      break;
    case DataType::kInt32: pack_int32_field<int32_t>(fields.int32_data, INT32_MIN, INT32_MAX, "int32", out); break;
    case DataType::kInt8: pack_int32_field<int8_t>(fields.int32_data, INT8_MIN, INT8_MAX, "int8", out); break;
    case DataType::kUint8: pack_int32_field<uint8_t>(fields.int32_data, 0, UINT8_MAX, "uint8", out); break;
    case DataType::kInt16: pack_int32_field<int16_t>(fields.int32_data, INT16_MIN, INT16_MAX, "int16", out); break;
    case DataType::kUint16: pack_int32_field<uint16_t>(fields.int32_data, 0, UINT16_MAX, "uint16", out); break;
    case DataType::kBool: pack_int32_field<uint8_t>(fields.int32_data, 0, 1, "bool", out); break;
    case DataType::kFloat16:
      // ONNX stores the 16 bits zero-extended; writers that viewed them as int16 sign-extend, so accept both and
      // keep the low 16 bits.
      for (uint64_t raw : fields.int32_data) {
        const auto value = static_cast<int64_t>(raw);
        if (value < INT16_MIN || value > UINT16_MAX) {
          throw std::runtime_error("int32_data value " + std::to_string(value) + " is out of range for float16 bits");
        }
        append_le(out, static_cast<uint16_t>(static_cast<uint64_t>(value) & 0xffffu));
      }
      break;
  }
  return out;
}

void reject_unsupported_storage(const TensorFields& fields) {
  if (fields.data_type == kOnnxStringType || fields.has_string_data) {
    throw std::runtime_error("string tensors are not supported");
  }
  if (fields.has_external_data || fields.data_location == kDataLocationExternal) {
    throw std::runtime_error("tensors with external data are not supported");
  }
  if (fields.has_segment) throw std::runtime_error("segmented tensors are not supported");
}

}  // namespace

Tensor parse_tensor_proto(ByteView bytes) {
  const TensorFields fields = read_fields(bytes);
  reject_unsupported_storage(fields);

  Tensor tensor;
  tensor.name = fields.name;
  tensor.dtype = checked_data_type(fields.data_type);
  tensor.dims = checked_dims(fields.dims);
  const size_t count = element_count(tensor.dims);
  const size_t expected_bytes = byte_count(tensor.dims, tensor.dtype);
  check_no_foreign_fields(fields, tensor.dtype);

  if (fields.raw_data) {
    if (fields.raw_data->size != expected_bytes) {
      throw std::runtime_error("raw_data has " + std::to_string(fields.raw_data->size) + " bytes, shape " +
                               format_dims(tensor.dims) + " of " + data_type_name(tensor.dtype) + " needs " +
                               std::to_string(expected_bytes));
    }
    tensor.data.assign(fields.raw_data->data, fields.raw_data->data + fields.raw_data->size);
    return tensor;
  }
  const size_t given = typed_value_count(fields, tensor.dtype);
  if (given != count) {
    throw std::runtime_error(std::string(source_field_name(tensor.dtype)) + " has " + std::to_string(given) +
                             " values, shape " + format_dims(tensor.dims) + " needs " + std::to_string(count));
  }
  tensor.data = pack_typed_values(fields, tensor.dtype);
  return tensor;
}

std::vector<uint8_t> serialize_tensor_proto(const Tensor& tensor) {
  if (tensor.data.size() != byte_count(tensor.dims, tensor.dtype)) {
    throw std::logic_error("tensor '" + tensor.name + "' has " + std::to_string(tensor.data.size()) +
                           " bytes, its shape needs " + std::to_string(byte_count(tensor.dims, tensor.dtype)));
  }
  std::vector<uint8_t> out;
  out.reserve(tensor.data.size() + tensor.name.size() + 16 * tensor.dims.size() + 32);
  WireWriter writer(out);
  // Field order and the unpacked dims follow what protobuf itself emits for onnx.proto (proto2).
  for (int64_t dim : tensor.dims) writer.write_varint_field(kDims, static_cast<uint64_t>(dim));
  writer.write_varint_field(kDataType, static_cast<uint64_t>(tensor.dtype));
  if (!tensor.name.empty()) {
    writer.write_bytes_field(kName, reinterpret_cast<const uint8_t*>(tensor.name.data()), tensor.name.size());
  }
  writer.write_bytes_field(kRawData, tensor.data.data(), tensor.data.size());
  return out;
}

Tensor read_tensor_proto_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  try {
    return parse_tensor_proto(ByteView{bytes.data(), bytes.size()});
  } catch (const std::exception& e) {
    throw std::runtime_error("'" + path + "' is not a usable TensorProto: " + e.what());
  }
}

void write_tensor_proto_file(const std::string& path, const Tensor& tensor) {
  write_file_atomically(path, serialize_tensor_proto(tensor));
}

}  // namespace ort_test
