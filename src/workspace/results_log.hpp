// results.tsv: one row per experiment, kept or not. Appended with one write() per row, so a crash or a
// kill never leaves half a row; read back to resume a run. Several processes (the workers of
// `run --gpus`) may append to one file: each append, and each experiment number they take, holds an
// flock on the file, so rows never interleave and numbers never repeat.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "workspace/status.hpp"
#include "util/error.hpp"

namespace ak::workspace {

struct ResultRow {
  int experiment = 0;  ///< numbered across the run, from 0 (the first baseline)
  std::string tag;     ///< the run's tag: the branch is autokernel/<tag>
  std::string kernel;  ///< the workspace kernel's name, e.g. rmsnorm_cuda
  std::string backend;
  Status status = Status::baseline;
  std::string correctness;      ///< PASS | FAIL
  double throughput = 0;        ///< GB/s when memory-bound, TFLOP/s when compute-bound
  std::string throughput_unit;  ///< "GB/s" | "TFLOP/s"
  double latency_us = 0;        ///< median, at the first benchmark shape
  double spread = 0;            ///< interquartile range / median of the latency samples
  double pct_of_ceiling = 0;
  double speedup_vs_reference = 0;
  std::string config;  ///< knob values, "A=1,B=2"
  std::string description;
  std::string commit;  ///< the candidate's commit
  double seconds = 0;  ///< wall time of the experiment (build + check + benchmark)
  std::string device;  ///< the --gpus device that ran it ("0", "cpu:1"); "" when run without --gpus
  std::string gpu;     ///< the device's model ("NVIDIA H100 80GB HBM3", "cpu"): timings compare within one model
};

/// The row's code is the kernel's version from then on: a passing baseline, or a kept experiment (each
/// kept one beat the one before). The one rule for "the best", wherever rows are read.
bool advances(const ResultRow& r);

/// A kernel's best row: its last row that advances(), among the rows of `tag` (any tag when empty); null
/// when it has none.
const ResultRow* best_row(const std::vector<ResultRow>& rows, const std::string& kernel, const std::string& tag = "");

/// The row of `best`'s version timed again on a reference device (Status::retimed, same kernel, tag and
/// commit; on `device` when not empty), the last such; null when it has none. Its speed-up is the one to report.
const ResultRow* retimed_row(const std::vector<ResultRow>& rows, const ResultRow& best, const std::string& device = "");

class ResultsLog {
 public:
  explicit ResultsLog(std::filesystem::path path) : m_path(std::move(path)) {}
  /// Read every row (an absent file is an empty log). A torn last line is ignored.
  Expected<std::vector<ResultRow>> read() const;
  /// Append one row atomically, writing the header first if the file is new. Returns the row as stored:
  /// its free text in valid UTF-8 without tabs or newlines (what a proposer returned may be any bytes).
  Expected<ResultRow> append(const ResultRow& row) const;
  /// Take the next experiment number for a writer that shares the file: above every row's and every number
  /// taken before (kept in `counter`, so two workers' experiments in flight get different numbers). A number
  /// whose experiment is killed before its row is written is never used: the numbers may have gaps.
  Expected<int> take_number(const std::filesystem::path& counter) const;
  const std::filesystem::path& path() const { return m_path; }

  static const std::vector<std::string>& columns();

 private:
  std::filesystem::path m_path;
};

}  // namespace ak::workspace
