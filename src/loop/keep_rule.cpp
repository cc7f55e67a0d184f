#include "loop/keep_rule.hpp"

#include <algorithm>

namespace ak::loop {

std::string judge(const harness::BenchReport& rep, double best_us, double best_spread, double min_gain) {
  if (!rep.passed()) return std::string(harness::outcome_name(rep.outcome));
  const auto p = rep.primary();
  const double new_us = p.value("kernel_us", 0.0);
  const double threshold = std::max(min_gain, 0.5 * (best_spread + p.value("kernel_spread", 0.0)));
  const bool faster = new_us > 0 && new_us < best_us * (1.0 - threshold);
  if (!faster) return "reverted";
  // A speed the harness could not believe is kept only once a second method has seen it too.
  if (rep.flagged() && !rep.confirmed()) return "implausible";
  return "kept";
}

}  // namespace ak::loop
