// Going on with a stopped suite run from its --json document: the baselines (when the child finished them)
// and the kernels that finished (whose files have not changed since) are taken from it, the rest run. A document
// written for another plan (other types, shapes, dtypes, backends, knobs, stages or kernels folder) is refused, never
// mixed in.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "suite/ours.hpp"
#include "suite/plan.hpp"

namespace ak::suite {

struct Resumed {
  nlohmann::json baselines;     ///< the child's result; null when it must run again (none, or it died part way)
  std::vector<KernelRun> ours;  ///< the planned kernels the document has a result for, their files unchanged
};

/// What a document from `autokernel suite --json` lets a run of `plan` keep. An Error when it is not such a
/// document or was written for a different plan (the message names the first setting that differs).
Expected<Resumed> resume_from(const Plan& plan, const nlohmann::json& doc);

}  // namespace ak::suite
