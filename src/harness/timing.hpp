// Timing one call at a time: device events on a GPU (wall clock on the CPU), the L2 flushed before every
// sample, median and spread, stopping once the median is known to within the noise target.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace ak::harness {

struct TimingOptions {
  int warmup_calls = 3;
  int min_samples = 10;
  int max_samples = 300;
  double max_seconds = 3.0;        ///< wall time for the samples of one function [s]
  double target_rel_error = 0.005; ///< stop when the median's relative standard error is below this
};

struct TimingStats {
  double median_ms = 0;
  double min_ms = 0;
  double p25_ms = 0, p75_ms = 0;
  double rel_spread = 0;           ///< (p75 - p25) / median
  int samples = 0;
};

/// Times `run(i)` for samples i = 0, 1, ...; `before(i)` (untimed) prepares sample i, `after(i)` (untimed)
/// checks it and may throw. Only `run` sits between the two events.
class SampleTimer {
 public:
  explicit SampleTimer(const at::Device& device);
  TimingStats time(const std::function<void(int)>& before, const std::function<void(int)>& run,
                   const std::function<void(int)>& after, const TimingOptions& options);

 private:
  void flush_cache();
  at::Device m_device;
  at::Tensor m_flush;  ///< twice the last-level cache, rewritten before every sample
};

/// Block until the device has finished all queued work (surfaces asynchronous faults as exceptions).
void synchronize(const at::Device& device);

}  // namespace ak::harness
