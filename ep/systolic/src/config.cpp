// AcceleratorConfig: validation, description and the parser of the flat TOML subset (see config.h).
#include "systolic/config.h"

#include <fstream>
#include <limits>
#include <sstream>

namespace rcnn::systolic {

namespace {

constexpr int64_t kMaxSize = int64_t{1} << 24;  // keeps every row/byte product far from int64 overflow

std::string line_prefix(const std::string& source, int line) {
  return line > 0 ? source + ":" + std::to_string(line) + ": " : source + ": ";
}

bool is_bare_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// Strips a trailing comment that is outside the (only possible) quoted string, then surrounding blanks.
std::string strip_comment_and_blanks(const std::string& s) {
  bool in_string = false;
  size_t end = s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') in_string = !in_string;
    if (s[i] == '#' && !in_string) {
      end = i;
      break;
    }
  }
  size_t b = 0;
  while (b < end && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (end > b && (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\r')) --end;
  return s.substr(b, end - b);
}

struct Value {
  bool is_string = false;
  bool is_bool = false;
  bool boolean = false;
  int64_t integer = 0;
  std::string text;
};

Value parse_value(const std::string& v, const std::string& where) {
  Value out;
  if (v.empty()) throw ConfigError(where + "missing value", 0);
  if (v[0] == '"') {
    if (v.size() < 2 || v.back() != '"') throw ConfigError(where + "unterminated string " + v, 0);
    std::string body = v.substr(1, v.size() - 2);
    if (body.find('"') != std::string::npos) throw ConfigError(where + "unexpected '\"' inside string " + v, 0);
    if (body.find('\\') != std::string::npos)
      throw ConfigError(where + "escape sequences are not supported in this TOML subset: " + v, 0);
    out.is_string = true;
    out.text = body;
    return out;
  }
  if (v == "true" || v == "false") {
    out.is_bool = true;
    out.boolean = v == "true";
    return out;
  }
  // Integer: [+-]? digits with single '_' between digits, no leading zeros (TOML rules).
  size_t i = 0;
  bool negative = false;
  if (v[0] == '+' || v[0] == '-') {
    negative = v[0] == '-';
    i = 1;
  }
  if (i >= v.size()) throw ConfigError(where + "bad value '" + v + "'", 0);
  std::string digits;
  bool prev_digit = false;
  for (; i < v.size(); ++i) {
    const char c = v[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      prev_digit = true;
    } else if (c == '_' && prev_digit && i + 1 < v.size() && v[i + 1] >= '0' && v[i + 1] <= '9') {
      prev_digit = false;
    } else {
      throw ConfigError(where + "bad value '" + v +
                            "' (expected an integer, true/false or a double-quoted string; floats, arrays and "
                            "tables are not part of this TOML subset)",
                        0);
    }
  }
  if (digits.size() > 1 && digits[0] == '0') throw ConfigError(where + "leading zeros are not allowed: " + v, 0);
  int64_t value = 0;
  for (char c : digits) {
    const int d = c - '0';
    if (value > (std::numeric_limits<int64_t>::max() - d) / 10) throw ConfigError(where + "integer too large: " + v, 0);
    value = value * 10 + d;
  }
  out.integer = negative ? -value : value;
  return out;
}

Mode parse_mode_value(const std::string& s, const std::string& where) {
  if (s == "cpu") return Mode::CPU;
  if (s == "os") return Mode::OS;
  if (s == "ws") return Mode::WS;
  throw ConfigError(where + "dataflow must be \"cpu\", \"os\" or \"ws\", got \"" + s + "\"", 0);
}

ElemType parse_elem_value(const std::string& s, const std::string& where) {
  if (s == "int8") return ElemType::Int8;
  if (s == "fp32") return ElemType::Fp32;
  throw ConfigError(where + "elem must be \"int8\" or \"fp32\", got \"" + s + "\"", 0);
}

}  // namespace

ConfigError::ConfigError(const std::string& what, int line) : Error(what), line_(line) {}

const char* elem_name(ElemType e) noexcept { return e == ElemType::Int8 ? "int8" : "fp32"; }

const char* mode_name(Mode m) noexcept {
  switch (m) {
    case Mode::CPU: return "cpu";
    case Mode::OS: return "os";
    case Mode::WS: return "ws";
  }
  return "?";
}

Mode mode_from_runner_flag(long long x) noexcept {
  // (x - 1) mod 3 with a non-negative result, over {OS, WS, CPU}. Computed in a way that cannot overflow.
  long long r = x % 3;  // in (-3, 3)
  if (r < 0) r += 3;    // x mod 3 in [0, 3)
  r = (r + 2) % 3;      // (x - 1) mod 3
  return r == 0 ? Mode::OS : (r == 1 ? Mode::WS : Mode::CPU);
}

Mode mode_from_name(const std::string& name) {
  if (name == "cpu") return Mode::CPU;
  if (name == "os") return Mode::OS;
  if (name == "ws") return Mode::WS;
  throw Error("unknown accelerator mode \"" + name + "\" (expected cpu, os or ws)");
}

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = {"dim",      "sp_banks", "sp_bank_rows",        "acc_rows",
                                                "dataflow", "elem",     "dma_bytes_per_cycle", "per_channel_scale",
                                                "zero_points"};
  return keys;
}

void AcceleratorConfig::validate() const {
  auto positive = [](const char* key, int64_t v) {
    if (v < 1 || v > kMaxSize)
      throw ConfigError(std::string("accelerator config: ") + key + " must be between 1 and " +
                            std::to_string(kMaxSize) + ", got " + std::to_string(v),
                        0);
  };
  if (dim < 4 || dim > 256 || (dim & (dim - 1)) != 0)
    throw ConfigError("accelerator config: dim must be a power of two between 4 and 256, got " + std::to_string(dim),
                      0);
  positive("sp_banks", sp_banks);
  positive("sp_bank_rows", sp_bank_rows);
  positive("acc_rows", acc_rows);
  positive("dma_bytes_per_cycle", dma_bytes_per_cycle);
  if (sp_rows() > kMaxSize)
    throw ConfigError("accelerator config: sp_banks * sp_bank_rows must be at most " + std::to_string(kMaxSize), 0);
  if (sp_rows() < 4 * dim)
    throw ConfigError("accelerator config: the scratchpad (sp_banks * sp_bank_rows = " + std::to_string(sp_rows()) +
                          " rows) must hold at least 4 * dim = " + std::to_string(4 * dim) +
                          " rows: one A and one B block in each half of the double-buffered WS mode",
                      0);
  if (acc_rows < 2 * dim)
    throw ConfigError("accelerator config: acc_rows (" + std::to_string(acc_rows) + ") must be at least 2 * dim = " +
                          std::to_string(2 * dim) + ": one output block in each half of the double-buffered WS mode",
                      0);
}

AcceleratorConfig AcceleratorConfig::with_dim(int64_t d) const {
  AcceleratorConfig c = *this;
  c.dim = d;
  c.validate();
  return c;
}

AcceleratorConfig AcceleratorConfig::with_dataflow(Mode m) const {
  AcceleratorConfig c = *this;
  c.dataflow = m;
  c.validate();
  return c;
}

AcceleratorConfig AcceleratorConfig::fp32_defaults() {
  AcceleratorConfig c;
  c.dim = 8;
  c.acc_rows = 4096;
  c.elem = ElemType::Fp32;
  return c;
}

std::string AcceleratorConfig::describe() const {
  std::ostringstream os;
  const int64_t sp_kib = sp_rows() * dim * elem_bytes() / 1024;
  const int64_t acc_kib = acc_rows * dim * acc_bytes() / 1024;
  os << elem_name(elem) << ' ' << dim << 'x' << dim << " systolic array, default mode " << mode_name(dataflow)
     << ", scratchpad " << sp_banks << " x " << sp_bank_rows << " rows (" << sp_kib << " KiB), accumulator "
     << acc_rows << " rows (" << acc_kib << " KiB), DMA " << dma_bytes_per_cycle << " B/cycle";
  if (per_channel_scale) os << ", per-channel scales";
  if (zero_points) os << ", zero points";
  return os.str();
}

bool AcceleratorConfig::operator==(const AcceleratorConfig& o) const noexcept {
  return dim == o.dim && sp_banks == o.sp_banks && sp_bank_rows == o.sp_bank_rows && acc_rows == o.acc_rows &&
         dataflow == o.dataflow && elem == o.elem && dma_bytes_per_cycle == o.dma_bytes_per_cycle &&
         per_channel_scale == o.per_channel_scale && zero_points == o.zero_points;
}

AcceleratorConfig parse_config_text(const std::string& text, const std::string& source,
                                    std::vector<std::string>* keys_seen) {
  AcceleratorConfig cfg;
  std::vector<std::string> seen;
  std::istringstream in(text);
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string where = line_prefix(source, line_no);
    const std::string line = strip_comment_and_blanks(raw);
    if (line.empty()) continue;
    if (line[0] == '[')
      throw ConfigError(where + "tables are not supported: the config is a flat list of key = value lines", line_no);
    const size_t eq = line.find('=');
    if (eq == std::string::npos) throw ConfigError(where + "expected 'key = value', got '" + line + "'", line_no);
    std::string key = strip_comment_and_blanks(line.substr(0, eq));
    const std::string val = strip_comment_and_blanks(line.substr(eq + 1));
    if (key.empty()) throw ConfigError(where + "missing key before '='", line_no);
    for (char c : key)
      if (!is_bare_key_char(c))
        throw ConfigError(where + "bad key '" + key + "' (only bare keys [A-Za-z0-9_-] are supported)", line_no);
    for (const auto& k : seen)
      if (k == key) throw ConfigError(where + "duplicate key '" + key + "'", line_no);
    Value v;
    try {
      v = parse_value(val, where + "key '" + key + "': ");
    } catch (const ConfigError& e) {
      throw ConfigError(e.what(), line_no);
    }
    auto want_int = [&]() {
      if (v.is_string) throw ConfigError(where + "key '" + key + "' needs an integer, got a string", line_no);
      if (v.is_bool) throw ConfigError(where + "key '" + key + "' needs an integer, got a boolean", line_no);
      return v.integer;
    };
    auto want_str = [&]() {
      if (!v.is_string) throw ConfigError(where + "key '" + key + "' needs a double-quoted string", line_no);
      return v.text;
    };
    auto want_bool = [&]() {
      if (!v.is_bool) throw ConfigError(where + "key '" + key + "' needs true or false", line_no);
      return v.boolean;
    };
    try {
      if (key == "dim") cfg.dim = want_int();
      else if (key == "sp_banks") cfg.sp_banks = want_int();
      else if (key == "sp_bank_rows") cfg.sp_bank_rows = want_int();
      else if (key == "acc_rows") cfg.acc_rows = want_int();
      else if (key == "dma_bytes_per_cycle") cfg.dma_bytes_per_cycle = want_int();
      else if (key == "dataflow") cfg.dataflow = parse_mode_value(want_str(), where);
      else if (key == "elem") cfg.elem = parse_elem_value(want_str(), where);
      else if (key == "per_channel_scale") cfg.per_channel_scale = want_bool();
      else if (key == "zero_points") cfg.zero_points = want_bool();
      else {
        std::string known;
        for (const auto& k : config_keys()) known += (known.empty() ? "" : ", ") + k;
        throw ConfigError(where + "unknown key '" + key + "' (known keys: " + known + ")", line_no);
      }
    } catch (const ConfigError& e) {
      if (e.line() != 0) throw;
      throw ConfigError(e.what(), line_no);
    }
    seen.push_back(key);
  }
  try {
    cfg.validate();
  } catch (const ConfigError& e) {
    throw ConfigError(source + ": " + e.what(), 0);
  }
  if (keys_seen) *keys_seen = seen;
  return cfg;
}

AcceleratorConfig load_config_file(const std::string& path, std::vector<std::string>* keys_seen) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ConfigError("cannot read accelerator config file '" + path + "'", 0);
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_config_text(ss.str(), path, keys_seen);
}

}  // namespace rcnn::systolic
