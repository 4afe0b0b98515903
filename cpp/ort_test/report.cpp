#include "report.h"

#include <cstdio>

#include "tensor_stats.h"

namespace ort_test {
namespace {

std::string format_ms(double ms) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3f ms", ms);
  return buffer;
}

std::string format_number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) text += (i == 0 ? "" : separator) + items[i];
  return text;
}

const char* optimization_name(int level) {
  switch (level) {
    case 0: return "disable all";
    case 1: return "basic";
    case 2: return "extended";
    default: return "all";
  }
}

const char* severity_name(int severity) {
  constexpr const char* kNames[] = {"verbose", "info", "warning", "error", "fatal"};
  return severity >= 0 && severity <= 4 ? kNames[severity] : "?";
}

const char* execution_name(int execution) {
  constexpr const char* kNames[] = {"CPU", "OS", "WS"};
  return execution >= 0 && execution <= 2 ? kNames[execution] : "?";
}

}  // namespace

void print_environment(std::ostream& out, const std::string& ort_version, int api_version,
                       const std::vector<std::string>& providers) {
  out << "ONNX Runtime: " << ort_version << " (compiled for API " << api_version << ")\n";
  out << "Available execution providers: " << join(providers, ", ") << "\n";
}

void print_options(std::ostream& out, const Options& options) {
  out << "Options:\n";
  out << "  model: " << options.model << "\n";
  out << "  execution (-x): " << options.execution << " (" << execution_name(options.execution) << ")\n";
  out << "  graph optimization (-O): " << options.optimization_level << " ("
      << optimization_name(options.optimization_level) << ")\n";
  out << "  log severity (-d): " << options.log_severity << " (" << severity_name(options.log_severity) << ")\n";
  out << "  intra-op threads: " << options.threads << "\n";
  out << "  repeat (-r): " << options.repeat << "\n";
  if (options.trace_prefix) out << "  trace prefix (-t): " << *options.trace_prefix << "\n";
  if (options.save_optimized) out << "  save optimized model (-s): " << *options.save_optimized << "\n";
  if (options.output_dir) out << "  output dir (-o): " << *options.output_dir << "\n";
  for (const std::string& lib : options.custom_op_libs) out << "  custom-op library: " << lib << "\n";
}

void print_io_specs(std::ostream& out, const char* title, const std::vector<IoSpec>& specs) {
  out << title << " (" << specs.size() << "):\n";
  for (size_t i = 0; i < specs.size(); ++i) {
    out << "  [" << i << "] " << specs[i].name << ": " << describe_io_spec(specs[i]) << "\n";
  }
}

void print_bound_inputs(std::ostream& out, const std::vector<BoundInput>& inputs) {
  out << "Feeding:\n";
  for (const BoundInput& input : inputs) {
    out << "  " << input.tensor.name << " <- " << input.source << ": " << data_type_name(input.tensor.dtype) << " "
        << format_dims(input.tensor.dims) << "\n";
  }
}

void print_session_time(std::ostream& out, double ms) { out << "Session creation: " << format_ms(ms) << "\n"; }

void print_inference_time(std::ostream& out, double ms) { out << "Inference: " << format_ms(ms) << "\n"; }

void print_inference_stats(std::ostream& out, const std::vector<double>& ms) {
  if (ms.size() < 2) return;
  out << "Inference over " << ms.size() << " runs: min " << format_ms(min_of(ms)) << ", median "
      << format_ms(median_of(ms)) << "\n";
}

void print_output_summaries(std::ostream& out, const std::vector<Tensor>& outputs) {
  out << "Outputs:\n";
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Tensor& tensor = outputs[k];
    out << "  [" << k << "] " << tensor.name << ": " << data_type_name(tensor.dtype) << " " << format_dims(tensor.dims);
    const TensorStats stats = compute_stats(tensor);
    if (stats.count == 0) {
      out << " (empty)\n";
      continue;
    }
    out << " min " << format_number(stats.min) << " max " << format_number(stats.max) << " mean "
        << format_number(stats.mean);
    if (stats.non_finite != 0) out << " (" << stats.non_finite << " non-finite)";
    out << "\n";
  }
}

}  // namespace ort_test
