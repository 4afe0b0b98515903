#include "args.h"

#include <charconv>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string_view>

#include "errors.h"

namespace ort_test {
namespace {

// One entry per flag; `apply` stores the value into Options and validates it.
struct FlagSpec {
  char short_name;          // '\0' when the flag has no short form
  const char* long_name;    // without "--"
  bool takes_value;
  bool repeatable;
  void (*apply)(Options& options, const std::string& value);
};

int parse_int(const std::string& flag, const std::string& value, int min, int max) {
  int parsed = 0;
  const char* end = value.data() + value.size();
  const auto result = std::from_chars(value.data(), end, parsed);
  if (value.empty() || result.ec != std::errc() || result.ptr != end || parsed < min || parsed > max) {
    throw UsageError(flag + " expects an integer in " + std::to_string(min) + ".." + std::to_string(max) + ", got '" +
                     value + "'");
  }
  return parsed;
}

int parse_choice(const std::string& flag, const std::string& value, std::initializer_list<int> choices,
                 const char* choice_text) {
  for (int choice : choices) {
    if (value == std::to_string(choice)) return choice;
  }
  throw UsageError(flag + " expects one of " + choice_text + ", got '" + value + "'");
}

std::pair<std::string, std::string> parse_key_value(const std::string& flag, const std::string& value) {
  const size_t equals = value.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw UsageError(flag + " expects KEY=VALUE, got '" + value + "'");
  }
  return {value.substr(0, equals), value.substr(equals + 1)};
}

const FlagSpec kFlags[] = {
    {'h', "help", false, true, [](Options& o, const std::string&) { o.help = true; }},
    {'m', "model", true, false, [](Options& o, const std::string& v) { o.model = v; }},
    {'i', "image", true, false, [](Options& o, const std::string& v) { o.image = v; }},
    {'\0', "input", true, true, [](Options& o, const std::string& v) { o.input_files.push_back(v); }},
    {'p', "preprocess", true, false,
     [](Options& o, const std::string& v) {
       try {
         o.preprocess = parse_preprocess_mode(v);
       } catch (const std::invalid_argument& e) {  // a bad spec is a usage error: one line, exit 2
         throw UsageError(std::string("-p: ") + e.what());
       }
     }},
    {'x', "execution", true, false,
     [](Options& o, const std::string& v) { o.execution = parse_choice("-x", v, {0, 1, 2}, "0|1|2"); }},
    {'O', "optimization", true, false,
     [](Options& o, const std::string& v) { o.optimization_level = parse_choice("-O", v, {0, 1, 2, 99}, "0|1|2|99"); }},
    {'d', "log-severity", true, false,
     [](Options& o, const std::string& v) { o.log_severity = parse_int("-d", v, 0, 4); }},
    {'t', "trace", true, false, [](Options& o, const std::string& v) { o.trace_prefix = v; }},
    {'s', "save-optimized", true, false, [](Options& o, const std::string& v) { o.save_optimized = v; }},
    {'o', "output-dir", true, false, [](Options& o, const std::string& v) { o.output_dir = v; }},
    {'\0', "threads", true, false,
     [](Options& o, const std::string& v) { o.threads = parse_int("--threads", v, 1, 1024); }},
    {'\0', "custom-op-lib", true, true, [](Options& o, const std::string& v) { o.custom_op_libs.push_back(v); }},
    // Absolute: ORT resolves a relative library path against its own folder, not the working directory.
    {'\0', "ep-lib", true, false,
     [](Options& o, const std::string& v) {
       if (v.empty()) throw UsageError("--ep-lib needs a library path");
       o.ep_lib = std::filesystem::absolute(v).string();
     }},
    {'\0', "systolic-config", true, false, [](Options& o, const std::string& v) { o.systolic_config = v; }},
    // Range checked loosely here; the EP says which dims the accelerator model accepts.
    {'\0', "dim", true, false, [](Options& o, const std::string& v) { o.dim = parse_int("--dim", v, 1, 65536); }},
    {'\0', "device", true, false,
     [](Options& o, const std::string& v) {
       if (v != "guest" && v != "host") throw UsageError("--device expects one of guest|host, got '" + v + "'");
       o.device = v;
     }},
    {'\0', "adds", true, false,
     [](Options& o, const std::string& v) {
       if (v != "accelerator" && v != "cpu") throw UsageError("--adds expects one of accelerator|cpu, got '" + v + "'");
       o.adds = v;
     }},
    {'\0', "session-config", true, true,
     [](Options& o, const std::string& v) { o.session_config.push_back(parse_key_value("--session-config", v)); }},
    {'r', "repeat", true, false, [](Options& o, const std::string& v) { o.repeat = parse_int("-r", v, 1, 1000000); }},
};

const FlagSpec* find_short(char name) {
  for (const FlagSpec& flag : kFlags) {
    if (flag.short_name == name) return &flag;
  }
  return nullptr;
}

const FlagSpec* find_long(std::string_view name) {
  for (const FlagSpec& flag : kFlags) {
    if (name == flag.long_name) return &flag;
  }
  return nullptr;
}

// A flag occurrence split into its spec and, when written "--name=value" or "-Xvalue", its attached value.
struct FlagToken {
  const FlagSpec* spec;
  std::optional<std::string> attached_value;
};

FlagToken split_flag(const std::string& arg) {
  if (arg.size() > 2 && arg[0] == '-' && arg[1] == '-') {
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    const FlagSpec* spec = find_long(name);
    if (!spec) throw UsageError("unknown flag '--" + name + "' (see --help)");
    if (equals == std::string::npos) return FlagToken{spec, std::nullopt};
    if (!spec->takes_value) throw UsageError("--" + name + " takes no value");
    return FlagToken{spec, arg.substr(equals + 1)};
  }
  if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
    const FlagSpec* spec = find_short(arg[1]);
    if (!spec) throw UsageError("unknown flag '" + arg.substr(0, 2) + "' (see --help)");
    if (arg.size() == 2) return FlagToken{spec, std::nullopt};
    if (!spec->takes_value) throw UsageError("unknown flag '" + arg + "' (see --help)");
    return FlagToken{spec, arg.substr(2)};
  }
  throw UsageError("unexpected argument '" + arg + "' (see --help)");
}

