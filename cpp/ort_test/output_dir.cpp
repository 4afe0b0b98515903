#include "output_dir.h"

#include "file_io.h"
#include "json_writer.h"
#include "tensor_proto.h"
#include "tensor_stats.h"

namespace ort_test {
namespace {

void write_shape(JsonWriter& json, const std::vector<int64_t>& dims) {
  json.begin_array();
  for (int64_t dim : dims) json.value(dim);
  json.end_array();
}

void write_inputs(JsonWriter& json, const std::vector<BoundInput>& inputs) {
  json.key("inputs").begin_array();
  for (const BoundInput& input : inputs) {
    json.begin_object();
    json.key("name").value(input.tensor.name);
    json.key("dtype").value(data_type_name(input.tensor.dtype));
    json.key("shape");
    write_shape(json, input.tensor.dims);
    json.key("source").value(input.source);
    json.end_object();
  }
  json.end_array();
}

void write_outputs(JsonWriter& json, const std::vector<Tensor>& outputs) {
  json.key("outputs").begin_array();
  for (size_t k = 0; k < outputs.size(); ++k) {
    json.begin_object();
    json.key("name").value(outputs[k].name);
    json.key("dtype").value(data_type_name(outputs[k].dtype));
    json.key("shape");
    write_shape(json, outputs[k].dims);
    json.key("file").value(output_file_name(k));
    json.end_object();
  }
  json.end_array();
}

void write_timings(JsonWriter& json, const RunSummary& run) {
  json.key("timings_ms").begin_object();
  json.key("session_create").value(run.session_create_ms);
  json.key("inference").begin_array();
  for (double ms : run.inference_ms) json.value(ms);
  json.end_array();
  json.key("inference_min").value(min_of(run.inference_ms));
  json.key("inference_median").value(median_of(run.inference_ms));
  json.end_object();
}

}  // namespace

std::string output_file_name(size_t index) { return "output_" + std::to_string(index) + ".pb"; }

std::string format_outputs_json(const RunSummary& run, const std::vector<BoundInput>& inputs,
                                const std::vector<Tensor>& outputs) {
  JsonWriter json;
  json.begin_object();
  json.key("model").value(run.model);
  json.key("ort_version").value(run.ort_version);
  json.key("execution").value(run.execution);
  json.key("graph_optimization_level").value(run.optimization_level);
  json.key("threads").value(run.threads);
  json.key("preprocess");
  if (run.preprocess) {
    json.value(preprocess_mode_name(*run.preprocess));
  } else {
    json.null();
  }
  write_inputs(json, inputs);
  write_outputs(json, outputs);
  write_timings(json, run);
  if (run.systolic_ep_json) json.key("systolic_ep").raw_value(*run.systolic_ep_json);
  json.end_object();
  return json.str() + "\n";
}

void write_output_dir(const std::string& dir, const RunSummary& run, const std::vector<BoundInput>& inputs,
                      const std::vector<Tensor>& outputs) {
  ensure_directory(dir);
  for (size_t k = 0; k < outputs.size(); ++k) {
    write_tensor_proto_file(dir + "/" + output_file_name(k), outputs[k]);
  }
  write_file_atomically(dir + "/outputs.json", format_outputs_json(run, inputs, outputs));
}

}  // namespace ort_test
