// onnx.TensorProto reading and writing: round trips for every dtype, the encodings onnx/protobuf itself produces
// (packed typed fields), unpacked fields, unknown fields of every wire type, and rejection of corrupt files.
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "check.h"
#include "tensor_proto.h"

using namespace ort_test;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes from_hex(const std::string& hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Hand encoders, deliberately independent of WireWriter so they can also produce what it never writes.
void put_varint(Bytes& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<uint8_t>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<uint8_t>(value));
}
void put_tag(Bytes& out, uint32_t field, uint32_t wire_type) { put_varint(out, (uint64_t{field} << 3) | wire_type); }
void put_varint_field(Bytes& out, uint32_t field, uint64_t value) {
  put_tag(out, field, 0);
  put_varint(out, value);
}
void put_bytes_field(Bytes& out, uint32_t field, const Bytes& payload) {
  put_tag(out, field, 2);
  put_varint(out, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
}
void put_le(Bytes& out, uint64_t value, int size) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}
uint32_t float_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}
uint64_t double_bits(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return bits;
}

Tensor parse(const Bytes& bytes) { return parse_tensor_proto(ByteView{bytes.data(), bytes.size()}); }

template <typename T>
std::vector<T> values_of(const Tensor& tensor) {
  std::vector<T> values(tensor.data.size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), tensor.data.data(), tensor.data.size());
  return values;
}

const DataType kAllTypes[] = {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16, DataType::kInt8,
                              DataType::kUint8,   DataType::kInt16,   DataType::kUint16,  DataType::kInt32,
                              DataType::kUint32,  DataType::kInt64,   DataType::kUint64,  DataType::kBool};

Tensor pattern_tensor(DataType dtype, std::vector<int64_t> dims) {
  Tensor tensor;
  tensor.name = std::string("t_") + data_type_name(dtype);
  tensor.dtype = dtype;
  tensor.dims = std::move(dims);
  tensor.data.resize(byte_count(tensor.dims, dtype));
  for (size_t i = 0; i < tensor.data.size(); ++i) {
    tensor.data[i] = dtype == DataType::kBool ? static_cast<uint8_t>(i % 2) : static_cast<uint8_t>(0xff - 37 * i);
  }
  return tensor;
}

void round_trip_every_dtype(test::Checker& t) {
  for (DataType dtype : kAllTypes) {
    for (const std::vector<int64_t>& dims : {std::vector<int64_t>{2, 3}, std::vector<int64_t>{}, std::vector<int64_t>{0, 4},
                                             std::vector<int64_t>{1, 1, 5}}) {
      const Tensor original = pattern_tensor(dtype, dims);
      const Tensor back = parse(serialize_tensor_proto(original));
      CHECK_EQ(back.name, original.name);
      CHECK(back.dtype == original.dtype);
      CHECK(back.dims == original.dims);
      CHECK(back.data == original.data);
    }
  }
}

// What protobuf emits for onnx.numpy_helper.from_array(np.array([[1,2],[3,4]], np.int16), "r"): our writer must
// produce the very same bytes (field order, unpacked dims).
void serialized_bytes_match_protobuf(test::Checker& t) {
  Tensor tensor;
  tensor.name = "r";
  tensor.dtype = DataType::kInt16;
  tensor.dims = {2, 2};
  tensor.data = {1, 0, 2, 0, 3, 0, 4, 0};
  CHECK(serialize_tensor_proto(tensor) == from_hex("0802080210054201724a080100020003000400"));
  const Tensor back = parse(from_hex("0802080210054201724a080100020003000400"));
  CHECK(back.data == tensor.data);
}

