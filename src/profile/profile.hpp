// Where a model's time goes, by kernel type: the analysis of one torch.profiler trace. Every piece of
// time is attributed through the operator (or the module scope) that launched it, to one of our
// kernel types with the model's own shapes and dtypes, or to the unsupported op it came from, so the
// rows of a profile add up to its measured total. This is what profile.json holds.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "profile/trace.hpp"
#include "util/error.hpp"
#include "workspace/profile_json.hpp"

namespace ak::profile {

// The profile's rows are the workspace's profile.json format: this part makes them from a trace.
using workspace::KernelUse;
using workspace::ModelProfile;
using workspace::ShapeUse;

/// Rows that are not an op: GPU work launched outside any op, and GPU work the trace does not link.
inline constexpr std::string_view k_no_op_row = "(outside any aten op)";
inline constexpr std::string_view k_unlinked_row = "(launch not in the trace)";

/// Attribute every piece of the trace's time and rank the result. `meta` is kept as is.
Expected<ModelProfile> analyze(const Trace& trace, const nlohmann::json& meta);

/// The ranked table `autokernel profile` prints, with the Amdahl estimate per row.
std::string ranking_table(const ModelProfile& profile, int max_rows = 25);

}  // namespace ak::profile
