// On a GPU: the CUDA matmul starter passes all five stages with its per-call tile and split-K choice (the
// defaults, H_BN=0 and H_SPLIT_K=0) and with each split forced on both tiles, split beside the non-persistent
// kernel and beside one consumer warpgroup of two m64 tiles. Its sweep and edge shapes include few-token
// projections and ragged shapes (M, N past the tile, K past a 64-deep slice) that the plan splits. On a GPU
// other than Hopper the knobs do nothing (the mma.sync path) and the stages pass as before. Skipped where there
// is no GPU.
#include <gtest/gtest.h>

#include "backends/backend.hpp"
#include "test_support.hpp"

namespace ak {
namespace {

using Knobs = std::map<std::string, std::string>;

class GpuMatmulSplit : public ::testing::TestWithParam<Knobs> {};

TEST_P(GpuMatmulSplit, PassesAllFiveStagesOnTheGpu) {
  if (!backends::cuda_available()) GTEST_SKIP() << "no GPU here";
  ::setenv("AUTOKERNEL_BINARY", AK_BINARY, 1);
  harness::BenchRequest req;
  req.kernel_path = test::starter("matmul", "cuda.cu").string();
  req.knobs = GetParam();
  req.timing = false;
  req.case_timeout = std::chrono::seconds(300);
  auto rep = harness::run_bench(req, nullptr);
  ASSERT_TRUE(rep.has_value()) << rep.error().message;
  EXPECT_TRUE(rep->passed()) << harness::outcome_name(rep->outcome) << " at stage " << rep->failed_stage << " ("
                             << rep->failed_case << "): " << rep->message;
  int passed = 0;
  for (const auto& s : rep->stages) passed += s.status == harness::StageStatus::pass;
  EXPECT_EQ(passed, 5);
}

INSTANTIATE_TEST_SUITE_P(
    Knobs, GpuMatmulSplit,
    ::testing::Values(Knobs{}, Knobs{{"H_BN", "256"}, {"H_SPLIT_K", "2"}}, Knobs{{"H_BN", "128"}, {"H_SPLIT_K", "4"}},
                      Knobs{{"H_BN", "256"}, {"H_SPLIT_K", "4"}, {"H_PERSISTENT", "0"}},
                      Knobs{{"H_BN", "128"}, {"H_SPLIT_K", "2"}, {"H_CONSUMERS", "1"}, {"H_MI", "2"}}),
    [](const auto& info) {
      std::string name;
      for (const auto& [k, v] : info.param) name += (name.empty() ? "" : "_") + k + v;
      return name.empty() ? std::string("defaults") : name;
    });

}  // namespace
}  // namespace ak
