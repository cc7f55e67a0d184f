// One file per subcommand; each registers itself on the CLI11 app and returns the exit code when run.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace ak::cli {

/// A registered subcommand: `run` is called when it was chosen, after parsing.
using Runner = std::function<int()>;

Runner add_bench_command(CLI::App& app);
Runner add_worker_command(CLI::App& app);
Runner add_hw_command(CLI::App& app);
Runner add_run_command(CLI::App& app);
Runner add_status_command(CLI::App& app);
Runner add_merge_command(CLI::App& app);
Runner add_keep_command(CLI::App& app);
Runner add_revert_command(CLI::App& app);
Runner add_export_command(CLI::App& app);
Runner add_verify_command(CLI::App& app);
Runner add_report_command(CLI::App& app);
Runner add_profile_command(CLI::App& app);
Runner add_extract_command(CLI::App& app);
Runner add_suite_command(CLI::App& app);

/// Exit codes shared by the commands.
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_rejected = 1;  ///< the candidate was judged and failed (incorrect, crash, hang, compile)
inline constexpr int k_exit_usage = 2;     ///< bad input: a missing file, an unknown name, no GPU

/// A dtype the harness times in (f16, bf16, f32 and their aliases), checked while parsing, so a typo is
/// refused before anything runs or is written.
CLI::Validator timing_dtype();

/// Parse NAME=value items (for --knob).
std::map<std::string, std::string> parse_assignments(const std::vector<std::string>& items);

}  // namespace ak::cli
