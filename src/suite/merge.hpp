// A suite run's results as one JSON document: per (type, configuration, dtype) one row with every backend of
// ours, the best of them, the baselines, % of the ceiling and the speed-ups; per type and overall a summary.
// `--json` writes it and the table is printed from it.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "suite/ours.hpp"

namespace ak::suite {

/// What the plan measures (types, configurations, dtypes, backends, knob overrides, stages, torch.compile,
/// the kernels folder, GPU or not): the document's "settings", and what --resume checks a document against.
nlohmann::json plan_settings(const Plan& plan);

/// "TFLOP/s" for the types whose work is arithmetic (matmul, flash_attention, fused_mlp), "GB/s" otherwise.
std::string metric_for(const std::string& type);

/// Rows, summaries, settings, the ceiling, the device, torch's version and the date; the baselines child's
/// result and each kernel's harness report as they came (what --resume rebuilds a run from). Planned kernels that
/// `ours` lacks (a run still going, or stopped) are "pending": listed in "pending", their rows' entries
/// say so.
nlohmann::json merge(const Plan& plan, const std::vector<KernelRun>& ours, const nlohmann::json& baselines);

}  // namespace ak::suite
