// The child side of a bench: everything that touches the candidate runs here, in its own process, so a
// crash, a hang or a device fault costs this process and never the caller. It reports through
// `@@ak {json}` lines on stdout (other stdout lines are the candidate's own and are ignored).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "catalog/kernel_type.hpp"

namespace ak::harness {

inline constexpr std::string_view k_event_prefix = "@@ak ";

struct WorkerOptions {
  std::string kernel_path;
  std::string backend;
  std::map<std::string, std::string> knobs;
  bool quick = false;
  bool timing = true;
  std::string timing_dtype = "f16";
  int max_timing_shapes = 0;                 ///< 0: every benchmark shape
  std::vector<catalog::Shape> model_shapes;  ///< from the workspace: checked first, timed first
  /// Non-empty: time exactly these shapes, in this order (the suite), instead of the model's and the
  /// type's benchmark shapes; neither `quick`, `max_timing_shapes` nor the slow backends' budget trims them.
  std::vector<catalog::Shape> timing_shapes;
  std::vector<std::string> timing_dtypes;  ///< non-empty: time each shape in each of these, not timing_dtype
  double max_speedup = 10;                 ///< a speed-up over PyTorch above this is flagged and re-measured
};

/// Runs the whole check-then-time sequence; returns the process exit code.
int run_worker(const WorkerOptions& options);

}  // namespace ak::harness
