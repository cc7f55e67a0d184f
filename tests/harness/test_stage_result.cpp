// A stage's result crosses the worker -> parent pipe as JSON and is read by field after: the round trip keeps
// every field, a failure carries its case and message, and an unknown status is an error, not a pass.
#include "harness/stage_result.hpp"

#include <gtest/gtest.h>

namespace ak {
namespace {

using harness::StageResult;
using harness::StageStatus;

TEST(StageResult, TheWireRoundTripKeepsEveryField) {
  const StageResult failed{3,   "adversarial", StageStatus::fail, 4, 1, "huge_values 64x4096 bf16", "max abs err 3.1",
                           0.25};
  auto j = failed.to_json();
  j["event"] = "stage";  // as the worker sends it
  const auto back = StageResult::from_json(j);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->to_json(), failed.to_json());
  EXPECT_TRUE(back->failed());
  EXPECT_EQ(back->stage, 3);
  EXPECT_EQ(back->failed_case, "huge_values 64x4096 bf16");

  const StageResult passed{1, "smoke", StageStatus::pass, 2, 0, "", "", 0.1};
  EXPECT_FALSE(passed.to_json().contains("message"));  // a failure's fields only on a failure
  const auto skipped = StageResult::from_json({{"stage", 5}, {"status", "skip"}});
  ASSERT_TRUE(skipped);
  EXPECT_EQ(skipped->status, StageStatus::skip);
  EXPECT_FALSE(skipped->failed());
}

TEST(StageResult, AMalformedOneIsAnErrorNotAPass) {
  EXPECT_FALSE(StageResult::from_json({{"stage", 1}, {"status", "passed"}}));  // an unknown status
  EXPECT_FALSE(StageResult::from_json({{"status", "pass"}}));                  // no stage number
  EXPECT_FALSE(StageResult::from_json({{"stage", "one"}, {"status", "pass"}}));
}

}  // namespace
}  // namespace ak
