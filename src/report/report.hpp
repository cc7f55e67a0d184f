// `autokernel report`: the morning report of a run. report.md and a self-contained report.html with, at
// the top, the end-to-end speed-up (predicted by Amdahl's law; measured once `verify` has run), then the
// roofline of every kernel and, per kernel, its progress plot, its experiments and what the kept version
// changed. Plots (PNG and SVG) go to plots/ beside them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ak::report {

struct ReportOptions {
  std::filesystem::path workspace = "workspace";
  std::filesystem::path out;      ///< default: <workspace>/report
  std::string tag;                ///< default: the tag of results.tsv's last row
  std::filesystem::path profile;  ///< default: <workspace>/profile.json (shares of model time; optional)
  std::filesystem::path verify;   ///< default: <workspace>/verify.json (measured end to end; optional)
  std::string dtype;  ///< the dtype the run timed in (results.tsv does not record it); empty: as the loop chose it per
                      ///< kernel (its model's dtype, else f16)
  bool plots = true;
};

struct ReportFiles {
  std::filesystem::path markdown, html;
  std::vector<std::filesystem::path> plots;
  std::string plots_problem;  ///< why there are no plots (matplotlib missing, ...); empty when drawn
};

/// Write the report; an error for bad input (not a workspace, an unknown tag, a malformed profile.json).
Expected<ReportFiles> write_report(const ReportOptions& options);

}  // namespace ak::report
