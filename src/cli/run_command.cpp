// `autokernel run`: the loop over the workspace's kernels (see loop/run_loop.hpp). Ctrl-C stops after
// the current experiment; a second Ctrl-C stops at once (the next run reverts the unfinished one).
#include <csignal>
#include <unistd.h>
#include <cstdio>

#include <fmt/ranges.h>

#ifdef AK_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "backends/backend.hpp"
#include "cli/commands.hpp"
#include "hw/device.hpp"
#include "loop/multi_worker.hpp"
#include "loop/run_loop.hpp"
#include "loop/slurm_array.hpp"
#include "util/process.hpp"
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

int gpu_count() {
#ifdef AK_HAVE_CUDA
  if (backends::cuda_available()) return static_cast<int>(at::cuda::device_count());
#endif
  return 0;
}

/// This process's own `run` command line for its workers: the same options, less `drop` (those the parent
/// decides for each worker, or gives in another form) and their values.
std::vector<std::string> worker_command_line(const std::vector<std::string>& drop) {
  auto args = util::self_arguments();
  std::vector<std::string> out = {util::self_executable()};
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    if (std::ranges::find(drop, a) != drop.end()) {
      if (a != "--slurm-array") ++i;  // and its value
      continue;
    }
    if (std::ranges::any_of(drop, [&](const auto& d) { return a.starts_with(d + "="); })) continue;
    out.push_back(a);
  }
  return out;
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
  cmd->add_option("--compile-ahead", o->compile_ahead,
                  "while one candidate is timed, compile the proposer's next N on N threads (0: off); a host's "
                  "workers together compile at most as many ahead as it has cores")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  auto gpus = std::make_shared<std::string>();
  cmd->add_option("--gpus", *gpus,
                  "one worker per device, each on its own kernels: GPU indices (0,1,...), all, or cpu:N for N CPU "
                  "workers; --max-experiments then counts per kernel. The first listed is the reference: at the end "
                  "each kernel's best version is re-timed on it (a `retimed` row, the speed-up reported)");
  auto slurm = std::make_shared<bool>(false);
  cmd->add_flag("--slurm-array", *slurm,
                "past one host: write a Slurm job array script (one task per kernel) instead of running; "
                "`autokernel merge` afterwards");
  // Set by a --gpus parent for each of its workers (loop/multi_worker.hpp); not for users.
  cmd->add_option("--worker-kernel", o->worker_kernel)->group("");
  cmd->add_option("--device", o->device)->group("");
  cmd->add_option("--device-model", o->device_model)->group("");
  cmd->add_option("--retime", o->retime_commit)->group("");
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
  return [o, budget, kernel_budget, workspace, gpus, slurm] {
    o->workspace = *workspace;
    o->budget_s = parse_duration(*budget);
    o->kernel_budget_s = parse_duration(*kernel_budget);
    auto print = [](const std::string& line) {
      fmt::print("{}\n", line);
      std::fflush(stdout);
    };
    std::vector<loop::Device> devices;
    if (!gpus->empty() && o->worker_kernel.empty()) {
      // Checked before anything runs; CUDA is asked only when GPUs are named.
      devices = value_or_throw(loop::parse_devices(*gpus, gpus->starts_with("cpu:") ? 0 : gpu_count()));
      for (auto& d : devices) {
        if (d.gpu) d.model = hw::detect(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(d.index))).name;
      }
    }
    if (*slurm) {
      if (!gpus->empty())
        throw Fatal(Error{"--slurm-array and --gpus: Slurm gives each task its device", "drop --gpus"});
      // Each task is a worker on one kernel: the script gives it the absolute workspace and its kernel.
      const auto argv = worker_command_line({"--slurm-array", "--workspace", "--kernel"});
      const auto a = value_or_throw(loop::write_slurm_array(*o, argv, std::filesystem::current_path(), print));
      print(fmt::format("wrote {}: {} array tasks, one per kernel ({})", a.script.string(), a.kernels.size(),
                        fmt::join(a.kernels, ", ")));
      print(fmt::format(
          "submit it with `sbatch {}`; when the tasks have ended, `autokernel merge --workspace {} --tag {}`",
          a.script.string(), o->workspace.string(), o->tag));
      return k_exit_ok;
    }
    if (!o->worker_kernel.empty() && o->device_model.empty()) {
      // A Slurm task's worker: no parent named its device's model.
      o->device_model = backends::cuda_available() ? hw::detect(at::Device(at::kCUDA, 0)).name : "cpu";
    }
    std::signal(SIGINT, on_sigint);
    if (!o->worker_kernel.empty()) fmt::print("{}{}\n", loop::k_worker_pid_prefix, ::getpid());
    if (devices.size() > 1) {
      if (auto r = loop::run_workers(*o, devices, worker_command_line({"--gpus", "--budget"}), print); !r) {
        throw Fatal(r.error());
      }
      return k_exit_ok;
    }
    if (devices.size() == 1) {  // one device: the run as without --gpus, on that device
      if (devices[0].gpu) ::setenv("CUDA_VISIBLE_DEVICES", std::to_string(devices[0].index).c_str(), 1);
      o->device = devices[0].id;
    }
    if (!o->worker_kernel.empty() && !o->retime_commit.empty()) {
      if (auto r = loop::retime_best(*o, print); !r) throw Fatal(r.error());
      return k_exit_ok;
    }
    auto r = loop::run_loop(*o, print);
    if (!r) throw Fatal(r.error());
    return k_exit_ok;
  };
}

