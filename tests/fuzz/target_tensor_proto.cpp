// tensor_proto: .pb bytes -> parse_tensor_proto. Documented errors: std::runtime_error (WireError for malformed
// bytes). An accepted tensor must hold exactly the bytes its shape needs and survive a write/read round trip.
#include <stdexcept>

#include "target.h"
#include "tensor.h"
#include "tensor_proto.h"

namespace fuzz {
namespace {

using ort_test::ByteView;
using ort_test::Tensor;

class TensorProtoTarget : public Target {
 public:
  const char* name() const override { return "tensor_proto"; }
  const char* documented_errors() const override { return "std::runtime_error"; }
  bool takes_seed(const std::filesystem::path& file) const override { return file.extension() == ".pb"; }
  bool protobuf_input() const override { return true; }

  Outcome run(const Bytes& input) override {
    Tensor tensor;
    try {
      tensor = ort_test::parse_tensor_proto(ByteView{input.data(), input.size()});
    } catch (const std::runtime_error& e) {
      return Outcome{false, message_feature(e.what())};
    }
    if (tensor.data.size() != ort_test::byte_count(tensor.dims, tensor.dtype)) {
      throw FuzzFailure{"accepted tensor holds " + std::to_string(tensor.data.size()) + " bytes, its shape " +
                        ort_test::format_dims(tensor.dims) + " needs " +
                        std::to_string(ort_test::byte_count(tensor.dims, tensor.dtype))};
    }
    const Bytes written = ort_test::serialize_tensor_proto(tensor);
    const Tensor reread = ort_test::parse_tensor_proto(ByteView{written.data(), written.size()});
    if (reread.name != tensor.name || reread.dtype != tensor.dtype || reread.dims != tensor.dims ||
        reread.data != tensor.data) {
      throw FuzzFailure{"tensor changed in a write/read round trip"};
    }
    const size_t rank = tensor.dims.size() < 4 ? tensor.dims.size() : 4;
    return Outcome{true, std::string("ok ") + ort_test::data_type_name(tensor.dtype) + " rank " + std::to_string(rank)};
  }
};

}  // namespace

std::unique_ptr<Target> make_tensor_proto_target() { return std::make_unique<TensorProtoTarget>(); }

}  // namespace fuzz
