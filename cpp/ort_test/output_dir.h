// The -o directory: output_K.pb per output and outputs.json describing the run.
#pragma once

#include <string>
#include <vector>

#include "input_binding.h"
#include "run_summary.h"
#include "tensor.h"

namespace ort_test {

// "output_<index>.pb"
std::string output_file_name(size_t index);

// The outputs.json document (one line, newline-terminated).
std::string format_outputs_json(const RunSummary& run, const std::vector<BoundInput>& inputs,
                                const std::vector<Tensor>& outputs);

// Creates `dir` if needed and writes every output, then outputs.json last: a reader that finds outputs.json finds
// all the .pb files it lists. Every file goes through a temp name and a rename.
void write_output_dir(const std::string& dir, const RunSummary& run, const std::vector<BoundInput>& inputs,
                      const std::vector<Tensor>& outputs);

}  // namespace ort_test
