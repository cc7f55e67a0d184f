// `autokernel suite`: our kernels against PyTorch eager, torch.compile, the vendor libraries and the copy
// ceiling, at the same shapes and dtypes, in one run (see suite/suite.hpp). The table goes to stdout,
// progress to stderr, everything to --json FILE (also written as the run goes: an interrupted run keeps
// what it measured). Exit 0 when it ran (failed kernels are rows that say so), 2 on bad input.
#include <cstdio>
#include <filesystem>
#include <optional>

#include "backends/backend.hpp"
#include "cli/commands.hpp"
#include "suite/suite.hpp"
#include "suite/table.hpp"
#include "util/fs.hpp"
#include "util/resources.hpp"

namespace ak::cli {
namespace {

struct SuiteArgs {
  std::string types, configs, dtypes, backends, json;
  std::string kernels_dir = util::kernels_dir().string();
  std::vector<std::string> knobs;
  bool quick = false, no_compile = false, resume = false;
  int case_timeout_s = 60;
  double max_speedup = 10;
};

}  // namespace

Runner add_suite_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("suite", "measure our kernels against PyTorch eager, torch.compile and the libraries");
  auto a = std::make_shared<SuiteArgs>();
  cmd->add_option("--types", a->types, "kernel types, comma-separated (default: those --configs names, else all)");
  cmd->add_option("--configs", a->configs, "TYPE:DIMS[,TYPE:DIMS...], e.g. softmax:64x128: replace a type's shapes");
  cmd->add_option("--dtypes", a->dtypes, "dtypes, comma-separated (default: f16,bf16)");
  cmd->add_option("--backends", a->backends,
                  "our backends, comma-separated (default: cuda,triton with a GPU, else cpu)");
  cmd->add_option("--kernels-dir", a->kernels_dir, "folder of <type>/{cuda.cu,triton.py,cpu.cpp}")
      ->capture_default_str();
  cmd->add_option("--knob", a->knobs, "TYPE.BACKEND.NAME=VALUE: set a kernel's knob (repeatable)");
  cmd->add_flag("--quick", a->quick, "check our kernels with the quick stages (1-2) only");
  cmd->add_flag("--no-compile", a->no_compile, "do not measure torch.compile");
  cmd->add_option("--json", a->json, "write every number (all backends, baselines, ceiling, device) to FILE");
  cmd->add_flag("--resume", a->resume,
                "go on with the stopped run whose --json FILE this is: keep its baselines and finished kernels");
  cmd->add_option("--case-timeout", a->case_timeout_s, "seconds without progress before a case counts as hung")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-speedup", a->max_speedup, "flag and re-measure a speed-up over PyTorch above this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return [a] {
    suite::SuiteRequest r;
    if (!a->types.empty()) r.types = value_or_throw(suite::parse_types(a->types));
    if (!a->configs.empty()) r.configs = value_or_throw(suite::parse_configs(a->configs));
    r.dtypes = suite::split_list(a->dtypes);
    r.backends = suite::split_list(a->backends);
    r.kernels_dir = a->kernels_dir;
    r.knobs = a->knobs;
    r.quick = a->quick;
    r.compile = !a->no_compile;
    r.case_timeout = std::chrono::seconds(a->case_timeout_s);
    r.max_speedup = a->max_speedup;
    const auto plan = value_or_throw(suite::make_plan(r, backends::cuda_available()));
    std::optional<suite::Resumed> resumed;
    if (a->resume) {
      if (a->json.empty()) throw Fatal({"--resume needs --json FILE: the document of the run to go on with"});
      if (std::filesystem::exists(a->json)) {
        nlohmann::json earlier;
        try {
          earlier = nlohmann::json::parse(value_or_throw(util::read_file(a->json), "reading " + a->json));
        } catch (const nlohmann::json::exception& e) {
          throw Fatal({fmt::format("--resume: {} is not JSON: {}", a->json, e.what())});
        }
        resumed = value_or_throw(suite::resume_from(plan, earlier), "--resume " + a->json);
      }
    }
    auto print = [](const std::string& line) {
      fmt::print(stderr, "{}\n", line);
      std::fflush(stderr);
    };
    auto write_json = [&](const nlohmann::json& doc) { return util::write_file_atomic(a->json, doc.dump(2) + "\n"); };
    // --json is rewritten after the baselines and after each kernel, so a run that is stopped keeps them.
    bool told = false;
    auto partial = [&](const nlohmann::json& doc) {
      if (a->json.empty()) return;
      if (auto w = write_json(doc); !w) {
        print(fmt::format("warning: cannot write {}: {}", a->json, w.error().message));
      } else if (!told) {
        print(fmt::format("partial results go to {} as each kernel finishes", a->json));
        told = true;
      }
    };
    if (a->resume && !resumed)
      print(fmt::format("--resume: {} does not exist yet; starting from the beginning", a->json));
    const auto doc = value_or_throw(suite::run_suite(plan, print, partial, resumed ? &*resumed : nullptr));
    if (!a->json.empty()) {
      value_or_throw(write_json(doc), "writing " + a->json);
      print("written to " + a->json);
    }
    fmt::print("{}", suite::format_table(doc));
    return k_exit_ok;
  };
}

}  // namespace ak::cli