// Bytes written by onnx.helper.make_tensor(name, type, dims, vals=list): packed typed fields.
void parse_onnx_typed_fields(test::Checker& t) {
  {
    const Tensor i8 = parse(from_hex("0802080210032a16ffffffffffffffffff010280ffffffffffffffff017f420174"));
    CHECK_EQ(i8.name, std::string("t"));
    CHECK(i8.dtype == DataType::kInt8);
    CHECK((i8.dims == std::vector<int64_t>{2, 2}));
    CHECK((values_of<int8_t>(i8) == std::vector<int8_t>{-1, 2, -128, 127}));
  }
  {
    const Tensor f16 = parse(from_hex("0803100a2a088078808003fff701420168"));
    CHECK((values_of<uint16_t>(f16) == std::vector<uint16_t>{0x3c00, 0xc000, 0x7bff}));  // 1, -2, 65504
  }
  {
    const Tensor f64 = parse(from_hex("0802100b4201645210000000000000e03f00000000000008c0"));
    CHECK((values_of<double>(f64) == std::vector<double>{0.5, -3.0}));
  }
  {
    const Tensor u64 = parse(from_hex("0802100d4201755a0bffffffffffffffffff0105"));
    CHECK((values_of<uint64_t>(u64) == std::vector<uint64_t>{UINT64_MAX, 5}));
  }
  {
    const Tensor b = parse(from_hex("080310092a03010001420162"));
    CHECK((values_of<uint8_t>(b) == std::vector<uint8_t>{1, 0, 1}));
  }
  {
    const Tensor f32 = parse(from_hex("0802100122080000803f000020c0420166"));
    CHECK((values_of<float>(f32) == std::vector<float>{1.0f, -2.5f}));
  }
  {
    const Tensor i64 = parse(from_hex("080210073a0cfeffffffffffffffff01ac02420169"));
    CHECK((values_of<int64_t>(i64) == std::vector<int64_t>{-2, 300}));
  }
  {
    const Tensor u32 = parse(from_hex("0801100c4201755a0580d0acf30e"));
    CHECK((values_of<uint32_t>(u32) == std::vector<uint32_t>{4000000000u}));
  }
}

// Repeated fields may also arrive one tagged value per element, or as several packed runs; both concatenate.
void parse_unpacked_fields(test::Checker& t) {
  Bytes m;
  put_varint_field(m, 1, 2);  // dims: one unpacked ...
  Bytes packed_dim;
  put_varint(packed_dim, 3);
  put_bytes_field(m, 1, packed_dim);  // ... then one packed
  put_varint_field(m, 2, 1);          // float32
  for (int i = 0; i < 6; ++i) {
    put_tag(m, 4, 5);  // unpacked float_data: fixed32 per element
    put_le(m, float_bits(static_cast<float>(i) * 0.5f), 4);
  }
  const Tensor f = parse(m);
  CHECK((f.dims == std::vector<int64_t>{2, 3}));
  CHECK((values_of<float>(f) == std::vector<float>{0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 2.5f}));

  Bytes d;
  put_varint_field(d, 1, 2);
  put_varint_field(d, 2, 11);  // float64
  put_tag(d, 10, 1);           // unpacked double_data
  put_le(d, double_bits(-1.25), 8);
  Bytes run;
  put_le(run, double_bits(4.0), 8);
  put_bytes_field(d, 10, run);  // then a packed run
  CHECK((values_of<double>(parse(d)) == std::vector<double>{-1.25, 4.0}));

  Bytes i;
  put_varint_field(i, 1, 3);
  put_varint_field(i, 2, 5);                                  // int16
  put_varint_field(i, 5, static_cast<uint64_t>(int64_t{-300}));  // unpacked, sign-extended
  put_varint_field(i, 5, 32767);
  put_varint_field(i, 5, 0);
  CHECK((values_of<int16_t>(parse(i)) == std::vector<int16_t>{-300, 32767, 0}));

  Bytes u;
  put_varint_field(u, 1, 2);
  put_varint_field(u, 2, 4);  // uint16 in int32_data
  put_varint_field(u, 5, 65535);
  put_varint_field(u, 5, 1);
  put_varint_field(u, 2, 4);  // a repeated optional scalar: the last one wins, as in protobuf
  CHECK((values_of<uint16_t>(parse(u)) == std::vector<uint16_t>{65535, 1}));

  Bytes u8;
  put_varint_field(u8, 1, 1);
  put_varint_field(u8, 2, 2);  // uint8
  put_varint_field(u8, 5, 200);
  CHECK((values_of<uint8_t>(parse(u8)) == std::vector<uint8_t>{200}));

  Bytes i32;  // int32 scalar (no dims) with the most negative value
  put_varint_field(i32, 2, 6);
  put_varint_field(i32, 5, static_cast<uint64_t>(int64_t{INT32_MIN}));
  CHECK((values_of<int32_t>(parse(i32)) == std::vector<int32_t>{INT32_MIN}));

  Bytes h;  // float16 bits written sign-extended (viewed as int16) are accepted too
  put_varint_field(h, 1, 1);
  put_varint_field(h, 2, 10);
  put_varint_field(h, 5, static_cast<uint64_t>(int64_t{-16384}));  // 0xc000 = -2.0
  CHECK((values_of<uint16_t>(parse(h)) == std::vector<uint16_t>{0xc000}));
}

