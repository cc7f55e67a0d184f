// The harness's defences against a candidate that games the check or the timer rather than being fast
// (each one a trick that fooled a public agent benchmark; see reference/peers.md, "Harness-integrity
// checklist"). The rest of them live where they act: fresh inputs and snapshots in worker.cpp, the
// oracle computed after the candidate ran in stages.cpp and worker.cpp, poisoned outputs in compare.cpp.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ak::harness {

/// What a tensor is bound to: its storage address, sizes and strides. A candidate writes its outputs in
/// place; rebinding one (a Triton candidate's `out.set_(cached)`) would make the harness check memory the
/// candidate chose, such as a remembered result or an input.
struct Binding {
  const void* data = nullptr;
  std::vector<int64_t> sizes, strides;
  bool operator==(const Binding&) const = default;
};
std::vector<Binding> bindings(const std::vector<at::Tensor>& tensors);

/// "" if every tensor is still bound as in `before`, else one line naming the first that is not.
/// `what` is "input" or "output".
std::string rebinding_error(const std::vector<Binding>& before, const std::vector<at::Tensor>& now,
                            std::string_view what);

/// When a timed result is too good to be believed without a second look.
struct PlausibilityBound {
  double max_speedup = 10;       ///< over PyTorch eager; KernelBench flags > 10x as a likely exploit
  double max_pct_of_peak = 100;  ///< of the datasheet roofline: no honest kernel is above it
};

/// Why a measurement is implausible (empty: it is plausible). `pct_of_peak` is absent without a datasheet.
std::vector<std::string> implausible_reasons(double speedup, std::optional<double> pct_of_peak,
                                             const PlausibilityBound& bound);

/// A flagged result is re-measured with the conservative method (TimingMethod::synchronized), which sees
/// every stream and thread. It is confirmed when the conservative time, less the method's own cost (an
/// empty call measured the same way), is within what the precise measurement allows: twice its device
/// time plus the host's launch cost (which only the conservative method counts) plus 5 us of jitter.
/// Work done where the events cannot see it (another stream, a thread) shows up as a larger gap.
struct Remeasurement {
  double event_ms = 0;         ///< the precise median that was flagged
  double host_call_ms = 0;     ///< median host time inside the call during the precise measurement
  double synchronized_ms = 0;  ///< the conservative median
  double empty_ms = 0;         ///< the conservative method's median for an empty call
};
bool remeasurement_confirms(const Remeasurement& r);

}  // namespace ak::harness
