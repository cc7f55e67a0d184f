// The report's plots: drawn by matplotlib in a child Python process
// (python/autokernel_support/report_plots.py), from a JSON spec this side writes. Python is used only
// here because matplotlib is the well-kept plotting library; everything the plots show is computed in C++.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ak::report {

struct PlotsResult {
  bool drawn = false;
  std::vector<std::filesystem::path> files;  ///< every PNG and SVG written
  std::string problem;                       ///< when not drawn: why, said so a reader can act on it
};

/// Draw `spec` ({"plots": [...]}, see report_plots.py) with each plot's "out" stem under `dir`; the spec
/// is kept there as plots.json. The Python is util::python_executable(). A missing
/// Python or matplotlib, or a failed plot, is reported in the result, never an error: the report is
/// still worth writing without its plots.
PlotsResult draw_plots(nlohmann::json spec, const std::filesystem::path& dir);

}  // namespace ak::report
