// What a run is doing now, for `autokernel status`: written atomically by run_loop to
// <workspace>/.autokernel/run.json at its start, before and after each experiment, and at its end.
// results.tsv holds what happened; this holds what is happening (current kernel, budget, clock).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ak::workspace {

/// One worker of `run --gpus`, as its parent last saw it.
struct WorkerState {
  std::string device;    ///< "0", "cpu:1"
  std::string kernel;    ///< "" when idle or finished
  int kernels_done = 0;  ///< kernels it finished in this invocation
};

struct RunState {
  std::string tag;
  long pid = 0;
  std::string state = "running";            ///< running | finished | stopped | failed
  std::string stop_reason;                  ///< why it ended ("" while running)
  double started_at = 0;                    ///< this invocation's start [unix s]
  double updated_at = 0;                    ///< [unix s]
  double budget_s = 0;                      ///< this invocation's budget (a resumed run gets it whole); 0: none
  int max_experiments = 0;                  ///< this invocation's limit; 0: none
  int experiments = 0;                      ///< done by this invocation
  std::string current_kernel;               ///< "" between experiments
  double current_since = 0;                 ///< [unix s]
  std::map<std::string, std::string> done;  ///< kernel -> why it is finished ("" if it is not)
  std::vector<WorkerState> workers;         ///< `run --gpus` with several devices: each worker's kernel

  /// The state of a run this process starts now: running, its pid, its start, its limits.
  static RunState starting(const std::string& tag, double budget_s, int max_experiments);
  static std::filesystem::path path(const std::filesystem::path& workspace);
  Expected<void> write(const std::filesystem::path& workspace) const;
  /// nullopt when no run has written one.
  static std::optional<RunState> read(const std::filesystem::path& workspace);
};

/// Seconds since the epoch, now.
double unix_now();

/// Does a run hold the workspace's lock right now? (Its flock, not its pid: a killed run never counts.)
bool run_in_progress(const std::filesystem::path& workspace);

}  // namespace ak::workspace
