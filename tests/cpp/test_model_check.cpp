// The model check run before ONNX Runtime loads a model: external data must stay in the model's folder and match
// the declared size, inline data must match it too, declared sizes must be within the limit, wherever the tensor
// sits (initializer, Constant attribute, subgraph, function, sparse tensor). Models are built in memory
// (model_builder.h); the external data files go to a scratch folder, argv[1] (removed again at the end).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "check.h"
#include "errors.h"
#include "model_builder.h"
#include "model_check.h"

using namespace ort_test;
using namespace test;
namespace fs = std::filesystem;

namespace {

// work/outside.bin (24 bytes), work/model/ (the model's folder) with w.bin (24 bytes), sub/w.bin (24 bytes),
// adir/ (a directory), inner_link.bin -> w.bin, link.bin -> ../outside.bin and dir_link -> .. (escaping symlinks).
struct Fixture {
  fs::path work;
  fs::path folder;
  std::string model_path;  // work/model/m.onnx; only written by the test that reads a file
  Limits limits;
};

void write_bytes(const fs::path& path, size_t size) {
  std::ofstream out(path, std::ios::binary);
  out << std::string(size, 'x');
}

Fixture make_fixture(const fs::path& work) {
  Fixture f;
  f.work = work;
  f.folder = work / "model";
  f.model_path = (f.folder / "m.onnx").string();
  fs::remove_all(work);
  fs::create_directories(f.folder / "sub");
  fs::create_directories(f.folder / "adir");
  write_bytes(work / "outside.bin", 24);
  write_bytes(f.folder / "w.bin", 24);
  write_bytes(f.folder / "sub" / "w.bin", 24);
  fs::create_symlink("w.bin", f.folder / "inner_link.bin");
  fs::create_symlink("../outside.bin", f.folder / "link.bin");
  fs::create_directory_symlink("..", f.folder / "dir_link");
  return f;
}

// The message of the RefusedInput the check throws, or "accepted". Other exceptions propagate (and fail the test).
std::string refusal_of(const Fixture& f, const Bytes& model_bytes) {
  try {
    check_model_bytes(ByteView{model_bytes.data(), model_bytes.size()}, f.model_path, f.limits);
  } catch (const RefusedInput& e) {
    return e.what();
  }
  return "accepted";
}

#define CHECK_REFUSED(f, model_bytes, expected)                                                             \
  do {                                                                                                      \
    const std::string got_ = refusal_of((f), (model_bytes));                                                \
    t.check(got_.find(expected) != std::string::npos,                                                       \
            (std::string("refusal '") + got_ + "' should contain '" + (expected) + "'").c_str(), __FILE__, \
            __LINE__);                                                                                      \
  } while (0)

#define CHECK_ACCEPTED(f, model_bytes) CHECK_EQ(refusal_of((f), (model_bytes)), std::string("accepted"))

Bytes external_model(const Entries& entries, const std::vector<int64_t>& dims = {2, 3}) {
  return model_with_initializer(external_tensor("W", dims, entries));
}

void accepts_external_data_in_the_folder(test::Checker& t, const Fixture& f) {
  CHECK_ACCEPTED(f, external_model({{"location", "w.bin"}}));
  CHECK_ACCEPTED(f, external_model({{"location", "w.bin"}, {"offset", "0"}, {"length", "24"}}));
  CHECK_ACCEPTED(f, external_model({{"location", "w.bin"}, {"offset", "8"}, {"length", "16"}}, {4}));
  CHECK_ACCEPTED(f, external_model({{"location", "w.bin"}, {"offset", "8"}}, {2, 2}));  // length: the rest
  CHECK_ACCEPTED(f, external_model({{"location", "sub/w.bin"}}));
  CHECK_ACCEPTED(f, external_model({{"location", "./sub/w.bin"}}));
  CHECK_ACCEPTED(f, external_model({{"location", "inner_link.bin"}}));  // a symlink that stays inside
  CHECK_ACCEPTED(f, external_model({{"location", "w.bin"}, {"checksum", "whatever"}}));
  // The same model read from a file, and from a model folder that is itself the subfolder.
  const Bytes bytes = external_model({{"location", "w.bin"}});
  std::ofstream(f.model_path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                      static_cast<std::streamsize>(bytes.size()));
  CHECK(check_model_file(f.model_path, f.limits).shapeless_inputs.empty());
  Fixture in_sub = f;
  in_sub.model_path = (f.folder / "sub" / "m.onnx").string();
  CHECK_ACCEPTED(in_sub, bytes);
  CHECK_REFUSED(in_sub, external_model({{"location", "../w.bin"}}), "leaves the model's folder");
}

void refuses_absolute_locations(test::Checker& t, const Fixture& f) {
  CHECK_REFUSED(f, external_model({{"location", "/etc/passwd"}}),
                "external data of tensor 'W' has an absolute location '/etc/passwd'");
  // Absolute is refused even when it points into the folder: ORT must only ever see relative locations.
  const std::string inside = (f.folder / "w.bin").string();
  CHECK_REFUSED(f, external_model({{"location", inside}}), "has an absolute location '" + inside + "'");
}

void refuses_parent_components(test::Checker& t, const Fixture& f) {
  CHECK_REFUSED(f, external_model({{"location", "../outside.bin"}}),
                "external data of tensor 'W' at '../outside.bin' leaves the model's folder");
  CHECK_REFUSED(f, external_model({{"location", "sub/../../outside.bin"}}),
                "at 'sub/../../outside.bin' leaves the model's folder");
  CHECK_REFUSED(f, external_model({{"location", "sub/../w.bin"}}), "leaves the model's folder");
  CHECK_REFUSED(f, external_model({{"location", "../../../../../../../etc/passwd"}}), "leaves the model's folder");
}

void refuses_symlinks_out_of_the_folder(test::Checker& t, const Fixture& f) {
  CHECK_REFUSED(f, external_model({{"location", "link.bin"}}),
                "external data of tensor 'W' at 'link.bin' resolves outside the model's folder");
  CHECK_REFUSED(f, external_model({{"location", "dir_link/outside.bin"}}),
                "at 'dir_link/outside.bin' resolves outside the model's folder");
  // A detour through a symlink that ends inside the folder is fine: what counts is where the file is.
  CHECK_ACCEPTED(f, external_model({{"location", "dir_link/model/w.bin"}}));
}

void refuses_missing_files_and_directories(test::Checker& t, const Fixture& f) {
  CHECK_REFUSED(f, external_model({{"location", "missing.bin"}}),
                "external data file 'missing.bin' of tensor 'W' not found");
  CHECK_REFUSED(f, external_model({{"location", "adir"}}),
                "external data file 'adir' of tensor 'W' is not a regular file");
  CHECK_REFUSED(f, external_model({{"location", "."}}), "external data file '.' of tensor 'W' is not a regular file");
  CHECK_REFUSED(f, external_model({{"location", "w.bin/x"}}), "external data file 'w.bin/x' of tensor 'W' not found");
}

void refuses_ranges_past_the_end(test::Checker& t, const Fixture& f) {
  CHECK_REFUSED(f, external_model({{"location", "w.bin"}, {"offset", "8"}, {"length", "24"}}),
                "external data of tensor 'W' (offset 8, length 24) runs past the end of 'w.bin' (24 bytes)");
  CHECK_REFUSED(f, external_model({{"location", "w.bin"}, {"offset", "25"}}),
                "external data of tensor 'W' (offset 25) runs past the end of 'w.bin' (24 bytes)");
  CHECK_REFUSED(f, external_model({{"location", "w.bin"}, {"length", "18446744073709551615"}}),
                "has length '18446744073709551615', not a non-negative decimal integer");
  CHECK_REFUSED(f, external_model({{"location", "w.bin"}, {"offset", "9223372036854775807"}, {"length", "24"}}),
                "(offset 9223372036854775807, length 24) runs past the end");
  for (const char* bad : {"-1", "0x10", "", " 4", "4 ", "+4", "1e3"}) {
    CHECK_REFUSED(f, external_model({{"location", "w.bin"}, {"offset", bad}}),
                  std::string("has offset '") + bad + "', not a non-negative decimal integer");
  }
}

void refuses_lengths_that_differ_from_the_dims(test::Checker& t, const Fixture& f) {
  CHECK_REFUSED(f, external_model({{"location", "w.bin"}, {"length", "20"}}),
                "tensor 'W' declares dims [2,3] (24 bytes of float32) but holds 20 bytes");
  CHECK_REFUSED(f, external_model({{"location", "w.bin"}, {"offset", "4"}}),
                "tensor 'W' declares dims [2,3] (24 bytes of float32) but holds 20 bytes");
  CHECK_REFUSED(f, external_model({{"location", "w.bin"}}, {2, 2}),
                "declares dims [2,2] (16 bytes of float32) but holds 24 bytes");
}

void refuses_ambiguous_references(test::Checker& t, const Fixture& f) {
  CHECK_REFUSED(f, external_model({{"offset", "0"}}), "external data of tensor 'W' has no location");
  CHECK_REFUSED(f, external_model({}), "external data of tensor 'W' has no location");
  CHECK_REFUSED(f, external_model({{"location", "w.bin"}, {"location", "/etc/passwd"}}), "gives 'location' twice");
  CHECK_REFUSED(f, external_model({{"location", "w.bin"}, {"length", "24"}, {"length", "8"}}), "gives 'length' twice");
  // ORT reads the data of this location from the memory address in `offset`.
  CHECK_REFUSED(f, external_model({{"location", "*/_ORT_MEM_ADDR_/*"}, {"offset", "4096"}, {"length", "24"}}),
                "ONNX Runtime's tag for data at a memory address");
  CHECK_REFUSED(f, external_model({{"location", std::string("w.bin\0/../x", 11)}}), "NUL byte");
  // External entries without data_location = EXTERNAL are still checked.
  Bytes tensor = tensor_header("W", {2, 3});
  add_external(tensor, {{"location", "../outside.bin"}});
  tensor.pop_back();  // drop data_location's value ...
  tensor.pop_back();  // ... and its tag: the entries stay
  CHECK_REFUSED(f, model_with_initializer(tensor), "leaves the model's folder");
}

void refuses_inline_data_of_the_wrong_size(test::Checker& t, const Fixture& f) {
  CHECK_ACCEPTED(f, model_with_initializer(raw_tensor("W", {2, 3}, 24)));
  CHECK_REFUSED(f, model_with_initializer(raw_tensor("W", {2, 3}, 20)),
                "tensor 'W' declares dims [2,3] (24 bytes of float32) but holds 20 bytes");
  CHECK_REFUSED(f, model_with_initializer(raw_tensor("W", {}, 0)), "declares dims [] (4 bytes of float32) but holds 0");

  Bytes five = tensor_header("W", {2, 3});
  add_float_data(five, 5);
  CHECK_REFUSED(f, model_with_initializer(five),
                "tensor 'W' declares dims [2,3] (6 values of float32) but holds 5 values");
  Bytes six = tensor_header("W", {2, 3});
  add_float_data(six, 6);
  CHECK_ACCEPTED(f, model_with_initializer(six));
  Bytes unpacked = tensor_header("W", {2});  // one fixed32 / fixed64 field per value, as some writers do
  WireWriter(unpacked).write_fixed32_field(4, 0x3f800000u);
  WireWriter(unpacked).write_fixed32_field(4, 0x40000000u);
  CHECK_ACCEPTED(f, model_with_initializer(unpacked));
  Bytes doubles = tensor_header("d", {2}, 11);
  for (int i = 0; i < 3; ++i) WireWriter(doubles).write_fixed64_field(10, 0);
  CHECK_REFUSED(f, model_with_initializer(doubles),
                "tensor 'd' declares dims [2] (2 values of float64) but holds 3 values");
  Bytes int8 = tensor_header("q", {4}, 3);
  add_int32_data(int8, 4);  // unpacked
  CHECK_ACCEPTED(f, model_with_initializer(int8));
  add_int32_data(int8, 1);
  CHECK_REFUSED(f, model_with_initializer(int8), "tensor 'q' declares dims [4] (4 values of int8) but holds 5 values");
  Bytes int4 = tensor_header("n", {3}, 22);  // int4: two values per int32
  add_int32_data(int4, 2);
  CHECK_ACCEPTED(f, model_with_initializer(int4));
  Bytes int4_raw = tensor_header("n", {3}, 22);
  add_raw_data(int4_raw, 2);  // ceil(3 / 2) bytes
  CHECK_ACCEPTED(f, model_with_initializer(int4_raw));
  add_raw_data(int4_raw, 3);  // a later raw_data replaces the first
  CHECK_REFUSED(f, model_with_initializer(int4_raw), "declares dims [3] (2 bytes of int4) but holds 3 bytes");
  CHECK_ACCEPTED(f, model_with_initializer(tensor_header("empty", {0, 5})));
  CHECK_ACCEPTED(f, model_with_initializer(tensor_header("s", {3}, 8)));  // strings are not sized
}

void refuses_negative_and_oversized_dims(test::Checker& t, const Fixture& f) {
  CHECK_REFUSED(f, model_with_initializer(raw_tensor("W", {2, -1}, 8)),
                "tensor 'W' declares a negative dimension -1 in dims [2,-1]");
  Fixture small = f;
  small.limits.max_tensor_bytes = 100;
  CHECK_ACCEPTED(small, model_with_initializer(raw_tensor("W", {5, 5}, 100)));
  CHECK_REFUSED(small, model_with_initializer(raw_tensor("W", {5, 6}, 120)),
                "tensor 'W' declares 120 bytes, over the limit of 100 (RCNN_MAX_TENSOR_BYTES)");
  // The size is checked before the data: nothing has to be read to refuse it.
  CHECK_REFUSED(f, model_with_initializer(tensor_header("W", {1 << 20, 1 << 20})),
                "tensor 'W' declares 4398046511104 bytes, over the limit of 2147483648 (RCNN_MAX_TENSOR_BYTES)");
  CHECK_REFUSED(f, model_with_initializer(tensor_header("W", {int64_t{1} << 32, int64_t{1} << 32})),
                "tensor 'W' declares dims [4294967296,4294967296], more than 2^64 bytes, over the limit of");
  CHECK_REFUSED(f, model_with_initializer(tensor_header("W", {int64_t{1} << 31, int64_t{1} << 31, 4})),
                "more than 2^64 bytes");  // the elements fit, the bytes do not
  CHECK_ACCEPTED(f, model_with_initializer(tensor_header("W", {int64_t{1} << 40, int64_t{1} << 40, 0})));
  CHECK_REFUSED(small, model_with_initializer(tensor_header("s", {101}, 8)), "declares 101 bytes");  // 1 per string
}

void checks_tensors_everywhere(test::Checker& t, const Fixture& f) {
  const Bytes escaping = external_tensor("W", {2, 3}, {{"location", "../outside.bin"}});
  const Bytes unnamed = external_tensor("", {2, 3}, {{"location", "/etc/passwd"}});
  const std::string leaves = "external data of tensor 'W' at '../outside.bin' leaves the model's folder";
  // A Constant node's attribute, named or not.
  CHECK_REFUSED(f, model(graph({}, {constant_node("c", escaping)})), leaves);
  CHECK_REFUSED(f, model(graph({}, {constant_node("c", unnamed)})),
                "external data of tensor '' (attribute 'value' of node 'c') has an absolute location '/etc/passwd'");
  CHECK_REFUSED(f, model(graph({}, {constant_node("", unnamed)})), "(attribute 'value' of an unnamed Constant node)");
  CHECK_REFUSED(f, model(graph({}, {node("n", "Custom", {attribute("many", 10, escaping)})})), leaves);
  // An If node's then_branch, as a graph attribute and in a graphs list, two levels deep.
  const Bytes then_branch = graph({escaping});
  CHECK_REFUSED(f, model(graph({}, {node("if", "If", {attribute("then_branch", 6, then_branch)})})), leaves);
  const Bytes outer = graph({}, {node("inner", "If", {attribute("else_branch", 6, then_branch)})});
  CHECK_REFUSED(f, model(graph({}, {node("loop", "Loop", {attribute("bodies", 11, outer)})})), leaves);
  // A function's body.
  const Bytes body = function("f", {constant_node("fc", escaping)});
  CHECK_REFUSED(f, model(graph({}), {body}), leaves);
  CHECK_REFUSED(f, model(graph({}), {function("f", {constant_node("", unnamed)})}),
                "(attribute 'value' of an unnamed Constant node in function 'f')");
  // A sparse initializer's values, and the dense size it declares.
  Bytes sparse;
  WireWriter s(sparse);
  s.write_bytes_field(1, escaping);
  s.write_packed_varints_field(3, {2, 3});
  Bytes with_sparse = graph({});
  WireWriter(with_sparse).write_bytes_field(15, sparse);
  CHECK_REFUSED(f, model(with_sparse), leaves);
  Bytes huge_sparse;
  WireWriter h(huge_sparse);
  h.write_bytes_field(1, raw_tensor("S", {1}, 4));
  h.write_packed_varints_field(3, {1 << 20, 1 << 20});
  CHECK_REFUSED(f, model(graph({}, {node("n", "Constant", {attribute("sparse_value", 22, huge_sparse)})})),
                "sparse tensor 'S' declares 4398046511104 bytes, over the limit");
  // The valid version of each place passes.
  const Bytes valid = external_tensor("W", {2, 3}, {{"location", "w.bin"}});
  CHECK_ACCEPTED(f, model(graph({}, {node("if", "If", {attribute("then_branch", 6, graph({valid}))})}),
                          {function("f", {constant_node("fc", valid)})}));
}

// A tensor split over two occurrences of a singular field is merged by protobuf: dims append, raw_data is the
// last one. Checked as merged, [2] + [3] with 8 bytes is [2,3] with 8 bytes.
void checks_split_tensors_merged(test::Checker& t, const Fixture& f) {
  Bytes first = raw_tensor("W", {2}, 8);
  Bytes second;
  WireWriter(second).write_packed_varints_field(1, {3});
  Bytes split;
  WireWriter a(split);
  a.write_string_field(1, "value");
  a.write_bytes_field(5, first);
  a.write_bytes_field(5, second);
  CHECK_REFUSED(f, model(graph({}, {node("c", "Constant", {split})})),
                "tensor 'W' declares dims [2,3] (24 bytes of float32) but holds 8 bytes");
}

Bytes nested_model(int depth) {
  Bytes inner = graph({raw_tensor("W", {1}, 4)});
  for (int level = 1; level < depth; ++level) {
    inner = graph({}, {node("if", "If", {attribute("then_branch", 6, inner)})});
  }
  return model(inner);
}

void limits_nesting(test::Checker& t, const Fixture& f) {
  CHECK_ACCEPTED(f, nested_model(kMaxGraphDepth));
  CHECK_REFUSED(f, nested_model(kMaxGraphDepth + 1), "nests subgraphs more than 64 levels deep");
}

void refuses_non_models(test::Checker& t, const Fixture& f) {
  CHECK_REFUSED(f, Bytes{}, "cannot read model '" + f.model_path + "': not an ONNX model (no graph)");
  CHECK_REFUSED(f, (Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0}), "cannot read model");
  CHECK_REFUSED(f, (Bytes{0x3a, 0x05, 0x2a, 0x10}), "cannot read model");  // graph runs past the end
  Bytes wrong_type;
  WireWriter(wrong_type).write_varint_field(7, 1);  // graph as a varint
  CHECK_REFUSED(f, wrong_type, "cannot read model '" + f.model_path + "': field 7 has the wrong wire type");
  Bytes truncated = external_model({{"location", "w.bin"}});
  truncated.pop_back();
  CHECK_REFUSED(f, truncated, "cannot read model");
}

