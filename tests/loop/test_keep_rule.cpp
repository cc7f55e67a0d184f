// The keep rule's noise test: a gain counts only when the new time's interquartile range lies wholly
// below the best's, each spread scaled by its own time.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "loop/keep_rule.hpp"

namespace ak {
namespace {

harness::BenchReport passed_at(double kernel_us, double spread) {
  harness::BenchReport rep;
  rep.outcome = harness::Outcome::passed;
  harness::TimingResult t;
  t.kernel_us = kernel_us;
  t.kernel_spread = spread;
  rep.timings.push_back(t);
  return rep;
}

TEST(KeepRule, ASmallGainInsideTheNoiseIsReverted) {
  // 3% faster, but each time is only known to +-5%.
  EXPECT_EQ(loop::judge(passed_at(97, 0.10), 100, 0.10, 0.01), workspace::Status::reverted);
  // The same 3% with +-0.5% noise is real.
  EXPECT_EQ(loop::judge(passed_at(97, 0.01), 100, 0.01, 0.01), workspace::Status::kept);
}

TEST(KeepRule, ALargeGainIsKeptEvenWhenItsOwnTimingIsNoisy) {
  // 10x faster with a 170% relative spread (a loaded machine): 10 us +- 8.5 us is still far below 100 +- 2.5.
  EXPECT_EQ(loop::judge(passed_at(10, 1.7), 100, 0.05, 0.01), workspace::Status::kept);
  // ... but not when the best itself is known to no better than +-90%.
  EXPECT_EQ(loop::judge(passed_at(10, 1.7), 100, 1.8, 0.01), workspace::Status::reverted);
}

TEST(KeepRule, TheMinimumGainAppliesWithoutNoise) {
  EXPECT_EQ(loop::judge(passed_at(99.5, 0), 100, 0, 0.01), workspace::Status::reverted);
  EXPECT_EQ(loop::judge(passed_at(98.5, 0), 100, 0, 0.01), workspace::Status::kept);
}

}  // namespace
}  // namespace ak