// A message with every kind of unknown field around the real ones parses to the same tensor.
void skip_unknown_fields(test::Checker& t) {
  Bytes m;
  put_varint_field(m, 99, 12345);  // varint
  put_tag(m, 100, 1);              // fixed64
  put_le(m, 0x0102030405060708u, 8);
  put_bytes_field(m, 12, {'d', 'o', 'c'});  // doc_string
  put_varint_field(m, 1, 2);
  put_tag(m, 101, 5);  // fixed32
  put_le(m, 7, 4);
  put_tag(m, 102, 3);  // group containing a nested group and fields of other types
  put_varint_field(m, 1, 5);
  put_tag(m, 103, 3);
  put_bytes_field(m, 9, {1, 2, 3});
  put_tag(m, 103, 4);
  put_tag(m, 4, 5);
  put_le(m, 0, 4);
  put_tag(m, 102, 4);
  put_varint_field(m, 2, 3);  // int8
  put_bytes_field(m, 8, {'n'});
  put_bytes_field(m, 16, {0x0a, 0x01, 'k'});  // metadata_props (a message): skipped
  put_varint_field(m, 14, 0);                 // data_location DEFAULT
  put_bytes_field(m, 9, {0xfe, 0x05});
  const Tensor tensor = parse(m);
  CHECK_EQ(tensor.name, std::string("n"));
  CHECK((tensor.dims == std::vector<int64_t>{2}));
  CHECK((values_of<int8_t>(tensor) == std::vector<int8_t>{-2, 5}));
}

// Every strict prefix of a valid file must be rejected (either the wire format breaks or the data is missing).
void reject_truncated_files(test::Checker& t) {
  std::vector<Bytes> files = {serialize_tensor_proto(pattern_tensor(DataType::kFloat32, {2, 3})),
                              from_hex("0802080210032a16ffffffffffffffffff010280ffffffffffffffff017f420174"),
                              from_hex("0802100b4201645210000000000000e03f00000000000008c0")};
  // onnx.helper writes the name after the typed data; a cut that drops only the name leaves a valid tensor,
  // so for those files stop before the name.
  for (const Bytes& file : files) {
    const size_t data_end = file.size() - (file[file.size() - 3] == 0x42 ? 3 : 0);
    for (size_t cut = 0; cut < data_end; ++cut) {
      const Bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut));
      bool thrown = false;
      try {
        parse(prefix);
      } catch (const std::exception&) {
        thrown = true;
      }
      if (!thrown) t.fail("prefix of " + std::to_string(cut) + "/" + std::to_string(file.size()) + " bytes accepted", __FILE__, __LINE__);
    }
  }
  CHECK_THROWS(parse(from_hex("0802100142")), "truncated varint");
  CHECK_THROWS(parse(from_hex("08021001420568")), "runs past the end");
  CHECK_THROWS(parse(from_hex("0802100125000080")), "truncated fixed32");
  CHECK_THROWS(parse(from_hex("080110014a04000080")), "runs past the end");
}

