// A timed shape crosses the worker -> parent pipe as JSON and is read by field everywhere after: the round
// trip keeps every field, optional ones stay absent when unset, and a malformed one is an error, not zeros.
#include "harness/timing_result.hpp"

#include <gtest/gtest.h>

namespace ak {
namespace {

harness::TimingResult flagged_result() {
  harness::TimingResult t;
  t.shape = "model_1";
  t.dims = {2048, 4096};
  t.dtype = "bf16";
  t.kernel_us = 14.6;
  t.kernel_spread = 0.02;
  t.reference_us = 18.0;
  t.speedup_vs_reference = 18.0 / 14.6;
  t.gb_s = 2295;
  t.bound = "memory";
  t.pct_of_ceiling = 76.4;
  t.pct_of_peak = 68.5;
  t.implausible = {"50.0x faster than PyTorch (bound 10x)"};
  harness::Remeasured m;
  m.kernel_us = 15.1;
  m.confirmed = true;
  t.remeasured = m;
  return t;
}

TEST(TimingResult, TheWireRoundTripKeepsEveryField) {
  const auto t = flagged_result();
  auto j = t.to_json();
  j["event"] = "timing";  // as the worker sends it
  const auto back = harness::TimingResult::from_json(j);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->to_json(), t.to_json());
  EXPECT_EQ(back->dims, t.dims);
  EXPECT_DOUBLE_EQ(back->kernel_us, 14.6);
  ASSERT_TRUE(back->pct_of_peak);
  EXPECT_DOUBLE_EQ(*back->pct_of_peak, 68.5);
  EXPECT_TRUE(back->memory_bound());
  EXPECT_TRUE(back->flagged());
  EXPECT_TRUE(back->confirmed());
}

TEST(TimingResult, UnsetOptionalFieldsAreAbsentAndAPlainResultIsNotFlagged) {
  harness::TimingResult t;
  t.shape = "large";
  t.dtype = "f16";
  t.kernel_us = 3;
  const auto j = t.to_json();
  for (const char* key : {"pct_of_peak", "timed_failure", "implausible", "remeasured"}) EXPECT_FALSE(j.contains(key));
  const auto back = harness::TimingResult::from_json(j);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->flagged());
  EXPECT_FALSE(back->confirmed());
  EXPECT_FALSE(back->pct_of_peak);
  // Flagged but the re-measurement did not confirm it: not confirmed.
  auto f = flagged_result();
  f.remeasured->confirmed = false;
  EXPECT_TRUE(f.flagged());
  EXPECT_FALSE(f.confirmed());
}

TEST(TimingResult, AMalformedResultIsAnErrorNotZeros) {
  auto j = flagged_result().to_json();
  j.erase("kernel_us");
  const auto missing = harness::TimingResult::from_json(j);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("kernel_us"), std::string::npos) << missing.error().message;
  j = flagged_result().to_json();
  j["dims"] = "2048x4096";
  EXPECT_FALSE(harness::TimingResult::from_json(j));
}

}  // namespace
}  // namespace ak
