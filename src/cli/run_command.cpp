// `autokernel run`: the loop over the workspace's kernels (see loop/run_loop.hpp). Ctrl-C stops after
// the current experiment; a second Ctrl-C stops at once (the next run reverts the unfinished one).
#include <csignal>
#include <unistd.h>
#include <cstdio>

#include "cli/commands.hpp"
#include "loop/run_loop.hpp"
#include "util/resources.hpp"

namespace ak::cli {
namespace {

void on_sigint(int) {
  loop::request_stop();
  static const char msg[] = "\nstopping after the current experiment (Ctrl-C again to stop now)\n";
  (void)!::write(2, msg, sizeof msg - 1);
  std::signal(SIGINT, SIG_DFL);
}

/// "90", "90s", "15m", "8h" -> seconds.
double parse_duration(const std::string& s) {
  if (s.empty()) return 0;
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    throw Fatal(Error{fmt::format("bad duration '{}' (examples: 90s, 15m, 8h)", s)});
  }
  if (v < 0) throw Fatal(Error{fmt::format("bad duration '{}': it must not be negative", s), "e.g. --budget 8h"});
  const auto unit = s.substr(used);
  if (unit.empty() || unit == "s") return v;
  if (unit == "m") return v * 60;
  if (unit == "h") return v * 3600;
  throw Fatal(Error{fmt::format("bad duration '{}' (examples: 90s, 15m, 8h)", s)});
}

}  // namespace

Runner add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "optimise the workspace's kernels: propose, check, time, keep or revert");
  auto o = std::make_shared<loop::RunOptions>();
  auto budget = std::make_shared<std::string>(), kernel_budget = std::make_shared<std::string>();
  auto workspace = std::make_shared<std::string>("workspace");
  cmd->add_option("--workspace", *workspace, "the run's folder (a git repository of its own)")->capture_default_str();
  cmd->add_option("--kernel", o->add_kernels, "add a candidate file to the workspace (repeatable)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--kernels", o->only_kernels, "work on these of the workspace's kernels only (names as in status)")
      ->delimiter(',');
  cmd->add_option("--proposer", o->proposer, "who writes candidates: search | agent | llm")
      ->check(CLI::IsMember({"search", "agent", "llm"}))
      ->capture_default_str();
  cmd->add_option("--tag", o->tag, "names the branch autokernel/<tag>")->capture_default_str();
  cmd->add_option("--budget", *budget, "stop after this long (90s, 15m, 8h), counted from this invocation");
  cmd->add_option("--kernel-budget", *kernel_budget, "move on from a kernel after this long on it");
  cmd->add_option("--max-experiments", o->max_experiments, "stop after this many experiments (this invocation)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-reverts", o->max_consecutive_reverts, "move on after this many experiments without a gain")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--target-speedup", o->target_speedup, "move on at this speed-up over the starter")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--done-pct", o->done_pct_of_ceiling,
                  "move on at this % of the kernel's measured ceiling (a kernel can measure above 100%, from cache; "
                  "1000 never stops here)")
      ->check(CLI::PositiveNumber & CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  cmd->add_option("--min-gain", o->min_gain, "keep only gains above this fraction (and above the measured noise)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "dtype the kernels are timed in (default: the model's, from extract; else f16)")
      ->check(timing_dtype());
  cmd->add_option("--max-speedup", o->max_speedup,
                  "a speed-up over PyTorch above this is re-measured, and kept only if confirmed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--case-timeout", o->case_timeout_s, "seconds without progress before a case is a hang")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-proposer-failures", o->max_proposer_failures,
                  "stop after the proposer failed this many times in a row (an outage); a later run resumes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--proposer-backoff", o->proposer_backoff_s,
                  "seconds to wait after a failed proposal, doubling in an outage up to 2 minutes")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "the search's random seed")->capture_default_str();
  auto& po = o->proposer_options;
  cmd->add_option("--cmd", po.agent_cmd, "agent: the coding-agent command line (run with sh -c in the workspace)");
  cmd->add_option("--agent-timeout", po.agent_timeout_s, "agent: seconds before a run counts as hung")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--endpoint", po.llm_endpoint,
                  "llm: base URL of an OpenAI-compatible API, e.g. http://localhost:8000/v1");
  cmd->add_option("--model", po.llm_model, "llm: model name");
  cmd->add_option("--api-key-env", po.llm_api_key_env, "llm: environment variable holding the API key")
      ->capture_default_str();
  cmd->add_option("--llm-timeout", po.llm_timeout_s, "llm: seconds per request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--llm-retries", po.llm_retries, "llm: retries of a failed request (connection, 429, 5xx)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  po.program_md = util::program_md().string();
  cmd->add_option("--program", po.program_md, "the playbook handed to agents and LLMs")->capture_default_str();
  return [o, budget, kernel_budget, workspace] {
    o->workspace = *workspace;
    o->budget_s = parse_duration(*budget);
    o->kernel_budget_s = parse_duration(*kernel_budget);
    std::signal(SIGINT, on_sigint);
    auto r = loop::run_loop(*o, [](const std::string& line) {
      fmt::print("{}\n", line);
      std::fflush(stdout);
    });
    if (!r) throw Fatal(r.error());
    return k_exit_ok;
  };
}

Runner add_status_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("status", "where a workspace's run stands");
  auto workspace = std::make_shared<std::string>("workspace");
  cmd->add_option("--workspace", *workspace, "the run's folder")->capture_default_str();
  return [workspace] {
    fmt::print("{}\n", value_or_throw(loop::status_text(*workspace)));
    return k_exit_ok;
  };
}

}  // namespace ak::cli