std::string display_name(const FlagSpec& flag) {
  std::string name = std::string("--") + flag.long_name;
  if (flag.short_name != '\0') name = std::string("-") + flag.short_name + "/" + name;
  return name;
}

}  // namespace

Options parse_args(int argc, const char* const* argv) {
  Options options;
  std::set<const FlagSpec*> seen;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    FlagToken token = split_flag(arg);
    const FlagSpec& flag = *token.spec;
    if (!flag.repeatable && !seen.insert(&flag).second) throw UsageError(display_name(flag) + " given twice");
    std::string value;
    if (flag.takes_value) {
      if (token.attached_value) {
        value = *token.attached_value;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        throw UsageError(display_name(flag) + " needs a value");
      }
    }
    flag.apply(options, value);
  }
  if (!options.help && options.model.empty()) throw UsageError("-m/--model is required (see --help)");
  return options;
}

std::string help_text() {
  return R"(usage: ort_test -m MODEL [-i IMAGE [-p SPEC]] [--input FILE.pb ...] [options]

Runs an ONNX model with ONNX Runtime, prints its inputs/outputs, timings and an output summary,
and optionally writes every output as an ONNX TensorProto.

Inputs (image + files must add up to the model's input count):
  -m, --model PATH         ONNX model to run (required)
  -i, --image PATH         PNG/JPEG/BMP/PPM image, decoded as RGB, resized and normalised into the model's
                           first input (float32 [3,H,W] or [1,3,H,W]; symbolic H/W take the image's size,
                           an input declared without a shape gets [1,3,H,W])
      --input FILE.pb      ONNX TensorProto file (repeatable). Bound to the model input of the same name, else
                           to the remaining inputs in model order. dtype must match; fixed dims must match
  -p, --preprocess SPEC    image normalisation, a preset or a spec (default: the model's rcnn.preprocess
                           metadata, which holds either; -i without either is an error). A spec is comma-separated
                           tokens in any order, each at most once, no spaces: rgb|bgr (channel order, default
                           rgb), /255, mean=A:B:C or mean=A (all channels), std=A:B:C or std=A, scale=S. Applied
                           as x/255, x-mean, x/std, x*scale; constants in output channel order. Example (ImageNet
                           classifiers): rgb,/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225. Presets (aliases
                           rcnn = zoo, None = none) and their specs:
)" + preprocess_presets_help(29) + R"(
Session:
  -x, --execution N        accelerator mode 0 CPU | 1 OS | 2 WS (default 0): the EP's execution option
  -O, --optimization N     graph optimization level 0 none | 1 basic | 2 extended | 99 all (default 99)
  -d, --log-severity N     ORT log severity 0 verbose | 1 info | 2 warning | 3 error | 4 fatal (default 3)
      --threads N          intra-op threads, also the EP's pool: its threads option (default 1)
      --custom-op-lib PATH custom-op shared library to register (RegisterCustomOpsLibrary; repeatable)
      --session-config K=V ONNX Runtime session config entry (repeatable; set before any library is registered;
                           with --ep-lib and --threads > 1, ort_test sets session.intra_op.allow_spinning=0
                           unless this flag sets it)
  -s, --save-optimized P   save the optimized graph to P (default: not saved)
  -t, --trace PREFIX       write an ORT profiling trace PREFIX_<date>.json and print its path (default: off)

Accelerator (the Systolic plugin execution provider; -x, --threads and the flags below are its provider options):
      --ep-lib PATH        librcnn_systolic_ep.so (ORT >= 1.23) to register and append before the CPU EP; it
                           claims the quantized (or, with an fp32 config, float) nodes it can run
      --systolic-config F  accelerator config file (TOML subset like ep/systolic/accelerator.toml); its text
                           is the EP's config option (default: the EP's built-in int8 config)
      --dim N              systolic array size, overriding the config's dim: the EP's dim option
      --device guest|host  where -x 1/-x 2 ops run: guest = in this process (under qemu: emulated RISC-V code),
                           host = in the native device process this one runs under (start ort_test as
                           `rcnn_device -- qemu-riscv64 ... ort_test ...`); the EP's device option (default guest;
                           -x 0 always runs in this process)
      --adds accelerator|cpu
                           where residual adds run: accelerator = its resadd (Gemmini's double rounding, within
                           1 LSB of QLinearAdd), cpu = ONNX Runtime's QLinearAdd (bit-exact against the CPU EP);
                           the EP's adds option (default accelerator)
  --systolic-config, --dim, --device and --adds have no effect without --ep-lib. After the runs, the EP's config, mode,
  threads and where its arithmetic ran, its placement (nodes and MACs on the accelerator, every node left on the
  CPU with the reason) and its op calls, MACs and estimated cycles over all runs are printed; with -o its report goes to outputs.json under "systolic_ep".

Run and output:
  -r, --repeat N           run inference N times; prints each time, min and median (default 1)
  -o, --output-dir DIR     write DIR/output_K.pb and DIR/outputs.json (DIR created if missing; default: none)
  -h, --help               show this help and exit

Safety and limits: before ONNX Runtime loads the model, ort_test reads it and refuses external data outside the
model's folder (absolute, "..", or a symlink leading out), external or inline data whose size disagrees with the
declared dims, and tensors over the limit. Limits, from the environment (positive integers):
  RCNN_MAX_IMAGE_PIXELS    width*height of an -i image, checked from its header before decoding (100000000)
  RCNN_MAX_TENSOR_BYTES    bytes of any tensor the model declares, and of the tensor built from an -i image
                           (2147483648)

Flags take their value as the next argument, as --flag=VALUE, or attached to the short form (-O99).
Exit status: 0 success, 1 error, 2 usage error (command line or limit variable), 3 refused input (unsafe model,
input over a limit); errors print one line "ort_test: error: ..." on stderr.
)";
}

}  // namespace ort_test
