// Timing hot: which calls, how many heat calls, and that every timed call comes after its heat (on the CPU,
// where the timer runs the same steps with the host clock).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "harness/timing.hpp"

namespace ak::harness {
namespace {

TEST(HotTiming, GemmSizedCallsRunHotMemoryBoundOnesDoNot) {
  const double m = 2048, n = 4096, k = 4096;
  EXPECT_TRUE(runs_hot(2 * m * n * k, 2 * (m * k + n * k + m * n)));  // ~1000 FLOP per byte
  EXPECT_FALSE(runs_hot(4 * m * n, 2 * 2 * m * n));                   // an RMSNorm: 1 FLOP per byte
  EXPECT_FALSE(runs_hot(2 * 1 * n * k, 2 * (n * k)));                 // a decode GEMV: 1 FLOP per byte
  EXPECT_FALSE(runs_hot(1e9, 0));
}

TEST(HotTiming, HeatCallsFillTheirTimeAtLeastOnceAndAreCapped) {
  EXPECT_EQ(heat_calls(10, 0.3), 34);  // a 300 us GEMM: 34 calls fill 10 ms
  EXPECT_EQ(heat_calls(10, 50), 1);    // a call longer than the heat still runs once
  EXPECT_EQ(heat_calls(300, 0), 10000);
}

// The order of the timer's steps: 'h' heat, 'r' a call (warm-up or timed).
std::string steps(double heat_ms) {
  std::string log;
  SampleHooks h;
  h.run = [&](int) {
    log += 'r';
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  };
  h.heat = [&] {
    log += 'h';
    std::this_thread::sleep_for(std::chrono::milliseconds(55));
  };
  TimingOptions o;
  o.warmup_calls = 2;
  o.min_samples = o.max_samples = 5;
  o.heat_ms = heat_ms;
  SampleTimer(at::Device(at::kCPU)).time(h, o);
  return log;
}

TEST(HotTiming, EveryTimedCallFollowsItsHeatAfterAWarmStart) {
  // 55 ms heat calls (up to 60 ms on a busy host: the counts hold from 50 to 60): 80 ms before each sample
  // is 2 calls, the 300 ms start 6.
  const auto log = steps(80);
  const auto first = log.find('h');
  ASSERT_EQ(first, 2u) << log;  // after the warm-up
  // One call sizes the runs, then the start, then each sample's two heat calls before its timed call.
  EXPECT_EQ(log.substr(2), std::string(1 + 6, 'h') + "hhr" + "hhr" + "hhr" + "hhr" + "hhr") << log;
}

TEST(HotTiming, WithoutHeatNoHeatCallRuns) { EXPECT_EQ(steps(0), "rrrrrrr"); }

}  // namespace
}  // namespace ak::harness
