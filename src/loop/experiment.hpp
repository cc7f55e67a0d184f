// One experiment on a workspace kernel: bench it through the harness, judge it against the kernel's best
// (keep_rule), keep the commit or reset it, and record the row. The workspace part keeps the files; this is
// what the loop and `autokernel keep` do with them.
#pragma once

#include <functional>
#include <string>

#include "util/error.hpp"
#include "workspace/workspace.hpp"

namespace ak::loop {

/// How a candidate is benched inside the loop.
struct BenchSettings {
  std::string dtype;  ///< timed in; empty: the model's dtype (model.json beside the kernel), else f16
  int case_timeout_s = 60;
  double min_gain = 0.01;   ///< keep only gains above this fraction (and above the noise)
  double max_speedup = 10;  ///< a speed-up over PyTorch above this is re-measured before it can be kept
  /// Told the CUDA architecture a cuda candidate's bench builds for ("90a") when its worker names it, before it
  /// compiles: what compiling ahead builds for.
  std::function<void(const std::string&)> on_build_arch;
};

/// Bench the kernel as it is and record it as its baseline.
Expected<workspace::ResultRow> run_baseline(workspace::Workspace& ws, const workspace::WorkspaceKernel& k,
                                            const BenchSettings& s);

/// `run --gpus`: bench the kernel as it is (its best version, `commit`) again on this process's device, the
/// run's reference, and record it as a Status::retimed row carrying `commit`. No row when it does not pass.
Expected<workspace::ResultRow> run_retime(workspace::Workspace& ws, const workspace::WorkspaceKernel& k,
                                          const std::string& commit, const std::string& description,
                                          const BenchSettings& s);

/// One experiment: write `source`, commit, bench, keep it if correct and faster than the best beyond the
/// noise, else reset the commit; record the row.
Expected<workspace::ResultRow> run_experiment(workspace::Workspace& ws, const workspace::WorkspaceKernel& k,
                                              const std::string& source, const std::string& description,
                                              const std::string& config, const BenchSettings& s);

}  // namespace ak::loop
