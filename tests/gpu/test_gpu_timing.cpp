// On a GPU: the sample timer's own stream. Skipped without one.
#include <gtest/gtest.h>

#include "backends/backend.hpp"
#include "harness/timing.hpp"

#ifdef AK_HAVE_CUDA
#include <ATen/ATen.h>
#include <ATen/cuda/Sleep.h>
#endif

namespace ak {
namespace {

// The inputs of a timed call are made on the default stream; the timer runs the call on a stream of
// its own, which does not wait for the default one. The first warm-up call must still see them whole
// (it once read half-written cross-entropy targets and the device asserted).
TEST(GpuTiming, TheFirstCallSeesInputsStillBeingMadeOnTheDefaultStream) {
  if (!backends::cuda_available()) GTEST_SKIP() << "no GPU here";
#ifdef AK_HAVE_CUDA
  const at::Device device(at::kCUDA, 0);
  harness::SampleTimer timer(device);
  auto x = at::zeros({1 << 20}, at::TensorOptions().dtype(at::kFloat).device(device));
  harness::synchronize(device);
  at::cuda::sleep(int64_t(200) * 1000 * 1000);  // ~0.1 s of device time on the default stream,
  x.fill_(1.0f);                                // then the input's values
  at::Tensor first_sum;
  harness::TimingOptions opt;
  opt.max_samples = 1;
  opt.min_samples = 1;
  timer.time([](int) {},
             [&](int i) {
               if (i == 0) first_sum = x.sum();
             },
             [](int) {}, opt);
  EXPECT_EQ(first_sum.item<float>(), float(1 << 20));
#endif
}

}  // namespace
}  // namespace ak
