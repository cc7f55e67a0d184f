// The loop: over the workspace's kernels, Amdahl-ordered, propose -> commit -> bench -> keep or revert,
// one results.tsv row per experiment. All state is in git and results.tsv, so a run killed at any
// point resumes where it stopped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "loop/proposer.hpp"
#include "util/error.hpp"
#include "workspace/workspace.hpp"

namespace ak::loop {

struct RunOptions {
  std::filesystem::path workspace = "workspace";
  std::string tag = "run";                ///< branch autokernel/<tag>; rows of results.tsv carry it
  std::vector<std::string> add_kernels;   ///< candidate files copied into the workspace on first use
  std::vector<std::string> only_kernels;  ///< work on these workspace kernels only; empty: all
  std::string proposer = "search";
  ProposerOptions proposer_options;  ///< settings of the agent and llm proposers
  double budget_s = 0;               ///< this invocation [s] (a resumed run gets it whole); 0: none
  double kernel_budget_s = 0;        ///< per kernel, counted from its own experiments [s]; 0: none
  int max_experiments = 0;           ///< this invocation; 0: none
  int max_consecutive_reverts = 10;  ///< move on after this many non-improving experiments in a row
  double target_speedup = 0;         ///< move on at this speed-up over the kernel's baseline; 0: none
  double done_pct_of_ceiling = 90;   ///< move on at this % of the measured ceiling
  double min_gain = 0.01;            ///< keep only gains above this fraction (and above the noise)
  double max_speedup = 10;           ///< a speed-up over PyTorch above this is re-measured before it is kept
  std::string dtype;                 ///< empty: each kernel's model dtype (from extract), else f16
  int case_timeout_s = 60;
  uint64_t seed = 1;
  /// While one candidate is timed, compile the proposer's next this many (should it not be kept) on as many
  /// threads, into the build cache (loop/compile_ahead); 0: each is compiled by its own bench only.
  int compile_ahead = 2;
  /// A proposer outage (endpoint down, agent failing): after each failed proposal the loop waits, from
  /// this many seconds doubling up to max_proposer_backoff_s, and stops after max_proposer_failures in a
  /// row (any kernel). A failed proposal is not a revert: it never makes a kernel done.
  double proposer_backoff_s = 1;
  double max_proposer_backoff_s = 120;
  int max_proposer_failures = 10;
  /// `run --gpus`: the device the rows record ("0", "cpu:1"; "" without --gpus). With worker_kernel set this
  /// process is one worker of a multi-device run (loop/multi_worker): it works on that kernel only, in its
  /// worktree (workspace::WorkerSpec), and compares timings only with rows of device_model.
  std::string device;
  std::string worker_kernel;
  std::string device_model;
  /// With worker_kernel: time the kernel's best version (this commit) once on this device, the run's
  /// reference, and record it as a `retimed` row (loop/multi_worker.hpp), instead of running the loop.
  std::string retime_commit;
};

/// The workspace opened for a run, with the kernels it works on (all, or those --kernels names).
struct OpenedRun {
  std::unique_ptr<workspace::Workspace> ws;
  std::vector<workspace::WorkspaceKernel> kernels;
};

/// Refuse bad input before anything is written (no kernels, a --kernel that does not load, a proposer that
/// cannot start), then open the workspace (a worker's view with worker_kernel set), add --kernel files and
/// pick the kernels. What run_loop and the multi-worker parent both start with.
Expected<OpenedRun> open_run(const RunOptions& options, const std::function<void(const std::string&)>& print);

/// The kernels in the order the loop takes them today: Amdahl's (not yet measured first, heaviest first,
/// then model share x headroom to the ceiling). Kernels already done by their rows come last.
std::vector<std::string> kernel_order(const std::vector<workspace::WorkspaceKernel>& kernels,
                                      const std::vector<workspace::ResultRow>& rows, const RunOptions& options);

/// Has a stop been requested (Ctrl-C)?
bool stop_requested();

/// Ask the running loop to stop after the current experiment (what Ctrl-C does).
void request_stop();

/// Run until the budget, the experiment limit, a stop request, or every kernel is done.
/// `print` receives the live status lines.
Expected<void> run_loop(const RunOptions& options, const std::function<void(const std::string&)>& print);

/// One screen on where a workspace stands, during a run or after it: whether a run is going on, its
/// current kernel, the time left, experiments per hour, and per kernel its state (working, done and
/// why), experiments, kept, flagged and best speed-ups.
Expected<std::string> status_text(const std::filesystem::path& workspace);

}  // namespace ak::loop
