#include "harness/timing.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#ifdef AK_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/Sleep.h>
#include <c10/cuda/CUDAFunctions.h>
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

TimingStats summarise(const std::vector<double>& ms) {
  TimingStats s;
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

TimingStats SampleTimer::time(const std::function<void(int)>& before, const std::function<void(int)>& run,
                              const std::function<void(int)>& after, const TimingOptions& options) {
  for (int i = 0; i < options.warmup_calls; ++i) {
    before(i);
    run(i);
    synchronize(m_device);
    after(i);
  }
  std::vector<double> ms;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.max_samples; ++i) {
    before(i);
    flush_cache();
#ifdef AK_HAVE_CUDA
    if (m_device.is_cuda()) {
      at::cuda::CUDAEvent begin(cudaEventDefault), end(cudaEventDefault);
      // Keep the GPU busy for ~20 us after the flush so the host's launch cost (large for a Python
      // launcher) is not counted as kernel time.
      at::cuda::sleep(40000);
      begin.record();
      run(i);
      end.record();
      end.synchronize();
      ms.push_back(begin.elapsed_time(end));
    } else
#endif
    {
      const auto t0 = std::chrono::steady_clock::now();
      run(i);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    after(i);
    const auto stats = summarise(ms);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (static_cast<int>(ms.size()) >= options.min_samples &&
        (median_rel_error(stats) < options.target_rel_error || elapsed > options.max_seconds)) {
      break;
    }
  }
  return summarise(ms);
}

}  // namespace ak::harness
