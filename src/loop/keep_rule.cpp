#include "loop/keep_rule.hpp"

#include <algorithm>

namespace ak::loop {

workspace::Status status_of_failure(harness::Outcome o) {
  switch (o) {
    case harness::Outcome::incorrect:
      return workspace::Status::incorrect;
    case harness::Outcome::compile_failed:
      return workspace::Status::compile_failed;
    case harness::Outcome::crashed:
      return workspace::Status::crashed;
    case harness::Outcome::timed_out:
      return workspace::Status::timed_out;
    case harness::Outcome::passed:  // not a failure: callers judge a passed run by its speed
    case harness::Outcome::error:
      return workspace::Status::invalid;
  }
  return workspace::Status::invalid;
}

workspace::Status judge(const harness::BenchReport& rep, double best_us, double best_spread, double min_gain) {
  // The harness could not take the candidate at all (a malformed header line): not a verdict on its code.
  if (rep.outcome == harness::Outcome::error) return workspace::Status::invalid;
  if (!rep.passed()) return status_of_failure(rep.outcome);
  const auto* p = rep.primary();
  if (!p) return workspace::Status::reverted;  // passed but not timed: nothing says it is faster
  const double new_us = p->kernel_us;
  // Faster beyond the noise: the new time's interquartile range lies wholly below the best's. Spreads are
  // relative, so each is scaled by its own time: a 10x faster kernel's noise is a tenth as many us.
  const double new_spread = p->kernel_spread;
  const bool beyond_noise = new_us * (1.0 + 0.5 * new_spread) < best_us * (1.0 - 0.5 * best_spread);
  const bool faster = new_us > 0 && beyond_noise && new_us < best_us * (1.0 - min_gain);
  if (!faster) return workspace::Status::reverted;
  // A speed the harness could not believe is kept only once a second method has seen it too.
  if (rep.flagged() && !rep.confirmed()) return workspace::Status::implausible;
  return workspace::Status::kept;
}

}  // namespace ak::loop
