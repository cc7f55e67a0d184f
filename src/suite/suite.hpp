// `autokernel suite`: our kernels, PyTorch eager, torch.compile, the vendor libraries and the copy ceiling,
// measured in one run at the same shapes and dtypes. The baselines run first (a child Python process), then
// each of our kernels in its harness worker, one process at a time so nothing shares the device.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "suite/plan.hpp"
#include "suite/resume.hpp"

namespace ak::suite {

/// Run a checked plan; `print` gets progress lines. The result is the merged document (suite/merge.hpp).
/// `partial` (when set) gets the document so far after the baselines and after each of our kernels but
/// the last, its not-yet-run kernels listed under "pending": what an interrupted run keeps.
/// `resumed` (when set): the baselines and kernels an earlier, stopped run of this plan finished, which are
/// not run again (suite/resume.hpp). An Error means the baselines could not run at all (no Python, no torch).
Expected<nlohmann::json> run_suite(const Plan& plan, const std::function<void(const std::string&)>& print,
                                   const std::function<void(const nlohmann::json&)>& partial = {},
                                   const Resumed* resumed = nullptr);

}  // namespace ak::suite
