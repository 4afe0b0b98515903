// Console report: environment, options in force, model I/O, bound inputs, timings and output summaries.
// Human-oriented; scripts read outputs.json instead.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "args.h"
#include "input_binding.h"
#include "io_spec.h"
#include "tensor.h"

namespace ort_test {

// api_version: the ORT API version ort_test was compiled against (ORT_API_VERSION).
void print_environment(std::ostream& out, const std::string& ort_version, int api_version,
                       const std::vector<std::string>& providers);
void print_options(std::ostream& out, const Options& options);
void print_io_specs(std::ostream& out, const char* title, const std::vector<IoSpec>& specs);
void print_bound_inputs(std::ostream& out, const std::vector<BoundInput>& inputs);
void print_session_time(std::ostream& out, double ms);
void print_inference_time(std::ostream& out, double ms);
// Min and median over the runs (only printed when there is more than one).
void print_inference_stats(std::ostream& out, const std::vector<double>& ms);
void print_output_summaries(std::ostream& out, const std::vector<Tensor>& outputs);

}  // namespace ort_test
