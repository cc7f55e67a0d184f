// What became of one experiment: a results.tsv row's status. The one list of statuses, and the one place
// that says what each one counts as (the README's "statuses" say the same in words).
#pragma once

#include <optional>
#include <ostream>
#include <string_view>

namespace ak::workspace {

enum class Status {
  baseline,         ///< the kernel as it was when the run took it up (correctness says whether it passed)
  kept,             ///< passed and beat the best beyond the noise: the kernel's new version
  reverted,         ///< passed, not faster
  implausible,      ///< would be kept, but its speed was not confirmed by a second method
  incorrect,        ///< the harness's verdicts on the code: wrong output, ...
  crashed,          ///< ... the worker died, ...
  timed_out,        ///< ... it took too long, ...
  compile_failed,   ///< ... or it did not build
  invalid,          ///< the harness could not take the candidate (a malformed header line)
  proposer_failed,  ///< the proposer produced no candidate: no commit, and nothing said about the kernel
  hand_reverted,    ///< `autokernel revert`: an edit made by hand, dropped
  retimed,          ///< `run --gpus`: a kernel's best version timed again on the reference device; not an experiment
};

std::string_view status_name(Status s);
std::optional<Status> parse_status(std::string_view name);
inline std::ostream& operator<<(std::ostream& os, Status s) { return os << status_name(s); }
inline std::string_view format_as(Status s) { return status_name(s); }  // fmt prints it by name

/// An experiment on the kernel: every status but retimed, which times a version already judged again (its
/// row neither advances the kernel nor counts toward --max-reverts, and is not the kernel's best).
bool counts_as_experiment(Status s);

/// A judged failure of the code itself; two of them give a starter up.
bool is_code_failure(Status s);

/// Counts toward --max-reverts: an experiment that tried something and did not move the kernel on. A
/// proposer that produced nothing says nothing about the kernel.
bool counts_as_revert(Status s);

}  // namespace ak::workspace
