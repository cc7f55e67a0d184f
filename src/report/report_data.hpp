// What the report says about each kernel of a run, gathered from results.tsv, the workspace's git
// history, the kernel files and the catalogue. No formatting here: report.cpp turns it into a document.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "workspace/results_log.hpp"
#include "report/roofline.hpp"
#include "util/error.hpp"

namespace ak::report {

struct KernelSummary {
  std::string name;  ///< the workspace kernel, e.g. rmsnorm_cuda
  std::string type;  ///< the catalogue type, e.g. rmsnorm
  std::string backend;
  std::string unit;                              ///< "GB/s" | "TFLOP/s" (from its timed rows)
  std::vector<workspace::ResultRow> rows;        ///< this run's, oldest first
  std::optional<workspace::ResultRow> baseline;  ///< the starter's correct measurement
  std::optional<workspace::ResultRow> best;      ///< the baseline or the last kept experiment
  std::optional<workspace::ResultRow> retimed;   ///< `run --gpus`: the best version timed on the reference device
  std::map<std::string, int> count_by_status;
  int experiments = 0;                     ///< its rows but re-timings (workspace::counts_as_experiment)
  int kept = 0, reverted = 0, failed = 0;  ///< failed: incorrect, crashed, timed out, did not build, no candidate

  double reference_throughput = 0;  ///< PyTorch eager, in `unit`: median over rows of throughput / speed-up
  double ceiling_throughput = 0;    ///< the measured ceiling, in `unit`: median over rows of throughput / (pct / 100)
  Placement placement;              ///< of the best row

  std::string diff;          ///< `git diff <baseline> <best> -- kernels/<name>/`; empty when nothing was kept
  std::string diff_command;  ///< that command, for the reader to run
  std::string diff_problem;  ///< why there is no diff although something was kept

  bool device_is_cpu() const { return backend == "cpu"; }
  /// Speed-up of the best version over PyTorch eager: the reference device's (retimed) where it was re-timed.
  double speedup_vs_reference() const {
    return retimed ? retimed->speedup_vs_reference : best ? best->speedup_vs_reference : 0.0;
  }
  /// Speed-up of the best version over the starter (latency ratio); 0 without both.
  double speedup_vs_start() const;
  /// Achieved GFLOP/s of a row on the roofline (needs the placement); 0 if unknown.
  double gflops(const workspace::ResultRow& row) const;
};

struct RunData {
  std::filesystem::path workspace;
  std::string tag;
  std::vector<std::string> other_tags;  ///< tags of results.tsv this report does not cover
  std::vector<KernelSummary> kernels;   ///< by name
  int experiments = 0;                  ///< the run's rows but re-timings, which are no experiments
  double seconds = 0;                   ///< summed over the run's experiments
};

/// Read the run `tag` of the workspace (the last row's tag when empty). `dtype` is the dtype the run timed
/// in (see place()); empty: each kernel's, as the loop chose it (workspace::timing_dtype_of). An error when `workspace`
/// is not a workspace or the tag has no rows.
Expected<RunData> collect(const std::filesystem::path& workspace, const std::string& tag, const std::string& dtype);

}  // namespace ak::report
