// Command-line parsing: defaults, every flag in its long, short, "=" and attached forms, and usage errors.
#include <string>
#include <vector>

#include "args.h"
#include "check.h"
#include "errors.h"

using namespace ort_test;

namespace {

Options parse(std::vector<const char*> args) {
  args.insert(args.begin(), "ort_test");
  return parse_args(static_cast<int>(args.size()), args.data());
}

// The error must be a UsageError (exit status 2), not just any exception.
bool usage_error(std::vector<const char*> args, const std::string& substring) {
  try {
    parse(std::move(args));
  } catch (const UsageError& e) {
    return std::string(e.what()).find(substring) != std::string::npos;
  }
  return false;
}

void defaults(test::Checker& t) {
  const Options o = parse({"-m", "model.onnx"});
  CHECK_EQ(o.model, std::string("model.onnx"));
  CHECK(!o.image && o.input_files.empty() && !o.preprocess);
  CHECK_EQ(o.execution, 0);
  CHECK_EQ(o.optimization_level, 99);
  CHECK_EQ(o.log_severity, 3);
  CHECK_EQ(o.threads, 1);
  CHECK_EQ(o.repeat, 1);
  CHECK(!o.trace_prefix && !o.save_optimized && !o.output_dir && o.custom_op_libs.empty() && !o.help);
  CHECK(!o.systolic_config && !o.dim && o.session_config.empty());
}

void accelerator_flags(test::Checker& t) {
  const Options o = parse({"-m", "m", "--systolic-config", "acc.toml", "--dim=8", "--session-config", "a.b=1",
                           "--session-config=k=v=w", "--session-config", "empty="});
  CHECK_EQ(*o.systolic_config, std::string("acc.toml"));
  CHECK_EQ(*o.dim, 8);
  CHECK_EQ(o.session_config.size(), size_t{3});
  CHECK((o.session_config[0] == std::pair<std::string, std::string>{"a.b", "1"}));
  CHECK((o.session_config[1] == std::pair<std::string, std::string>{"k", "v=w"}));  // split at the first '='
  CHECK((o.session_config[2] == std::pair<std::string, std::string>{"empty", ""}));
  CHECK(usage_error({"-m", "a", "--dim", "0"}, "--dim expects an integer in 1..65536, got '0'"));
  CHECK(usage_error({"-m", "a", "--dim", "8", "--dim", "16"}, "--dim given twice"));
  CHECK(usage_error({"-m", "a", "--session-config", "novalue"}, "--session-config expects KEY=VALUE, got 'novalue'"));
  CHECK(usage_error({"-m", "a", "--session-config", "=v"}, "--session-config expects KEY=VALUE"));
  CHECK(usage_error({"-m", "a", "--systolic-config"}, "--systolic-config needs a value"));
  CHECK(help_text().find("--systolic-config") != std::string::npos);
  CHECK(help_text().find("\"systolic_ep\"") != std::string::npos);
}

void every_flag(test::Checker& t) {
  const Options o = parse({"--model", "m.onnx", "-i", "img.png", "--input", "a.pb", "--input=b.pb", "-p", "caffe",
                           "-x", "2", "-O", "1", "-d", "0", "-t", "trace", "-s", "opt.onnx", "-o", "out",
                           "--threads", "3", "--custom-op-lib", "l1.so", "--custom-op-lib=l2.so", "-r", "5"});
  CHECK_EQ(o.model, std::string("m.onnx"));
  CHECK_EQ(*o.image, std::string("img.png"));
  CHECK((o.input_files == std::vector<std::string>{"a.pb", "b.pb"}));
  CHECK_EQ(o.preprocess->text, std::string("caffe"));
  CHECK_EQ(o.execution, 2);
  CHECK_EQ(o.optimization_level, 1);
  CHECK_EQ(o.log_severity, 0);
  CHECK_EQ(*o.trace_prefix, std::string("trace"));
  CHECK_EQ(*o.save_optimized, std::string("opt.onnx"));
  CHECK_EQ(*o.output_dir, std::string("out"));
  CHECK_EQ(o.threads, 3);
  CHECK((o.custom_op_libs == std::vector<std::string>{"l1.so", "l2.so"}));
  CHECK_EQ(o.repeat, 5);

  const Options l = parse({"--model=m", "--image", "i", "--preprocess=mxnet", "--execution=1", "--optimization",
                           "0", "--log-severity=4", "--trace", "p", "--save-optimized", "s", "--output-dir", "d",
                           "--repeat=2"});
  CHECK_EQ(l.preprocess->text, std::string("mxnet"));
  CHECK_EQ(l.execution, 1);
  CHECK_EQ(l.optimization_level, 0);
  CHECK_EQ(l.log_severity, 4);
  CHECK_EQ(l.repeat, 2);

  const Options attached = parse({"-mm.onnx", "-O99", "-x0", "-r7"});
  CHECK_EQ(attached.model, std::string("m.onnx"));
  CHECK_EQ(attached.optimization_level, 99);
  CHECK_EQ(attached.repeat, 7);
}

void help_needs_no_model(test::Checker& t) {
  CHECK(parse({"-h"}).help);
  CHECK(parse({"--help"}).help);
  CHECK(parse({"-m", "x", "--help"}).help);
  // Every flag is documented.
  for (const char* flag : {"--model", "--image", "--input", "--preprocess", "--execution", "--optimization",
                           "--log-severity", "--threads", "--custom-op-lib", "--session-config", "--save-optimized",
                           "--trace", "--systolic-config", "--dim", "--repeat", "--output-dir", "--help"}) {
    if (help_text().find(std::string(flag) + " ") == std::string::npos) t.fail(flag, "help_text", 0);
  }
}

void usage_errors(test::Checker& t) {
  CHECK(usage_error({}, "-m/--model is required"));
  CHECK(usage_error({"-m"}, "-m/--model needs a value"));
  CHECK(usage_error({"-m", "a", "-m", "b"}, "-m/--model given twice"));
  CHECK(usage_error({"-m", "a", "--bogus"}, "unknown flag '--bogus'"));
  CHECK(usage_error({"-m", "a", "-q"}, "unknown flag '-q'"));
  CHECK(usage_error({"-m", "a", "stray"}, "unexpected argument 'stray'"));
  CHECK(usage_error({"-m", "a", "-"}, "unexpected argument '-'"));
  CHECK(usage_error({"-m", "a", "--help=yes"}, "--help takes no value"));
  CHECK(usage_error({"-m", "a", "-x", "3"}, "-x expects one of 0|1|2, got '3'"));
  CHECK(usage_error({"-m", "a", "-x", "-1"}, "-x expects"));
  CHECK(usage_error({"-m", "a", "-O", "3"}, "-O expects one of 0|1|2|99"));
  CHECK(usage_error({"-m", "a", "-O", "099"}, "-O expects"));
  CHECK(usage_error({"-m", "a", "-d", "5"}, "-d expects an integer in 0..4, got '5'"));
  CHECK(usage_error({"-m", "a", "-r", "0"}, "-r expects"));
  CHECK(usage_error({"-m", "a", "-r", "2x"}, "-r expects"));
  CHECK(usage_error({"-m", "a", "-r", ""}, "-r expects"));
  CHECK(usage_error({"-m", "a", "-r", "99999999999999999999"}, "-r expects"));
  CHECK(usage_error({"-m", "a", "--threads", "0"}, "--threads expects"));
  CHECK(usage_error({"-m", "a", "-p", "imagenet"}, "-p: bad preprocess spec: token 'imagenet' is unknown"));
  CHECK(usage_error({"-m", "a", "--input"}, "--input needs a value"));
}

}  // namespace

int main() {
  return test::run_tests("args", {{"defaults", defaults},
                                  {"every_flag", every_flag},
                                  {"accelerator_flags", accelerator_flags},
                                  {"help_needs_no_model", help_needs_no_model},
                                  {"usage_errors", usage_errors}});
}