Runner add_merge_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("merge", "merge each kernel's worker branch (a Slurm array's) into autokernel/<tag>");
  auto workspace = std::make_shared<std::string>("workspace");
  auto tag = std::make_shared<std::string>("run");
  cmd->add_option("--workspace", *workspace, "the run's folder")->capture_default_str();
  cmd->add_option("--tag", *tag, "the run's tag, as given to `run`")->capture_default_str();
  auto retime = std::make_shared<std::string>(), dtype = std::make_shared<std::string>();
  cmd->add_option("--retime", *retime,
                  "then time each kernel's best version again here, on this GPU (an index) or on cpu (CPU kernels): "
                  "one reference for the rows of every task");
  cmd->add_option("--dtype", *dtype, "with --retime: the dtype, as given to `run`")->check(timing_dtype());
  return [workspace, tag, retime, dtype] {
    auto print = [](const std::string& line) {
      fmt::print("{}\n", line);
      std::fflush(stdout);
    };
    // The device is checked before anything is merged. Rows name it as a Slurm task's do: host:GPU, host:cpu.
    loop::Device ref{util::host_name() + ":cpu", false, 0, "cpu"};
    if (!retime->empty() && *retime != "cpu") {
      const int gpus = gpu_count();
      const auto d = loop::parse_devices(*retime, gpus);
      if (!d || d->size() != 1 || !d->front().gpu) {
        throw Fatal(Error{fmt::format("--retime {}: not one GPU of this machine", *retime),
                          gpus == 0 ? "this machine has no GPU: --retime cpu re-times CPU kernels"
                                    : fmt::format("give one GPU index from 0 to {}, or cpu", gpus - 1)});
      }
      const int index = d->front().index;
      ref = {fmt::format("{}:{}", util::host_name(), index), true, index,
             hw::detect(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index))).name};
    }
    const auto merged = value_or_throw(loop::merge_worker_branches(*workspace, *tag, print));
    print(fmt::format("merged into autokernel/{}: {}", *tag, fmt::join(merged, ", ")));
    if (retime->empty()) return k_exit_ok;
    std::vector<std::string> argv = {
        util::self_executable(), "run", "--workspace", std::filesystem::absolute(*workspace).string(), "--tag", *tag};
    if (!dtype->empty()) argv.insert(argv.end(), {"--dtype", *dtype});
    const auto timed = value_or_throw(loop::retime_bests(*workspace, *tag, ref, argv, print));
    print(fmt::format("best versions timed on {}, the reference: {}", ref.id,
                      timed.empty() ? std::string("none") : fmt::format("{}", fmt::join(timed, ", "))));
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
