// ort_test: runs an ONNX model with ONNX Runtime on an image and/or TensorProto inputs, reports timings and an
// output summary, and optionally writes the outputs (flags: args.cpp / --help). This file only orchestrates;
// each step lives in the file named for it.
#include <onnxruntime_cxx_api.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "ep_report.h"
#include "ep_report_query.h"
#include "errors.h"
#include "file_io.h"
#include "input_binding.h"
#include "model_check.h"
#include "ort_tensor.h"
#include "output_dir.h"
#include "report.h"
#include "run_summary.h"
#include "session_config.h"
#include "session_setup.h"
#include "size_limits.h"

namespace ort_test {
namespace {

constexpr const char* kPreprocessMetadataKey = "rcnn.preprocess";

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// -p wins; otherwise the model says how it wants its images, via metadata_props.
std::optional<PreprocessMode> resolve_preprocess_mode(const Options& options, const Ort::Session& session) {
  if (!options.image) return std::nullopt;
  if (options.preprocess) return options.preprocess;
  const std::optional<std::string> value = read_custom_metadata(session, kPreprocessMetadataKey);
  if (!value) throw std::runtime_error("-i needs -p: the model has no rcnn.preprocess metadata");
  std::optional<PreprocessMode> mode;
  try {
    mode = parse_preprocess_mode(*value);
  } catch (const std::invalid_argument& e) {  // say where the bad spec came from: the model, not the command line
    throw std::runtime_error(std::string("the model's rcnn.preprocess metadata: ") + e.what());
  }
  std::cout << "Preprocess: " << *value << " (from the model's rcnn.preprocess metadata)\n";
  return mode;
}

std::vector<const char*> names_of(const std::vector<IoSpec>& specs) {
  std::vector<const char*> names;
  for (const IoSpec& spec : specs) names.push_back(spec.name.c_str());
  return names;
}

// Runs the session options.repeat times and returns the last run's outputs; each time goes to `summary`.
std::vector<Ort::Value> run_repeatedly(Ort::Session& session, const Options& options,
                                       const std::vector<IoSpec>& input_specs,
                                       const std::vector<IoSpec>& output_specs, std::vector<BoundInput>& inputs,
                                       RunSummary& summary) {
  const Ort::MemoryInfo cpu = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Ort::Value> input_values;
  for (BoundInput& input : inputs) input_values.push_back(borrow_as_ort_value(cpu, input.tensor));
  const std::vector<const char*> input_names = names_of(input_specs);
  const std::vector<const char*> output_names = names_of(output_specs);

  std::vector<Ort::Value> outputs;
  for (int run = 0; run < options.repeat; ++run) {
    const auto start = std::chrono::steady_clock::now();
    outputs = session.Run(Ort::RunOptions{nullptr}, input_names.data(), input_values.data(), input_values.size(),
                          output_names.data(), output_names.size());
    summary.inference_ms.push_back(elapsed_ms(start));
    print_inference_time(std::cout, summary.inference_ms.back());
  }
  print_inference_stats(std::cout, summary.inference_ms);
  return outputs;
}

// The Systolic EP's placement and counters (--ep-lib), printed and kept for outputs.json.
void report_systolic_ep(const Options& options, RunSummary& summary) {
  if (!options.ep_lib) return;
  const std::optional<std::string> report = query_systolic_ep_report(*options.ep_lib, kSystolicEpReportId);
  if (!report) throw std::runtime_error("--ep-lib " + *options.ep_lib + " kept no report for this session");
  print_systolic_ep_report(std::cout, *report, *options.ep_lib);
  summary.systolic_ep_json = report;
}

int run(const Options& options, const Limits& limits) {
  // Checked up front: ORT's message for a missing model is less direct, and this avoids creating an Env for nothing.
  check_readable(options.model, "model");
  if (options.image) check_readable(*options.image, "image");
  for (const std::string& file : options.input_files) check_readable(file, "input file");
  // Before ORT parses the model: ORT would follow external data anywhere and allocate whatever a tensor declares.
  const ModelCheck model_check = check_model_file(options.model, limits);

  RunSummary summary;
  summary.model = options.model;
  summary.ort_version = Ort::GetVersionString();
  summary.execution = options.execution;
  summary.optimization_level = options.optimization_level;
  summary.threads = options.threads;

  Ort::Env env(static_cast<OrtLoggingLevel>(options.log_severity), "ort_test");
  print_environment(std::cout, summary.ort_version, ORT_API_VERSION, Ort::GetAvailableProviders());
  print_options(std::cout, options);
  if (options.preprocess && !options.image) std::cout << "Note: -p has no effect without -i\n";
  if ((options.systolic_config || options.dim || options.device) && !options.ep_lib) {
    std::cout << "Note: --systolic-config, --dim and --device have no effect without --ep-lib\n";
  }

  const Ort::SessionOptions session_options = make_session_options(options, env);
  const auto start = std::chrono::steady_clock::now();
  Ort::Session session(env, options.model.c_str(), session_options);
  summary.session_create_ms = elapsed_ms(start);
  print_session_time(std::cout, summary.session_create_ms);

  std::vector<IoSpec> input_specs = read_input_specs(session);
  mark_shapeless(input_specs, model_check.shapeless_inputs);
  const std::vector<IoSpec> output_specs = read_output_specs(session);
  print_io_specs(std::cout, "Model inputs", input_specs);
  print_io_specs(std::cout, "Model outputs", output_specs);

  summary.preprocess = resolve_preprocess_mode(options, session);
  std::vector<BoundInput> inputs =
      bind_inputs(input_specs, options.image, summary.preprocess, options.input_files, limits);
  print_bound_inputs(std::cout, inputs);

  const std::vector<Ort::Value> values = run_repeatedly(session, options, input_specs, output_specs, inputs, summary);
  std::vector<Tensor> outputs;
  for (size_t k = 0; k < values.size(); ++k) outputs.push_back(copy_from_ort_value(values[k], output_specs[k].name));
  print_output_summaries(std::cout, outputs);
  report_systolic_ep(options, summary);

  if (options.trace_prefix) {
    Ort::AllocatorWithDefaultOptions allocator;
    std::cout << "Trace: " << session.EndProfilingAllocated(allocator).get() << "\n";
  }
  if (options.save_optimized) std::cout << "Optimized model: " << *options.save_optimized << "\n";
  if (options.output_dir) {
    write_output_dir(*options.output_dir, summary, inputs, outputs);
    std::cout << "Wrote " << outputs.size() << " output(s) and outputs.json to " << *options.output_dir << "\n";
  }
  return 0;
}

// Exactly one line on stderr, whatever the message contains (ORT's can span lines).
void print_error(const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  std::cout.flush();
  std::cerr << "ort_test: error: " << line << std::endl;
}

}  // namespace
}  // namespace ort_test

int main(int argc, char** argv) {
  using namespace ort_test;
  try {
    const Options options = parse_args(argc, argv);
    if (options.help) {
      std::cout << help_text();
      return 0;
    }
    const Limits limits = read_limits_from_environment();
    return run(options, limits);
  } catch (const UsageError& e) {
    print_error(e.what());
    return 2;
  } catch (const RefusedInput& e) {
    print_error(e.what());
    return 3;
  } catch (const Ort::Exception& e) {
    print_error(e.what());
    return 1;
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  } catch (...) {
    print_error("unknown exception");
    return 1;
  }
}
