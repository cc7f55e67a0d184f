#include "harness/timing.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#ifdef AK_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/Sleep.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace ak::harness {
namespace {

constexpr int64_t k_cpu_flush_bytes = 64LL << 20;  // larger than any host's last-level cache we target

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

TimingStats summarise(const std::vector<double>& ms, const std::vector<double>& host_ms = {}) {
  TimingStats s;
  if (!host_ms.empty()) s.host_call_ms = quantile(host_ms, 0.5);
  s.samples = static_cast<int>(ms.size());
  if (ms.empty()) return s;
  s.median_ms = quantile(ms, 0.5);
  s.p25_ms = quantile(ms, 0.25);
  s.p75_ms = quantile(ms, 0.75);
  s.min_ms = *std::min_element(ms.begin(), ms.end());
  s.rel_spread = s.median_ms > 0 ? (s.p75_ms - s.p25_ms) / s.median_ms : 0;
  return s;
}

/// Standard error of the median relative to it: 1.2533 * sigma / sqrt(n), sigma estimated as IQR / 1.349.
double median_rel_error(const TimingStats& s) {
  if (s.samples < 2 || s.median_ms <= 0) return 1.0;
  const double sigma = (s.p75_ms - s.p25_ms) / 1.349;
  return 1.2533 * sigma / std::sqrt(double(s.samples)) / s.median_ms;
}

}  // namespace

#ifdef AK_HAVE_CUDA
namespace {
/// Cycles of at::cuda::sleep per microsecond, measured: it counts the SM clock as it runs, which can sit
/// well below the peak the device attribute reports (1.0-1.9 GHz seen on the H100, whose peak is 1.98).
double measure_sleep_rate() {
  constexpr int64_t cycles = 400000;
  at::cuda::CUDAEvent begin(cudaEventDefault), end(cudaEventDefault);
  at::cuda::sleep(cycles);  // the first launch loads the kernel
  begin.record();
  at::cuda::sleep(cycles);
  end.record();
  end.synchronize();
  return cycles / std::max(double(begin.elapsed_time(end)) * 1e3, 1e-3);
}
}  // namespace
#endif

SampleTimer::SampleTimer(const at::Device& device) : m_device(device) {
  int64_t bytes = k_cpu_flush_bytes;
#ifdef AK_HAVE_CUDA
  if (device.is_cuda()) bytes = 2LL * at::cuda::getCurrentDeviceProperties()->l2CacheSize;
#endif
  m_flush = at::empty({bytes}, at::TensorOptions().dtype(at::kByte).device(device));
#ifdef AK_HAVE_CUDA
  if (device.is_cuda()) m_sleep_cycles_per_us = measure_sleep_rate();
#endif
}

int64_t idle_sleep_cycles(double host_ms, double cycles_per_us) {
  return static_cast<int64_t>(std::clamp(2e3 * host_ms, k_min_idle_us, 20e3) * cycles_per_us);
}

void SampleTimer::flush_cache() { m_flush.fill_(static_cast<int64_t>(std::rand() & 0xff)); }

void synchronize(const at::Device& device) {
#ifdef AK_HAVE_CUDA
  if (device.is_cuda()) {
    c10::cuda::device_synchronize();
    return;
  }
#endif
  (void)device;
}

TimingStats SampleTimer::time(const SampleHooks& h, const TimingOptions& options) {
  auto step = [](const std::function<void(int)>& f, int i) {
    if (f) f(i);
  };
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
#ifdef AK_HAVE_CUDA
  // A stream of our own (the pool's are non-blocking): no implicit synchronisation with the legacy
  // default stream can make the end event wait for work the candidate queued elsewhere.
  std::optional<c10::cuda::CUDAStreamGuard> guard;
  if (m_device.is_cuda()) guard.emplace(c10::cuda::getStreamFromPool(false, m_device.index()));
#endif
  // The inputs were made on another stream (the default one), which ours does not wait for: without
  // this the first warm-up call could read them half written (an eager cross-entropy then saw
  // targets out of range and the device asserted).
  synchronize(m_device);
  double warm_host_ms = 0;  // the slowest host call after the first (which may compile)
  for (int i = 0; i < options.warmup_calls; ++i) {
    step(h.before, i);
    const auto t0 = clock::now();
    step(h.run, i);
    if (i > 0) warm_host_ms = std::max(warm_host_ms, ms_since(t0));
    step(h.snapshot, i);
    synchronize(m_device);
    step(h.after, i);
  }
#ifdef AK_HAVE_CUDA
  const int64_t sleep_cycles = idle_sleep_cycles(warm_host_ms, m_sleep_cycles_per_us);
#endif
  std::vector<double> ms, host_ms;
  const auto start = clock::now();
  for (int i = 0; i < options.max_samples; ++i) {
    step(h.before, i);
    flush_cache();
#ifdef AK_HAVE_CUDA
    if (m_device.is_cuda() && options.method == TimingMethod::events) {
      at::cuda::CUDAEvent begin(cudaEventDefault), end(cudaEventDefault);
      // Keep the GPU busy after the flush for longer than the host takes to launch the call (large for
      // a Python launcher), so that launch cost is not counted as kernel time.
      at::cuda::sleep(sleep_cycles);
      begin.record();
      const auto t0 = clock::now();
      step(h.run, i);
      host_ms.push_back(ms_since(t0));
      end.record();
      step(h.snapshot, i);  // queued behind the end event, before any device-wide synchronisation
      end.synchronize();
      ms.push_back(begin.elapsed_time(end));
    } else
#endif
    {
      synchronize(m_device);  // device-wide: nothing of an earlier step is still running
      const auto t0 = clock::now();
      step(h.run, i);
      host_ms.push_back(ms_since(t0));
      if (options.method == TimingMethod::synchronized) synchronize(m_device);
      ms.push_back(ms_since(t0));
      step(h.snapshot, i);
    }
    synchronize(m_device);
    step(h.after, i);
    const auto stats = summarise(ms);
    const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    if (static_cast<int>(ms.size()) >= options.min_samples &&
        (median_rel_error(stats) < options.target_rel_error || elapsed > options.max_seconds)) {
      break;
    }
  }
  return summarise(ms, host_ms);
}

}  // namespace ak::harness
