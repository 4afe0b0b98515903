// Matching of image/TensorProto inputs to model inputs, and the dtype/shape checks.
#include <string>
#include <vector>

#include "check.h"
#include "errors.h"
#include "input_binding.h"

using namespace ort_test;

namespace {

// The "none" preset: 0..255 RGB as float, so expected values are the pixels.
PreprocessMode none_mode() { return parse_preprocess_mode("none"); }

IoSpec spec(std::string name, DataType dtype, std::vector<int64_t> dims) {
  IoSpec s;
  s.name = std::move(name);
  s.onnx_type = static_cast<int32_t>(dtype);
  s.dims = std::move(dims);
  s.dim_names.assign(s.dims.size(), "");
  return s;
}

Tensor tensor(DataType dtype, std::vector<int64_t> dims) {
  Tensor t;
  t.dtype = dtype;
  t.dims = std::move(dims);
  t.data.resize(byte_count(t.dims, dtype));
  return t;
}

using Feeders = std::vector<std::optional<size_t>>;

void match_by_name_then_position(test::Checker& t) {
  const std::vector<IoSpec> inputs = {spec("a", DataType::kFloat32, {1}), spec("b", DataType::kInt8, {1}),
                                      spec("c", DataType::kInt64, {1})};
  // "c" matches by name; the unnamed file and "zz" fill a, then b, in command-line order.
  CHECK((match_inputs(inputs, false, {"c", "", "zz"}) == Feeders{1, 2, 0}));
  CHECK((match_inputs(inputs, false, {"x", "y", "z"}) == Feeders{0, 1, 2}));
  CHECK((match_inputs(inputs, false, {"b", "c", "a"}) == Feeders{2, 0, 1}));
}

void image_takes_first_input(test::Checker& t) {
  const std::vector<IoSpec> inputs = {spec("image", DataType::kFloat32, {1, 3, -1, -1}),
                                      spec("info", DataType::kFloat32, {3})};
  CHECK((match_inputs(inputs, true, {"whatever"}) == Feeders{std::nullopt, 0}));
  CHECK((match_inputs(inputs, true, {"info"}) == Feeders{std::nullopt, 0}));
  CHECK_THROWS(match_inputs(inputs, true, {"image"}), "'image' is given twice (by -i and by an --input file)");
}

void count_and_duplicate_errors(test::Checker& t) {
  const std::vector<IoSpec> inputs = {spec("a", DataType::kFloat32, {1}), spec("b", DataType::kFloat32, {1})};
  CHECK_THROWS(match_inputs(inputs, false, {"a"}), "model has 2 inputs, got 1");
  CHECK_THROWS(match_inputs(inputs, true, {"a", "b"}), "model has 2 inputs, got 3");
  CHECK_THROWS(match_inputs({}, true, {}), "model has 0 inputs, got 1");
  CHECK_THROWS(match_inputs(inputs, false, {"a", "a"}), "'a' is given twice (by two --input files)");
}

void dtype_and_shape_checks(test::Checker& t) {
  IoSpec input = spec("x", DataType::kFloat32, {-1, 3, 8});
  input.dim_names = {"batch", "", ""};
  check_tensor_fits(input, tensor(DataType::kFloat32, {5, 3, 8}), "file:x.pb");  // symbolic dim: any size
  check_tensor_fits(input, tensor(DataType::kFloat32, {0, 3, 8}), "file:x.pb");
  CHECK_THROWS(check_tensor_fits(input, tensor(DataType::kInt8, {1, 3, 8}), "file:x.pb"),
               "input 'x' from file:x.pb has dtype int8, the model expects float32");
  CHECK_THROWS(check_tensor_fits(input, tensor(DataType::kFloat32, {1, 3, 9}), "file:x.pb"),
               "has shape [1,3,9], the model expects float32 [batch,3,8]");
  CHECK_THROWS(check_tensor_fits(input, tensor(DataType::kFloat32, {3, 8}), "file:x.pb"), "has shape [3,8]");
  IoSpec sequence;
  sequence.name = "s";
  sequence.is_tensor = false;
  sequence.kind = "sequence";
  CHECK_THROWS(check_tensor_fits(sequence, tensor(DataType::kFloat32, {1}), "file:s.pb"), "is a sequence");
}

void image_input_shapes(test::Checker& t) {
  CHECK((image_input_dims(spec("i", DataType::kFloat32, {1, 3, -1, -1}), 480, 640) ==
         std::vector<int64_t>{1, 3, 480, 640}));
  CHECK((image_input_dims(spec("i", DataType::kFloat32, {3, 224, 224}), 480, 640) ==
         std::vector<int64_t>{3, 224, 224}));
  CHECK((image_input_dims(spec("i", DataType::kFloat32, {-1, 3, 100, -1}), 480, 640) ==
         std::vector<int64_t>{1, 3, 100, 640}));
  CHECK((image_input_dims(spec("i", DataType::kFloat32, {3, 0, 0}), 4, 5) == std::vector<int64_t>{3, 4, 5}));
  CHECK((image_input_dims(spec("i", DataType::kFloat32, {-1, -1, -1}), 4, 5) == std::vector<int64_t>{3, 4, 5}));
  CHECK_THROWS(image_input_dims(spec("i", DataType::kInt8, {1, 3, 8, 8}), 8, 8), "'i' is int8 [1,3,8,8]");
  CHECK_THROWS(image_input_dims(spec("i", DataType::kFloat32, {2, 3, 8, 8}), 8, 8), "float32 [3,H,W] or [1,3,H,W]");
  CHECK_THROWS(image_input_dims(spec("i", DataType::kFloat32, {1, 4, 8, 8}), 8, 8), "[1,4,8,8]");
  CHECK_THROWS(image_input_dims(spec("i", DataType::kFloat32, {3, 8}), 8, 8), "[3,8]");
  CHECK_THROWS(image_input_dims(spec("i", DataType::kFloat32, {1, 1, 3, 8, 8}), 8, 8), "[1,1,3,8,8]");
}

void image_tensor_from_pixels(test::Checker& t) {
  RgbImage image;
  image.width = 2;
  image.height = 1;
  image.pixels = {1, 2, 3, 4, 5, 6};
  const Tensor out = make_image_tensor(spec("img", DataType::kFloat32, {1, 3, -1, -1}), image, none_mode(),
                                       Limits{});
  CHECK_EQ(out.name, std::string("img"));
  CHECK((out.dims == std::vector<int64_t>{1, 3, 1, 2}));
  CHECK_EQ(out.data.size(), size_t{6 * sizeof(float)});
  const Tensor resized =
      make_image_tensor(spec("img", DataType::kFloat32, {3, 4, 4}), image, parse_preprocess_mode("zoo"), Limits{});
  CHECK_EQ(resized.data.size(), size_t{3 * 16 * sizeof(float)});
}

IoSpec shapeless(std::string name, DataType dtype) {
  IoSpec s = spec(std::move(name), dtype, {});
  s.rank_known = false;
  return s;
}

void shapeless_inputs(test::Checker& t) {
  const IoSpec input = shapeless("x", DataType::kFloat32);
  CHECK_EQ(describe_io_spec(input), std::string("float32 [any shape]"));
  check_tensor_fits(input, tensor(DataType::kFloat32, {2, 3}), "file:x.pb");
  check_tensor_fits(input, tensor(DataType::kFloat32, {}), "file:x.pb");
  check_tensor_fits(input, tensor(DataType::kFloat32, {1, 2, 3, 4, 5}), "file:x.pb");
  CHECK_THROWS(check_tensor_fits(input, tensor(DataType::kInt8, {2}), "file:x.pb"),
               "input 'x' from file:x.pb has dtype int8, the model expects float32");
  CHECK((image_input_dims(input, 480, 640) == std::vector<int64_t>{1, 3, 480, 640}));
  CHECK_THROWS(image_input_dims(shapeless("q", DataType::kInt8), 8, 8), "'q' is int8 [any shape]");
  // A scalar input (rank known, no dims) still takes only scalars.
  CHECK_THROWS(check_tensor_fits(spec("s", DataType::kFloat32, {}), tensor(DataType::kFloat32, {2}), "file:s.pb"),
               "has shape [2], the model expects float32 []");
}

void marks_shapeless_specs(test::Checker& t) {
  std::vector<IoSpec> specs = {spec("a", DataType::kFloat32, {}), spec("b", DataType::kFloat32, {}),
                               spec("c", DataType::kFloat32, {2})};
  mark_shapeless(specs, {"b", "c", "zz"});
  CHECK(specs[0].rank_known);
  CHECK(!specs[1].rank_known);
  CHECK(specs[2].rank_known);  // ORT reports dims for it: it has a shape after all
}

void image_tensor_limit(test::Checker& t) {
  RgbImage image;
  image.width = 2;
  image.height = 1;
  image.pixels = {1, 2, 3, 4, 5, 6};
  Limits limits;
  limits.max_tensor_bytes = 24;  // 3 x 1 x 2 floats
  CHECK_EQ(make_image_tensor(spec("x", DataType::kFloat32, {1, 3, -1, -1}), image, none_mode(), limits)
               .data.size(),
           size_t{24});
  limits.max_tensor_bytes = 23;
  CHECK_THROWS(make_image_tensor(spec("x", DataType::kFloat32, {1, 3, -1, -1}), image, none_mode(), limits),
               "model input 'x' wants a 3x1x2 float tensor (24 bytes), over the limit of 23 (RCNN_MAX_TENSOR_BYTES)");
  // Fixed dims far beyond the image are refused before anything is allocated, also when their product overflows.
  const IoSpec tall = spec("x", DataType::kFloat32, {3, int64_t{1} << 40, 1});
  CHECK_THROWS(make_image_tensor(tall, image, none_mode(), Limits{}),
               "model input 'x' wants a 3x1099511627776x1 float tensor (13194139533312 bytes), over the limit of "
               "2147483648 (RCNN_MAX_TENSOR_BYTES)");
  const IoSpec huge = spec("x", DataType::kFloat32, {3, int64_t{1} << 40, int64_t{1} << 40});
  CHECK_THROWS(make_image_tensor(huge, image, none_mode(), Limits{}),
               "wants a 3x1099511627776x1099511627776 float tensor (more than 18446744073709551615 bytes)");
  bool refused = false;
  try {
    make_image_tensor(tall, image, none_mode(), Limits{});
  } catch (const RefusedInput&) {
    refused = true;  // exit status 3
  }
  CHECK(refused);
}

}  // namespace

int main() {
  return test::run_tests("input_binding", {{"match_by_name_then_position", match_by_name_then_position},
                                           {"image_takes_first_input", image_takes_first_input},
                                           {"count_and_duplicate_errors", count_and_duplicate_errors},
                                           {"dtype_and_shape_checks", dtype_and_shape_checks},
                                           {"image_input_shapes", image_input_shapes},
                                           {"image_tensor_from_pixels", image_tensor_from_pixels},
                                           {"shapeless_inputs", shapeless_inputs},
                                           {"marks_shapeless_specs", marks_shapeless_specs},
                                           {"image_tensor_limit", image_tensor_limit}});
}
