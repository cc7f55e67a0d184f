// The CUDA matmul starter's per-call tile and split-K choice (H_BN=0, H_SPLIT_K=0, the defaults) and its fixed
// settings: the starter compiles for sm_90a with every value of both knobs and beside the other Hopper knobs that
// change what the split or the plan can use (H_PERSISTENT=0, H_CONSUMERS=1 with H_MI=2, H_STAGES=2, H_CLUSTER=2,
// H_PINGPONG=1). The plan itself is a constexpr function of the file, checked at those compiles by its
// static_asserts (the shapes and picks listed beside it, at an H100's 132 SMs). They run on the GPU machine:
// tests/gpu/test_gpu_matmul_split.cpp.
#include <gtest/gtest.h>

#include "backends/cuda_arch.hpp"
#include "backends/native.hpp"
#include "test_support.hpp"

namespace ak {
namespace {

using Knobs = std::map<std::string, std::string>;

class MatmulTilePlanKnobs : public ::testing::TestWithParam<Knobs> {};

TEST_P(MatmulTilePlanKnobs, CudaStarterCompilesForHopper) {
  auto spec = backends::nvcc_spec("90a");
  if (!spec) GTEST_SKIP() << spec.error().message;
  auto c = backends::load_candidate(test::starter("matmul", "cuda.cu"), "", GetParam());
  ASSERT_TRUE(c.has_value()) << c.error().message;
  auto so = backends::native::compile(*c, *spec);
  EXPECT_TRUE(so.has_value()) << (so ? "" : so.error().message);
}

INSTANTIATE_TEST_SUITE_P(
    Knobs, MatmulTilePlanKnobs,
    ::testing::Values(Knobs{}, Knobs{{"H_BN", "0"}, {"H_SPLIT_K", "1"}}, Knobs{{"H_BN", "256"}, {"H_SPLIT_K", "1"}},
                      Knobs{{"H_BN", "128"}, {"H_SPLIT_K", "1"}}, Knobs{{"H_BN", "256"}, {"H_SPLIT_K", "2"}},
                      Knobs{{"H_BN", "256"}, {"H_SPLIT_K", "4"}}, Knobs{{"H_BN", "128"}, {"H_SPLIT_K", "2"}},
                      Knobs{{"H_BN", "128"}, {"H_SPLIT_K", "4"}}, Knobs{{"H_SPLIT_K", "2"}, {"H_PERSISTENT", "0"}},
                      Knobs{{"H_SPLIT_K", "4"}, {"H_CONSUMERS", "1"}, {"H_MI", "2"}},
                      Knobs{{"H_SPLIT_K", "2"}, {"H_STAGES", "2"}}, Knobs{{"H_SPLIT_K", "2"}, {"H_CLUSTER", "2"}},
                      Knobs{{"H_SPLIT_K", "4"}, {"H_PINGPONG", "1"}}),
    [](const auto& info) {
      std::string name;
      for (const auto& [k, v] : info.param) name += (name.empty() ? "" : "_") + k + v;
      return name.empty() ? std::string("defaults") : name;
    });

// H_BN=256 with H_MI=2 would hold 256 accumulators per thread: the knob's documented refusal still stands with the
// per-call plan in place (a compile error, not a spilling kernel).
TEST(MatmulTilePlan, TheSpillingTileIsRefusedAtCompileTime) {
  auto spec = backends::nvcc_spec("90a");
  if (!spec) GTEST_SKIP() << spec.error().message;
  auto c = backends::load_candidate(test::starter("matmul", "cuda.cu"), "", Knobs{{"H_BN", "256"}, {"H_MI", "2"}});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  auto so = backends::native::compile(*c, *spec);
  ASSERT_FALSE(so.has_value());
  EXPECT_NE(so.error().message.find("H_BN=256 with H_MI=2 spills"), std::string::npos) << so.error().message;
}

}  // namespace
}  // namespace ak
