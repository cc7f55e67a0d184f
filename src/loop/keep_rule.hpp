// Whether an experiment is kept: the one rule the loop, `autokernel keep` and the tests share.
#pragma once

#include <string>

#include "harness/bench.hpp"
#include "workspace/status.hpp"

namespace ak::loop {

/// The status of code the harness judged and did not pass (Outcome::error is `invalid`).
workspace::Status status_of_failure(harness::Outcome o);

/// The row status of a benched experiment against the best so far (`best_us`, `best_spread`):
/// "kept" when it passed, is faster than the best beyond the noise of both measurements (its interquartile
/// range lies wholly below the best's) and by more than `min_gain`, and is plausible, or implausible but
/// confirmed by the re-measurement; "implausible" when it would be kept but its speed was not confirmed;
/// "reverted" when it passed but is not faster; else the bench's outcome ("incorrect", "crashed", ...).
workspace::Status judge(const harness::BenchReport& rep, double best_us, double best_spread, double min_gain);

}  // namespace ak::loop
