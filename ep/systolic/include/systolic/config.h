// The accelerator configuration (one struct, one file: ep/systolic/accelerator.toml, also read by Python's tomllib).
//
// The file format is a flat TOML subset: `key = value` lines, decimal integers (optional sign, `_` between digits),
// double-quoted strings without escapes, the booleans true / false, `#` comments, blank lines. Tables, arrays,
// floats, escapes and multi-line strings are rejected. Unknown keys, bad values and duplicate keys throw ConfigError
// with the line number.
// Keys missing from the text keep their built-in default (the defaults equal accelerator.toml; a ctest checks it).
// The text is parsed from memory (parse_config_text) so a riscv64 binary can receive it at run time; load_config_file
// is a convenience wrapper.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "systolic/types.h"

namespace rcnn::systolic {

enum class ElemType { Int8, Fp32 };
const char* elem_name(ElemType e) noexcept;  // "int8" | "fp32"

class ConfigError : public Error {
 public:
  ConfigError(const std::string& what, int line);  // line 0: not tied to a line (e.g. validate())
  int line() const noexcept { return line_; }

 private:
  int line_;
};

struct AcceleratorConfig {
  int64_t dim = 16;                  // systolic array is dim x dim
  int64_t sp_banks = 4;              // scratchpad banks
  int64_t sp_bank_rows = 4096;       // rows per bank; a row holds dim elements
  int64_t acc_rows = 1024;           // accumulator rows; a row holds dim accumulators (int32 or fp32)
  Mode dataflow = Mode::WS;          // default mode when the runner asks for none
  ElemType elem = ElemType::Int8;    // int8 (int32 accumulation, scaled outputs) or fp32
  int64_t dma_bytes_per_cycle = 16;  // DMA bandwidth used by the cycle estimate
  // The hardware variant's quantization support (int8 ops; conv.h, matmul.h):
  //   per_channel_scale: the mvout scales each accumulator column by its own float32 multiplier, read from a
  //     per-column scale vector loaded with the outputs' columns (per-channel weight scales). false: one scale per
  //     op; per-channel multipliers are refused.
  //   zero_points: the input pad-value register (padded conv taps read the input zero point instead of 0) and an
  //     output offset adder before saturation (y = clamp(round(acc * m) + y_zp)); the input zero point's
  //     correction is an int32 bias. false: only zero points 0; others are refused.
  // Both concern int8 ops only (accelerator_fp32.toml does not list them).
  bool per_channel_scale = true;
  bool zero_points = true;

  int64_t sp_rows() const noexcept { return sp_banks * sp_bank_rows; }
  int64_t elem_bytes() const noexcept { return elem == ElemType::Int8 ? 1 : 4; }
  int64_t acc_bytes() const noexcept { return 4; }  // int32 or float32

  // Checks the values (throws ConfigError with line 0): dim a power of two in [4, 256]; every size positive and
  // at most 2^24; scratchpad and accumulator large enough for one DIM x DIM tile even when halved for the
  // double-buffered WS mode (sp_rows >= 4*dim: one A and one B block in each half; acc_rows >= 2*dim).
  void validate() const;
  // Copies with one field changed (validated).
  AcceleratorConfig with_dim(int64_t d) const;
  AcceleratorConfig with_dataflow(Mode m) const;
  // One line for the runner, e.g. "int8 16x16 systolic array, default mode ws, scratchpad 4 x 4096 rows (256 KiB),
  // accumulator 1024 rows (64 KiB), DMA 16 B/cycle, per-channel scales, zero points" (the last two when present).
  std::string describe() const;

  bool operator==(const AcceleratorConfig& o) const noexcept;
  bool operator!=(const AcceleratorConfig& o) const noexcept { return !(*this == o); }

  static AcceleratorConfig int8_defaults() { return AcceleratorConfig{}; }
  // The reference fp32 build: 8x8 array, 4096 accumulator rows (equals accelerator_fp32.toml; per_channel_scale and
  // zero_points keep their defaults there: they concern int8 ops only).
  static AcceleratorConfig fp32_defaults();
};

// Parses the TOML subset and validates the result. `keys_seen`, when given, receives the keys present in the text
// in file order. `source` names the text in error messages ("accelerator.toml:12: ...").
AcceleratorConfig parse_config_text(const std::string& text, const std::string& source = "<config>",
                                    std::vector<std::string>* keys_seen = nullptr);
// Reads a file and parses it (ConfigError if it cannot be read).
AcceleratorConfig load_config_file(const std::string& path, std::vector<std::string>* keys_seen = nullptr);
// The keys the format knows, in canonical order.
const std::vector<std::string>& config_keys();

}  // namespace rcnn::systolic
