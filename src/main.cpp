// autokernel: makes a PyTorch model's GPU kernels faster. This file only dispatches to cli/.
#include <cstdio>
#include <exception>
#include <utility>

#include <fmt/core.h>

#include "cli/commands.hpp"
#include "util/error.hpp"

int main(int argc, char** argv) {
  // Progress lines reach a pipe (tee, a CI log) as they are printed, and survive the process being killed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"autokernel: find the GPU kernels where a model's time goes, and make them faster"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("autokernel 0.1.0"));
  const std::vector<std::pair<std::string, ak::cli::Runner>> commands = {
      {"profile", ak::cli::add_profile_command(app)}, {"extract", ak::cli::add_extract_command(app)},
      {"bench", ak::cli::add_bench_command(app)},     {"run", ak::cli::add_run_command(app)},
      {"status", ak::cli::add_status_command(app)},   {"keep", ak::cli::add_keep_command(app)},
      {"revert", ak::cli::add_revert_command(app)},   {"export", ak::cli::add_export_command(app)},
      {"verify", ak::cli::add_verify_command(app)},   {"report", ak::cli::add_report_command(app)},
      {"suite", ak::cli::add_suite_command(app)},     {"hw", ak::cli::add_hw_command(app)},
      {"worker", ak::cli::add_worker_command(app)},   {"merge", ak::cli::add_merge_command(app)}};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : ak::cli::k_exit_usage;
  }
  try {
    for (const auto& [name, run] : commands) {
      if (app.got_subcommand(name)) return run();
    }
    return ak::cli::k_exit_usage;
  } catch (const ak::Fatal& e) {
    fmt::print(stderr, "autokernel: error: {}\n", e.what());
    if (!e.hint().empty()) fmt::print(stderr, "hint: {}\n", e.hint());
    return ak::cli::k_exit_usage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "autokernel: error: {}\n", e.what());
    return ak::cli::k_exit_usage;
  }
}