void reject_malformed_wire_data(test::Checker& t) {
  CHECK_THROWS(parse(from_hex("08ffffffffffffffffffff01")), "varint");      // 11-byte varint
  CHECK_THROWS(parse(from_hex("08ffffffffffffffffff7f")), "overflows");     // 10th byte too big
  CHECK_THROWS(parse(from_hex("0e00")), "invalid wire type 6");
  CHECK_THROWS(parse(from_hex("0f00")), "invalid wire type 7");
  CHECK_THROWS(parse(from_hex("0000")), "invalid field number 0");
  CHECK_THROWS(parse(from_hex("b306")), "truncated group");                 // group 102 never closed
  CHECK_THROWS(parse(from_hex("b306bc06")), "closes group");                // ended by group 103's end tag
  CHECK_THROWS(parse(from_hex("b406")), "unexpected end-group");
  CHECK_THROWS(parse(from_hex("10")), "truncated varint");
  CHECK_THROWS(parse(from_hex("1201")), "wrong wire type");                 // data_type as bytes
  CHECK_THROWS(parse(from_hex("080210012203000000")), "multiple of 4");     // packed float_data of 3 bytes
  CHECK_THROWS(parse(from_hex("0801100b520400000000")), "multiple of 8");
}

void reject_inconsistent_tensors(test::Checker& t) {
  CHECK_THROWS(parse(from_hex("08024a0400000000")), "data_type is missing");
  CHECK_THROWS(parse(from_hex("080210104a0400000000")), "bfloat16");                // unsupported dtype
  CHECK_THROWS(parse(from_hex("08011008320161")), "string tensors");
  CHECK_THROWS(parse(from_hex("0801100132016142016e")), "string tensors");           // string_data on a float tensor
  CHECK_THROWS(parse(from_hex("080110017001")), "external data");                   // data_location EXTERNAL
  CHECK_THROWS(parse(from_hex("080110016a00")), "external data");                   // external_data entry
  CHECK_THROWS(parse(from_hex("080110011a00")), "segmented");
  CHECK_THROWS(parse(from_hex("08ffffffffffffffffff0110014a00")), "negative dimension");
  CHECK_THROWS(parse(from_hex("080210014a0400000000")), "raw_data has 4 bytes");    // needs 8
  CHECK_THROWS(parse(from_hex("0802100122040000803f")), "float_data has 1 values");
  CHECK_THROWS(parse(from_hex("080110012a0101")), "int32_data");                    // float with int32_data
  CHECK_THROWS(parse(from_hex("0801100122040000803f4a040000803f")), "expected them in raw_data");
  CHECK_THROWS(parse(from_hex("080110032a028001")), "out of range for int8");       // 128
  CHECK_THROWS(parse(from_hex("080110092a0102")), "out of range for bool");
  CHECK_THROWS(parse(from_hex("0801100c5a058080808010")), "out of range for uint32");  // 2^32
  CHECK_THROWS(parse(from_hex("")), "data_type is missing");
  CHECK_THROWS(parse(from_hex("1001")), "float_data has 0 values, shape [] needs 1");  // scalar without data
  // A zero-element tensor needs no data at all.
  const Tensor empty = parse(from_hex("080008031001"));
  CHECK(empty.data.empty());
}

void file_round_trip_and_errors(test::Checker& t) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ort_test_tp_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "t.pb").string();
  const Tensor original = pattern_tensor(DataType::kUint16, {4, 5});
  write_tensor_proto_file(path, original);
  CHECK(!fs::exists(path + ".tmp"));
  const Tensor back = read_tensor_proto_file(path);
  CHECK(back.data == original.data);
  CHECK((back.dims == original.dims));
  CHECK_THROWS(read_tensor_proto_file((dir / "missing.pb").string()), "No such file");
  CHECK_THROWS(read_tensor_proto_file(dir.string()), "cannot read");
  fs::remove_all(dir);
}

}  // namespace

int main() {
  return test::run_tests("tensor_proto", {{"round_trip_every_dtype", round_trip_every_dtype},
                                          {"serialized_bytes_match_protobuf", serialized_bytes_match_protobuf},
                                          {"parse_onnx_typed_fields", parse_onnx_typed_fields},
                                          {"parse_unpacked_fields", parse_unpacked_fields},
                                          {"skip_unknown_fields", skip_unknown_fields},
                                          {"reject_truncated_files", reject_truncated_files},
                                          {"reject_malformed_wire_data", reject_malformed_wire_data},
                                          {"reject_inconsistent_tensors", reject_inconsistent_tensors},
                                          {"file_round_trip_and_errors", file_round_trip_and_errors}});
}
