// Timing one call at a time: device events on a GPU (wall clock on the CPU), the L2 flushed before every
// sample, median and spread, stopping once the median is known to within the noise target.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace ak::harness {

/// How one sample is bracketed.
enum class TimingMethod {
  /// Device events on the timing stream around the call only; the host's launch cost is hidden behind a
  /// short device sleep. The precise method, and the one the speed-ups are quoted with.
  events,
  /// The host clock between two device-wide synchronisations: sees the work of every stream and thread,
  /// and includes the host's launch cost. The conservative method an implausible result is re-measured with.
  synchronized,
};

struct TimingOptions {
  TimingMethod method = TimingMethod::events;
  int warmup_calls = 3;
  int min_samples = 10;
  int max_samples = 300;
  double max_seconds = 3.0;         ///< wall time for the samples of one function [s]
  double target_rel_error = 0.005;  ///< stop when the median's relative standard error is below this
};

struct TimingStats {
  double median_ms = 0;
  double min_ms = 0;
  double p25_ms = 0, p75_ms = 0;
  double rel_spread = 0;    ///< (p75 - p25) / median
  double host_call_ms = 0;  ///< median host time inside run(i): the launch cost on a GPU
  int samples = 0;
};

/// The steps of one sample. Only `run` is timed. `snapshot` runs right after the end of the timed
/// region, on the timing stream, before anything synchronises the whole device: a copy of the outputs
/// taken there holds exactly what the timed region produced (work left running on another stream or
/// thread has not landed in it). Empty functions are skipped.
struct SampleHooks {
  std::function<void(int)> before;    ///< untimed: prepare sample i
  std::function<void(int)> run;       ///< timed
  std::function<void(int)> snapshot;  ///< untimed, not synchronised: copy what the timed region wrote
  std::function<void(int)> after;     ///< untimed: check sample i (the device is synchronised first)
};

/// Device idle time before every timed call on a GPU, whoever launches it [us]. A memory-bound call that
/// starts within tens of microseconds of the flush runs slower (we take it to be the flush's dirty lines
/// still being written back): on the H100, torch.compile's sum over 4096x4096 bf16 took 17.66 us after
/// 20 us of idle, 17.22 us after 60, 250 or 1000 us (bench/idle_probe.py). The Python baselines use the
/// same floor, so a C++ kernel launched in 5 us and a compiled graph launched in 80 us start alike.
inline constexpr double k_min_idle_us = 200;

/// Device-sleep cycles before a timed call whose launch takes `host_ms` on the host: twice that (a gap
/// would count as device time), never less than k_min_idle_us, at most 20 ms; at the sleep's measured
/// `cycles_per_us`.
int64_t idle_sleep_cycles(double host_ms, double cycles_per_us);

/// Times `run(i)` for samples i = 0, 1, ... On a GPU everything (preparation, the call, the checks) runs
/// on a stream of the timer's own, which does not synchronise implicitly with any other: work a candidate
/// puts on a stream of its own is not waited for by the end event, so the snapshot does not contain it.
class SampleTimer {
 public:
  explicit SampleTimer(const at::Device& device);
  TimingStats time(const SampleHooks& hooks, const TimingOptions& options);
  /// The same, without a snapshot step.
  TimingStats time(const std::function<void(int)>& before, const std::function<void(int)>& run,
                   const std::function<void(int)>& after, const TimingOptions& options) {
    return time(SampleHooks{before, run, {}, after}, options);
  }

 private:
  void flush_cache();
  at::Device m_device;
  double m_sleep_cycles_per_us = 0;  ///< the device sleep's rate, measured (its clock is not the peak one)
  at::Tensor m_flush;                ///< twice the last-level cache, rewritten before every sample
};

/// Block until the device has finished all queued work (surfaces asynchronous faults as exceptions).
void synchronize(const at::Device& device);

}  // namespace ak::harness
