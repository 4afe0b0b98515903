// args: ort_test's command line -> parse_args, then session_config_entries and systolic_ep_options, then the
// EP's option parser (parse_options) on those provider options: the path an option takes from the command line to
// the Systolic EP. The input is the argument list, NUL-separated. Documented errors: UsageError (parse_args),
// std::runtime_error for a --systolic-config file that cannot be read, std::invalid_argument (parse_options).
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "args.h"
#include "errors.h"
#include "options.h"
#include "session_config.h"
#include "target.h"

namespace fuzz {
namespace {

// argv beyond this many entries adds nothing the first ones do not already exercise.
constexpr size_t kMaxArguments = 64;

class ArgsTarget : public Target {
 public:
  explicit ArgsTarget(const Scratch& scratch)
      : config_path_((scratch.models() / "accelerator.toml").string()),
        missing_path_((scratch.models() / "missing.toml").string()) {
    std::ofstream(config_path_) << "dim = 8\nsp_banks = 4\nsp_bank_rows = 4096\nacc_rows = 1024\ndataflow = \"os\"\n"
                                   "elem = \"fp32\"\ndma_bytes_per_cycle = 16\n";
  }

  const char* name() const override { return "args"; }
  const char* documented_errors() const override {
    return "ort_test::UsageError, std::runtime_error (unreadable config file), std::invalid_argument (EP options)";
  }
  bool takes_seed(const std::filesystem::path& file) const override { return file.extension() == ".argv"; }

  std::vector<std::string> dictionary() const override {
    return {"-m", "--model", "-i", "--image", "--input", "-p", "--preprocess", "zoo", "torchvision", "caffe2",
            "caffe", "mxnet", "none", "-x", "--execution", "-O", "--optimization", "-d", "--log-severity", "-t",
            "--trace", "-s", "--save-optimized", "-o", "--output-dir", "--threads", "--custom-op-lib",
            "--ep-lib", "--systolic-config", "--dim", "--device", "guest", "host", "--session-config", "-r",
            "--repeat", "-h", "--help", "=",
            "--", std::string(1, '\0'), "session.intra_op.allow_spinning=", "99", "1024", "1025", "65536", "-1", "2147483648"};
  }

  Outcome run(const Bytes& input) override {
    // argv[0], then one argument per NUL-separated piece (an empty piece is an empty argument).
    std::vector<std::string> arguments{"ort_test"};
    arguments.emplace_back();
    for (uint8_t byte : input) {
      if (byte != 0) {
        arguments.back().push_back(static_cast<char>(byte));
      } else if (arguments.size() < kMaxArguments) {
        arguments.emplace_back();
      }
    }
    std::vector<const char*> argv;
    for (const std::string& argument : arguments) argv.push_back(argument.c_str());
    argv.push_back(nullptr);

    ort_test::Options options;
    try {
      options = ort_test::parse_args(static_cast<int>(arguments.size()), argv.data());
    } catch (const ort_test::UsageError& e) {
      return Outcome{false, "usage: " + message_feature(e.what())};
    }
    check_options(options);

    // The file named by --systolic-config is the scratch one or a missing one: a fuzzed path could name a device
    // (/dev/zero) that no real user passes.
    const bool missing = options.systolic_config && options.systolic_config->size() % 2 == 1;
    if (options.systolic_config) options.systolic_config = missing ? missing_path_ : config_path_;
    std::set<std::string> keys;
    for (const auto& entry : ort_test::session_config_entries(options)) {
      if (!keys.insert(entry.first).second) throw FuzzFailure{"session config sets '" + entry.first + "' twice"};
    }
    std::unordered_map<std::string, std::string> ep;
    try {
      ep = ort_test::systolic_ep_options(options);
    } catch (const std::runtime_error& e) {
      if (!missing) throw FuzzFailure{std::string("systolic_ep_options failed on a readable file: ") + e.what()};
      return Outcome{false, "EP options: " + message_feature(e.what())};
    }
    try {
      rcnn::ep::parse_options(std::map<std::string, std::string>(ep.begin(), ep.end()));
    } catch (const std::invalid_argument& e) {
      return Outcome{false, "EP options: " + message_feature(e.what())};
    }
    return Outcome{true, options.help ? "ok, help" : "ok"};
  }

 private:
  // What parse_args promises of the options it returns.
  static void check_options(const ort_test::Options& o) {
    const bool ok = (o.help || !o.model.empty()) && o.execution >= 0 && o.execution <= 2 && o.threads >= 1 &&
                    o.threads <= 1024 && o.repeat >= 1 && o.repeat <= 1000000 && o.log_severity >= 0 &&
                    o.log_severity <= 4 && (!o.dim || (*o.dim >= 1 && *o.dim <= 65536)) &&
                    (o.optimization_level == 0 || o.optimization_level == 1 || o.optimization_level == 2 ||
                     o.optimization_level == 99);
    if (!ok) throw FuzzFailure{"parse_args returned options outside their documented ranges"};
    for (const auto& [key, value] : o.session_config) {
      if (key.empty()) throw FuzzFailure{"parse_args returned a --session-config entry with an empty key"};
    }
  }

  std::string config_path_;
  std::string missing_path_;
};

}  // namespace

std::unique_ptr<Target> make_args_target(const Scratch& scratch) { return std::make_unique<ArgsTarget>(scratch); }

}  // namespace fuzz
