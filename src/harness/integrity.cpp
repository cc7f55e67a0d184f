#include "harness/integrity.hpp"

#include <fmt/format.h>

namespace ak::harness {
namespace {

constexpr double k_jitter_ms = 0.005;  // 5 us: host clock and synchronisation jitter on a quiet machine

}  // namespace

std::vector<Binding> bindings(const std::vector<at::Tensor>& tensors) {
  std::vector<Binding> out;
  for (const auto& t : tensors) out.push_back({t.data_ptr(), t.sizes().vec(), t.strides().vec()});
  return out;
}

std::string rebinding_error(const std::vector<Binding>& before, const std::vector<at::Tensor>& now,
                            std::string_view what) {
  const auto after = bindings(now);
  for (std::size_t i = 0; i < before.size() && i < after.size(); ++i) {
    if (before[i] != after[i]) {
      return fmt::format(
          "the candidate rebound {} {} to other memory or another shape ({}s must be written in "
          "place, e.g. out.copy_(...), never out.set_(...))",
          what, i, what);
    }
  }
  return "";
}

std::vector<std::string> implausible_reasons(double speedup, std::optional<double> pct_of_peak,
                                             const PlausibilityBound& bound) {
  std::vector<std::string> reasons;
  if (bound.max_speedup > 0 && speedup > bound.max_speedup) {
    reasons.push_back(fmt::format("{:.1f}x faster than PyTorch (bound {:g}x)", speedup, bound.max_speedup));
  }
  if (pct_of_peak && bound.max_pct_of_peak > 0 && *pct_of_peak > bound.max_pct_of_peak) {
    reasons.push_back(fmt::format("{:.0f}% of the datasheet roofline", *pct_of_peak));
  }
  return reasons;
}

bool remeasurement_confirms(const Remeasurement& r) {
  const double net = r.synchronized_ms - r.empty_ms;
  return net <= 2.0 * r.event_ms + r.host_call_ms + k_jitter_ms;
}

}  // namespace ak::harness
