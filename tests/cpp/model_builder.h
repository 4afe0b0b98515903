// Small ONNX protobuf messages written with ort_test's WireWriter, for tests of the model check: tensors with
// inline or external data, graphs, nodes, functions and models, each as its serialized bytes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "protobuf_wire.h"

namespace test {

using Bytes = std::vector<uint8_t>;
using Entries = std::vector<std::pair<std::string, std::string>>;

constexpr int32_t kFloat = 1;

// TensorProto with name, dims (packed) and data_type; the data is added by the functions below.
inline Bytes tensor_header(const std::string& name, const std::vector<int64_t>& dims, int32_t data_type = kFloat) {
  Bytes out;
  ort_test::WireWriter w(out);
  std::vector<uint64_t> values;
  for (int64_t dim : dims) values.push_back(static_cast<uint64_t>(dim));  // int64: two's complement varints
  if (!dims.empty()) w.write_packed_varints_field(1, values);  // packed, as onnx writes them
  w.write_varint_field(2, static_cast<uint64_t>(data_type));
  if (!name.empty()) w.write_string_field(8, name);
  return out;
}

inline void add_raw_data(Bytes& tensor, size_t size) {
  ort_test::WireWriter(tensor).write_bytes_field(9, Bytes(size, 0x5a));
}

// `count` float_data values, packed into one run.
inline void add_float_data(Bytes& tensor, size_t count) {
  ort_test::WireWriter(tensor).write_bytes_field(4, Bytes(4 * count, 0));
}

// `count` int32_data values, one tagged varint each (the unpacked form).
inline void add_int32_data(Bytes& tensor, size_t count) {
  ort_test::WireWriter w(tensor);
  for (size_t i = 0; i < count; ++i) w.write_varint_field(5, i);
}

// data_location = EXTERNAL and one external_data entry per pair.
inline void add_external(Bytes& tensor, const Entries& entries) {
  ort_test::WireWriter w(tensor);
  for (const auto& [key, value] : entries) {
    Bytes entry;
    ort_test::WireWriter e(entry);
    e.write_string_field(1, key);
    e.write_string_field(2, value);
    w.write_bytes_field(13, entry);
  }
  w.write_varint_field(14, 1);
}

inline Bytes external_tensor(const std::string& name, const std::vector<int64_t>& dims, const Entries& entries) {
  Bytes tensor = tensor_header(name, dims);
  add_external(tensor, entries);
  return tensor;
}

inline Bytes raw_tensor(const std::string& name, const std::vector<int64_t>& dims, size_t raw_bytes) {
  Bytes tensor = tensor_header(name, dims);
  add_raw_data(tensor, raw_bytes);
  return tensor;
}

// ValueInfoProto of a float tensor: no shape at all when `dims` is null, else a shape of fixed dims.
inline Bytes tensor_value_info(const std::string& name, const std::vector<int64_t>* dims) {
  Bytes tensor_type;
  ort_test::WireWriter tt(tensor_type);
  tt.write_varint_field(1, kFloat);
  if (dims) {
    Bytes shape;
    for (int64_t dim : *dims) {
      Bytes dimension;
      ort_test::WireWriter(dimension).write_varint_field(1, static_cast<uint64_t>(dim));
      ort_test::WireWriter(shape).write_bytes_field(1, dimension);
    }
    tt.write_bytes_field(2, shape);
  }
  Bytes type;
  ort_test::WireWriter(type).write_bytes_field(1, tensor_type);
  Bytes info;
  ort_test::WireWriter i(info);
  i.write_string_field(1, name);
  i.write_bytes_field(2, type);
  return info;
}

// AttributeProto `name` holding `value` in field `field` (5 tensor, 6 graph, 10 tensors, 11 graphs, 22 sparse).
inline Bytes attribute(const std::string& name, uint32_t field, const Bytes& value) {
  Bytes out;
  ort_test::WireWriter w(out);
  w.write_string_field(1, name);
  w.write_bytes_field(field, value);
  return out;
}

inline Bytes node(const std::string& name, const std::string& op_type, const std::vector<Bytes>& attributes) {
  Bytes out;
  ort_test::WireWriter w(out);
  if (!name.empty()) w.write_string_field(3, name);
  w.write_string_field(4, op_type);
  for (const Bytes& each : attributes) w.write_bytes_field(5, each);
  return out;
}

// A Constant node whose `value` attribute is `tensor`.
inline Bytes constant_node(const std::string& name, const Bytes& tensor) {
  return node(name, "Constant", {attribute("value", 5, tensor)});
}

inline Bytes graph(const std::vector<Bytes>& initializers, const std::vector<Bytes>& nodes = {},
                   const std::vector<Bytes>& inputs = {}) {
  Bytes out;
  ort_test::WireWriter w(out);
  for (const Bytes& each : nodes) w.write_bytes_field(1, each);
  for (const Bytes& each : initializers) w.write_bytes_field(5, each);
  for (const Bytes& each : inputs) w.write_bytes_field(11, each);
  return out;
}

inline Bytes function(const std::string& name, const std::vector<Bytes>& nodes) {
  Bytes out;
  ort_test::WireWriter w(out);
  w.write_string_field(1, name);
  for (const Bytes& each : nodes) w.write_bytes_field(7, each);
  return out;
}

inline Bytes model(const Bytes& main_graph, const std::vector<Bytes>& functions = {}) {
  Bytes out;
  ort_test::WireWriter w(out);
  w.write_varint_field(1, 8);  // ir_version
  w.write_bytes_field(7, main_graph);
  for (const Bytes& each : functions) w.write_bytes_field(25, each);
  return out;
}

inline Bytes model_with_initializer(const Bytes& tensor) { return model(graph({tensor})); }

}  // namespace test
