// One stage of the five (harness/stages): what the worker checked, read by the parent by field. JSON only on
// the worker -> parent wire and in `--json` output, through to_json / from_json here: the one place that names
// the keys (as timing_result.hpp does for a timed shape).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ak::harness {

enum class StageStatus { pass, fail, skip };

std::string_view stage_status_name(StageStatus s);

struct StageResult {
  int stage = 0;     ///< 1..5
  std::string name;  ///< e.g. "smoke", "shape_sweep"
  StageStatus status = StageStatus::pass;
  int cases = 0, skipped = 0;        ///< cases run; cases skipped as too large for the backend's budget
  std::string failed_case, message;  ///< when status is fail
  double seconds = 0;

  bool failed() const { return status == StageStatus::fail; }

  /// The keys the worker emits (without "event"); failed_case and message only on a failure.
  nlohmann::json to_json() const;
  /// A stage event or entry as the worker wrote it; an error names what is missing or mistyped.
  static Expected<StageResult> from_json(const nlohmann::json& j);
};

}  // namespace ak::harness
