// The external-data reference of an ONNX tensor (TensorProto.external_data: location, offset, length), checked
// before ONNX Runtime follows it. ORT 1.21 opens whatever `location` names, relative to the model's folder or not,
// and reads the bytes into the tensor, from where a model can copy them into an output: only regular files inside
// the model's folder are allowed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace ort_test {

using ExternalDataEntries = std::vector<std::pair<std::string, std::string>>;  // key, value, in file order

// Throws RefusedInput unless the entries name, without repeating a key, a `location` that is relative, has no ".."
// component, resolves (symlinks followed) to a regular file inside `model_folder`, and an `offset` and `length`
// (non-negative decimal integers) that lie within that file. Returns the number of bytes referenced: `length`, or
// the file's size minus `offset` when no length is given.
// `tensor` names the tensor in messages ("tensor 'W'"); `model_folder` must be canonical (symlinks resolved).
uint64_t check_external_data(const ExternalDataEntries& entries, const std::string& tensor,
                             const std::filesystem::path& model_folder);

// The canonical folder ORT resolves a model's external data against: the folder of the path as given.
std::filesystem::path canonical_model_folder(const std::string& model_path);

}  // namespace ort_test
