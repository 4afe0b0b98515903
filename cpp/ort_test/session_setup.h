// Everything ort_test asks of an ORT session apart from running it: options from the command line, the declared
// inputs/outputs and custom metadata.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "io_spec.h"

namespace ort_test {

// Registers the --ep-lib library with `env` and appends its device, so `env` must outlive the session.
Ort::SessionOptions make_session_options(const Options& options, Ort::Env& env);

std::vector<IoSpec> read_input_specs(const Ort::Session& session);
std::vector<IoSpec> read_output_specs(const Ort::Session& session);

// The value of a key in the model's metadata_props, or nullopt if absent.
std::optional<std::string> read_custom_metadata(const Ort::Session& session, const char* key);

}  // namespace ort_test
