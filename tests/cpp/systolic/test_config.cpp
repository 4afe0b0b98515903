// Accelerator config: the shipped files parse to the built-in defaults, the parser's error reporting, validation,
// overrides, describe(), mode names and the runner flag mapping.
#include <limits>
#include <string>
#include <vector>

#include "check.h"
#include "systolic/config.h"

using namespace rcnn::systolic;

static int error_line(const std::string& text) {
  try {
    parse_config_text(text, "t.toml");
  } catch (const ConfigError& e) {
    return e.line();
  } catch (...) {
    return -2;
  }
  return -1;
}

static std::string error_text(const std::string& text) {
  try {
    parse_config_text(text, "t.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: systolic_test_config accelerator.toml accelerator_fp32.toml\n");
    return 2;
  }
  // The shipped files: every key present, values equal to the built-in defaults.
  {
    std::vector<std::string> keys;
    const AcceleratorConfig c = load_config_file(argv[1], &keys);
    CHECK(c == AcceleratorConfig{});
    CHECK(c == AcceleratorConfig::int8_defaults());
    CHECK_EQ(keys.size(), config_keys().size());
    for (const auto& k : config_keys()) {
      bool found = false;
      for (const auto& s : keys) found = found || s == k;
      CHECK_MSG(found, "key missing from accelerator.toml: " + k);
    }
    const AcceleratorConfig f = load_config_file(argv[2], &keys);
    CHECK(f == AcceleratorConfig::fp32_defaults());
    // Every key but the int8-only per_channel_scale and zero_points.
    CHECK_EQ(keys.size() + 2, config_keys().size());
    for (const auto& k : keys) CHECK(k != "per_channel_scale" && k != "zero_points");
    CHECK(f.elem == ElemType::Fp32);
  }
  // Reference values.
  {
    const AcceleratorConfig c;
    CHECK_EQ(c.dim, 16);
    CHECK_EQ(c.sp_rows(), 16384);
    CHECK_EQ(c.acc_rows, 1024);
    CHECK(c.dataflow == Mode::WS);
    CHECK(c.describe().find("16x16") != std::string::npos);
    CHECK(c.describe().find("256 KiB") != std::string::npos);
    CHECK(c.describe().find("64 KiB") != std::string::npos);
  }
  // Accepted syntax: comments, blanks, underscores, signs, missing keys keep defaults.
  {
    const AcceleratorConfig c = parse_config_text(
        "# comment\n\n  dim = 8   # trailing\nsp_bank_rows = 1_024\r\nacc_rows=+256\ndataflow = \"os\"\n", "x");
    CHECK_EQ(c.dim, 8);
    CHECK_EQ(c.sp_bank_rows, 1024);
    CHECK_EQ(c.acc_rows, 256);
    CHECK(c.dataflow == Mode::OS);
    CHECK_EQ(c.sp_banks, 4);
    CHECK(parse_config_text("").dim == 16);
    CHECK(parse_config_text("elem = \"fp32\" # \"quoted # in comment\"").elem == ElemType::Fp32);
  }
  // Errors with line numbers.
  CHECK_EQ(error_line("dim = 16\nfoo = 1\n"), 2);
  CHECK(error_text("dim = 16\nfoo = 1\n").find("unknown key 'foo'") != std::string::npos);
  CHECK(error_text("dim = 16\nfoo = 1\n").find("t.toml:2:") != std::string::npos);
  CHECK_EQ(error_line("dim = 16\n\ndim = 8\n"), 3);
  CHECK(error_text("dim = 16\n\ndim = 8\n").find("duplicate") != std::string::npos);
  CHECK_EQ(error_line("dim = 16.0\n"), 1);
  CHECK_EQ(error_line("# x\ndim = true\n"), 2);
  CHECK_EQ(error_line("dim = [16]\n"), 1);
  CHECK_EQ(error_line("[accel]\ndim = 16\n"), 1);
  CHECK_EQ(error_line("dim 16\n"), 1);
  CHECK_EQ(error_line("= 16\n"), 1);
  CHECK_EQ(error_line("dim =\n"), 1);
  CHECK_EQ(error_line("dim = 016\n"), 1);
  CHECK_EQ(error_line("dim = 1__6\n"), 1);
  CHECK_EQ(error_line("dim = 16_\n"), 1);
  CHECK_EQ(error_line("dim = 99999999999999999999999\n"), 1);
  CHECK_EQ(error_line("dim = \"16\"\n"), 1);
  CHECK_EQ(error_line("elem = int8\n"), 1);
  CHECK_EQ(error_line("elem = \"int4\"\n"), 1);
  CHECK_EQ(error_line("\ndataflow = \"xs\"\n"), 2);
  CHECK_EQ(error_line("elem = \"int8\n"), 1);
  CHECK_EQ(error_line("elem = \"in\\t8\"\n"), 1);
  CHECK_EQ(error_line("my key = 1\n"), 1);
  CHECK_EQ(error_line("dim = 16 17\n"), 1);
  // Validation errors (line 0: not a syntax error).
  CHECK_EQ(error_line("dim = 12\n"), 0);
  CHECK_EQ(error_line("dim = 2\n"), 0);
  CHECK_EQ(error_line("dim = 512\n"), 0);
  CHECK_EQ(error_line("dim = -16\n"), 0);
  CHECK_EQ(error_line("sp_banks = 0\n"), 0);
  CHECK_EQ(error_line("acc_rows = 16\n"), 0);  // < 2 * dim
  CHECK_EQ(error_line("sp_banks = 1\nsp_bank_rows = 32\n"), 0);  // < 4 * dim
  CHECK_EQ(error_line("dma_bytes_per_cycle = 0\n"), 0);
  CHECK(error_text("dim = 12\n").find("power of two") != std::string::npos);
  CHECK(error_text("acc_rows = 16\n").find("acc_rows") != std::string::npos);
  CHECK_THROWS(load_config_file("/nonexistent/accelerator.toml"), ConfigError);
  // Overrides.
  {
    const AcceleratorConfig c = AcceleratorConfig{}.with_dim(32);
    CHECK_EQ(c.dim, 32);
    CHECK_EQ(c.acc_rows, 1024);
    CHECK_THROWS(AcceleratorConfig{}.with_dim(6), ConfigError);
    CHECK_THROWS(AcceleratorConfig{}.with_dim(1024), ConfigError);
    CHECK(AcceleratorConfig{}.with_dataflow(Mode::CPU).dataflow == Mode::CPU);
    AcceleratorConfig small;
    small.acc_rows = 64;
    CHECK_THROWS(small.with_dim(64), ConfigError);  // acc_rows < 2 * dim
  }
  // Modes.
  CHECK(mode_from_runner_flag(0) == Mode::CPU);
  CHECK(mode_from_runner_flag(1) == Mode::OS);
  CHECK(mode_from_runner_flag(2) == Mode::WS);
  CHECK(mode_from_runner_flag(3) == Mode::CPU);
  CHECK(mode_from_runner_flag(4) == Mode::OS);
  CHECK(mode_from_runner_flag(-1) == Mode::WS);
  CHECK(mode_from_runner_flag(-2) == Mode::OS);
  CHECK(mode_from_runner_flag(-3) == Mode::CPU);
  CHECK(mode_from_runner_flag(std::numeric_limits<long long>::min()) == mode_from_runner_flag(std::numeric_limits<long long>::min() + 3));
  CHECK(mode_from_name("ws") == Mode::WS);
  CHECK_THROWS(mode_from_name("WS"), Error);
  CHECK_EQ(std::string(mode_name(Mode::OS)), std::string("os"));
  return check::finish("systolic_config");
}
