// The parent side of a bench: start a worker process for one candidate, follow its events, survive its
// crash or hang, and sum it all up in one BenchReport.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catalog/kernel_type.hpp"
#include "harness/stage_result.hpp"
#include "harness/timing_result.hpp"

namespace ak::harness {

/// Every bench ends in exactly one of these.
enum class Outcome { passed, incorrect, compile_failed, crashed, timed_out, error };
std::string_view outcome_name(Outcome o);

struct BenchRequest {
  std::string kernel_path;
  std::string backend;                       ///< empty: from the file's extension
  std::map<std::string, std::string> knobs;  ///< NAME=value overrides
  bool quick = false;
  bool timing = true;
  std::string timing_dtype = "f16";
  int max_timing_shapes = 0;  ///< 0: every benchmark shape
  std::vector<catalog::Shape> model_shapes;
  std::vector<catalog::Shape> timing_shapes;  ///< non-empty: time exactly these (see WorkerOptions)
  std::vector<std::string> timing_dtypes;     ///< non-empty: time in each of these instead of timing_dtype
  double max_speedup = 10;                    ///< a speed-up over PyTorch above this is flagged and re-measured
  std::chrono::seconds case_timeout{60};      ///< a case with no progress for this long is a hang
  std::chrono::seconds compile_timeout{300};
};

struct BenchReport {
  std::string kernel, type, backend;
  Outcome outcome = Outcome::error;
  int failed_stage = 0;  ///< 1..5; 6 means a timed run was wrong
  std::string failed_case;
  std::string message, hint;
  nlohmann::json device, ceiling;
  std::vector<StageResult> stages;    ///< in the order they ran; the last failed when one did
  std::vector<TimingResult> timings;  ///< one per timed shape, the primary first
  double compile_s = 0, total_s = 0;
  std::string candidate_stderr;  ///< the tail of what the worker wrote to stderr

  bool passed() const { return outcome == Outcome::passed; }
  /// The first timing: the primary result (null when there is none).
  const TimingResult* primary() const { return timings.empty() ? nullptr : &timings.front(); }
  /// The primary result was implausible (too fast to believe) and was re-measured.
  bool flagged() const { return primary() && primary()->flagged(); }
  /// ... and the re-measurement, which sees every stream and thread, confirmed it.
  bool confirmed() const { return primary() && primary()->confirmed(); }
  /// One line on a flagged result ("" when not flagged).
  std::string plausibility_note() const;
  nlohmann::json to_json() const;
};

/// Run one candidate through the harness in a child process. `progress` sees every worker event.
/// An error means bad input (no such file, unknown type or backend, unknown knob); everything the
/// candidate does, compile failures and crashes included, is in the report.
Expected<BenchReport> run_bench(const BenchRequest& request,
                                const std::function<void(const nlohmann::json&)>& progress);

}  // namespace ak::harness
