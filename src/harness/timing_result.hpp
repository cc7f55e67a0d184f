// One timed shape of a candidate: what the worker measured (harness/worker), read by the keep rule, the
// loop's rows, `autokernel bench`'s summary and the suite by field, never by a JSON key. JSON only on the
// worker -> parent wire and in `--json` output, through to_json / from_json here: the one place that names
// the keys.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ak::harness {

/// A flagged (too fast to believe) result timed again with device-wide synchronisation.
struct Remeasured {
  std::string method = "synchronized";
  double kernel_us = 0, reference_us = 0, speedup_vs_reference = 0;
  double empty_call_us = 0, host_call_us = 0;
  bool confirmed = false;
  std::string failure;  ///< a wrong output in the re-measurement ("" when none)
};

struct TimingResult {
  std::string shape;  ///< the shape's label
  std::vector<int64_t> dims;
  std::string dtype;
  double kernel_us = 0, kernel_min_us = 0, kernel_spread = 0;  ///< median, fastest, interquartile range / median
  int kernel_samples = 0;
  double reference_us = 0, reference_spread = 0;  ///< PyTorch eager, timed the same way
  int reference_samples = 0;
  double speedup_vs_reference = 0;
  double flops = 0, bytes = 0, tflops = 0, gb_s = 0, reference_gb_s = 0, reference_tflops = 0;
  double arithmetic_intensity = 0, ridge_point = 0;
  std::string bound;                     ///< "memory" | "compute", by the ridge point
  double pct_of_ceiling = 0;             ///< of the measured copy or matmul ceiling
  std::optional<double> pct_of_peak;     ///< of the datasheet's, when the GPU is known
  std::string timed_failure;             ///< a wrong output while timed ("" when none)
  std::vector<std::string> implausible;  ///< why the speed is hard to believe (empty: plausible)
  std::optional<Remeasured> remeasured;  ///< when implausible and the timed output was right

  bool memory_bound() const { return bound == "memory"; }
  /// Flagged as too fast to believe.
  bool flagged() const { return !implausible.empty(); }
  /// ... and confirmed by the re-measurement.
  bool confirmed() const { return flagged() && remeasured && remeasured->confirmed; }

  /// The keys the worker emits (without "event"); optional fields only when set.
  nlohmann::json to_json() const;
  /// A timing event or entry as the worker wrote it; an error names what is missing or mistyped.
  static Expected<TimingResult> from_json(const nlohmann::json& j);
};

}  // namespace ak::harness