void lists_shapeless_inputs(test::Checker& t, const Fixture& f) {
  const std::vector<int64_t> scalar;
  const std::vector<int64_t> matrix = {2, 3};
  Bytes sequence_input;
  WireWriter(sequence_input).write_string_field(1, "seq");
  Bytes sequence_type;
  WireWriter(sequence_type).write_bytes_field(4, Bytes{});
  WireWriter(sequence_input).write_bytes_field(2, sequence_type);
  const Bytes bytes = model(graph({}, {},
                                  {tensor_value_info("x", nullptr), tensor_value_info("s", &scalar),
                                   tensor_value_info("m", &matrix), sequence_input, tensor_value_info("y", nullptr)}));
  const ModelCheck result = check_model_bytes(ByteView{bytes.data(), bytes.size()}, f.model_path, f.limits);
  CHECK((result.shapeless_inputs == std::vector<std::string>{"x", "y"}));
  // Subgraph inputs are not the model's.
  const Bytes sub = graph({}, {}, {tensor_value_info("z", nullptr)});
  const Bytes nested = model(graph({}, {node("if", "If", {attribute("then_branch", 6, sub)})}));
  CHECK(check_model_bytes(ByteView{nested.data(), nested.size()}, f.model_path, f.limits).shapeless_inputs.empty());
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path work = argc > 1 ? fs::path(argv[1])
                                 : fs::temp_directory_path() / ("rcnn_test_model_check_" + std::to_string(getpid()));
  const Fixture f = make_fixture(work);
  const int status = test::run_tests(
      "model_check",
      {{"accepts_external_data_in_the_folder", [&](test::Checker& t) { accepts_external_data_in_the_folder(t, f); }},
       {"refuses_absolute_locations", [&](test::Checker& t) { refuses_absolute_locations(t, f); }},
       {"refuses_parent_components", [&](test::Checker& t) { refuses_parent_components(t, f); }},
       {"refuses_symlinks_out_of_the_folder", [&](test::Checker& t) { refuses_symlinks_out_of_the_folder(t, f); }},
       {"refuses_missing_files_and_directories",
        [&](test::Checker& t) { refuses_missing_files_and_directories(t, f); }},
       {"refuses_ranges_past_the_end", [&](test::Checker& t) { refuses_ranges_past_the_end(t, f); }},
       {"refuses_lengths_that_differ_from_the_dims",
        [&](test::Checker& t) { refuses_lengths_that_differ_from_the_dims(t, f); }},
       {"refuses_ambiguous_references", [&](test::Checker& t) { refuses_ambiguous_references(t, f); }},
       {"refuses_inline_data_of_the_wrong_size",
        [&](test::Checker& t) { refuses_inline_data_of_the_wrong_size(t, f); }},
       {"refuses_negative_and_oversized_dims", [&](test::Checker& t) { refuses_negative_and_oversized_dims(t, f); }},
       {"checks_tensors_everywhere", [&](test::Checker& t) { checks_tensors_everywhere(t, f); }},
       {"checks_split_tensors_merged", [&](test::Checker& t) { checks_split_tensors_merged(t, f); }},
       {"limits_nesting", [&](test::Checker& t) { limits_nesting(t, f); }},
       {"refuses_non_models", [&](test::Checker& t) { refuses_non_models(t, f); }},
       {"lists_shapeless_inputs", [&](test::Checker& t) { lists_shapeless_inputs(t, f); }}});
  std::error_code ignored;
  fs::remove_all(work, ignored);
  return status;
}
