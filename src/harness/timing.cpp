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

SampleTimer::SampleTimer(const at::Device& device) : m_device(device) {
  int64_t bytes = k_cpu_flush_bytes;
#ifdef AK_HAVE_CUDA
  if (device.is_cuda()) bytes = 2LL * at::cuda::getCurrentDeviceProperties()->l2CacheSize;
#endif
  m_flush = at::empty({bytes}, at::TensorOptions().dtype(at::kByte).device(device));
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

#ifdef AK_HAVE_CUDA
namespace {
/// Device-sleep cycles that outlast a host call of `host_ms`: twice it, at least ~20 us, at most ~20 ms.
int64_t host_cover_cycles(const at::Device& device, double host_ms) {
  int khz = 0;  // the peak SM clock, in cycles per ms
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, device.index()) != cudaSuccess || khz <= 0) khz = 2000000;
  const double cycles_per_ms = khz;
  return static_cast<int64_t>(std::clamp(2.0 * host_ms * cycles_per_ms, 40000.0, 20.0 * cycles_per_ms));
}
}  // namespace
#endif

TimingStats SampleTimer::time(const SampleHooks& h, const TimingOptions& options) {
  auto step = [](const std::function<void(int)>& f, int i) {
    if (f) f(i);
  };
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point t0) { return std::chrono::duration<double, std::milli>(clock::now() - t0).count(); };
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
  const int64_t sleep_cycles = m_device.is_cuda() ? host_cover_cycles(m_device, warm_host_ms) : 0;
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
