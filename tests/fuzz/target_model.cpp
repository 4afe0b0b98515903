// model: ONNX model bytes -> the model gate (check_model_bytes / check_model_file), external data resolved in the
// scratch folder. Documented errors: RefusedInput only (malformed protobuf included).

#include "errors.h"
#include "model_check.h"
#include "target.h"

namespace fuzz {
namespace {

using ort_test::ByteView;

class ModelTarget : public Target {
 public:
  explicit ModelTarget(const Scratch& scratch) : model_path_((scratch.models() / "model.onnx").string()) {}

  const char* name() const override { return "model"; }
  const char* documented_errors() const override { return "ort_test::RefusedInput"; }
  bool takes_seed(const std::filesystem::path& file) const override { return file.extension() == ".onnx"; }
  bool protobuf_input() const override { return true; }

  std::vector<std::string> dictionary() const override {
    return {"ok_w.bin", "sub/w.bin", "big.bin", "empty.bin", "dir", "dir/", "fifo", "link_in", "link_out",
            "link_up/secret.bin", "link_loop", "dangling", "link_abs/secret.bin", "../secret.bin", "/etc/passwd",
            "./ok_w.bin", "sub/../ok_w.bin", "location", "offset", "length", "checksum", "_ORT_MEM_ADDR_", "24",
            "4096", "-1", "+8", " 8", "9223372036854775807", "9223372036854775808", "18446744073709551616"};
  }

  Outcome run(const Bytes& input) override {
    const uint64_t hash = input_hash(input);
    ort_test::Limits limits;
    // One input in four meets a small tensor limit, so the size checks are reached with ordinary dims too.
    if (hash % 4 == 0) limits.max_tensor_bytes = 1 + (hash >> 8) % 4096;
    try {
      ort_test::ModelCheck check;
      if ((hash >> 4) % 16 == 0) {
        // Now and then through the file, as ort_test calls it.
        write_scratch_file(model_path_, input);
        check = ort_test::check_model_file(model_path_, limits);
      } else {
        check = ort_test::check_model_bytes(ByteView{input.data(), input.size()}, model_path_, limits);
      }
      return Outcome{true, check.shapeless_inputs.empty() ? "ok" : "ok, shapeless inputs"};
    } catch (const ort_test::RefusedInput& e) {
      return Outcome{false, message_feature(e.what())};
    }
  }

 private:
  std::string model_path_;
};

}  // namespace

std::unique_ptr<Target> make_model_target(const Scratch& scratch) { return std::make_unique<ModelTarget>(scratch); }

}  // namespace fuzz
