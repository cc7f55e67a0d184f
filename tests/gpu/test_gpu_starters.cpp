// On a GPU: every CUDA and Triton starter passes all five stages. Skipped where there is no GPU.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "backends/backend.hpp"
#include "catalog/kernel_type.hpp"
#include "test_support.hpp"

namespace ak {
namespace {

class GpuStarter : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(GpuStarter, PassesAllFiveStagesOnTheGpu) {
  if (!backends::cuda_available()) GTEST_SKIP() << "no GPU here";
  const auto& [type, file] = GetParam();
  const auto rep = test::bench(test::starter(type, file), /*timing=*/false, /*case_timeout_s=*/300);
  EXPECT_TRUE(rep.passed()) << harness::outcome_name(rep.outcome) << " at stage " << rep.failed_stage << " ("
                            << rep.failed_case << "): " << rep.message;
  int passed = 0;
  for (const auto& s : rep.stages) passed += s.status == harness::StageStatus::pass;
  EXPECT_EQ(passed, 5);
}

std::vector<std::tuple<std::string, std::string>> params() {
  std::vector<std::tuple<std::string, std::string>> v;
  for (const auto& t : catalog::all_types()) {
    v.emplace_back(std::string(t->name()), "cuda.cu");
    v.emplace_back(std::string(t->name()), "triton.py");
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GpuStarter, ::testing::ValuesIn(params()), [](const auto& info) {
  return std::get<0>(info.param) + "_" + (std::get<1>(info.param) == "cuda.cu" ? "cuda" : "triton");
});

// kernel_abi.h's layouts on the device: the CUDA attention starter's paths (Hopper TMA maps with the tensors'
// strides and every schedule knob; mma.sync at D 32 and where TMA refuses; SIMT) and the rotary starter's
// (16-byte chunks, pairs) pass every stage in every input layout, the outputs in [B,S,H,D] memory order; the CUDA
// matmul's (Hopper TMA + wgmma with B K-major or not, under every schedule knob; SIMT at odd K) take B both ways.
struct Knobbed {
  std::string type;
  std::map<std::string, std::string> knobs;
  std::string name;
};

class GpuStridedLayouts : public ::testing::TestWithParam<Knobbed> {};

TEST_P(GpuStridedLayouts, PassEveryStageInEveryInputLayout) {
  if (!backends::cuda_available()) GTEST_SKIP() << "no GPU here";
  auto [rep, layouts] = test::bench_layouts(test::starter(GetParam().type, "cuda.cu"), GetParam().knobs);
  EXPECT_TRUE(rep.passed()) << harness::outcome_name(rep.outcome) << " at stage " << rep.failed_stage << " ("
                            << rep.failed_case << "): " << rep.message;
  const auto declared = (*catalog::find_type(GetParam().type))->layouts();
  const std::set<std::string> all(declared.begin(), declared.end());
  for (int stage : {2, 3, 5}) EXPECT_EQ(layouts[stage], all) << "stage " << stage;
}

INSTANTIATE_TEST_SUITE_P(
    AttentionRotaryMatmul, GpuStridedLayouts,
    ::testing::Values(
        Knobbed{"flash_attention", {}, "attention_default"},
        Knobbed{"flash_attention", {{"H_PINGPONG", "0"}}, "attention_persistent_only"},
        Knobbed{"flash_attention", {{"H_PERSISTENT", "0"}}, "attention_pingpong_only"},
        Knobbed{"flash_attention", {{"H_PINGPONG", "0"}, {"H_PERSISTENT", "0"}}, "attention_neither"},
        Knobbed{
            "flash_attention", {{"H_BLOCK_N", "64"}, {"H_STAGES", "3"}, {"H_PERSISTENT", "0"}}, "attention_bn64_s3"},
        Knobbed{"flash_attention", {{"BLOCK_M", "64"}, {"STAGES", "1"}}, "attention_sm80_knobs"},
        Knobbed{"rotary_embedding", {}, "rotary_default"},
        Knobbed{"rotary_embedding", {{"CHUNKS_PER_THREAD", "4"}, {"PAIRS_PER_THREAD", "1"}}, "rotary_chunks4"},
        Knobbed{"matmul", {}, "matmul_default"},
        Knobbed{"matmul", {{"H_SPLIT_K", "1"}, {"H_BN", "256"}}, "matmul_256_unsplit"},
        Knobbed{"matmul", {{"H_CLUSTER", "2"}, {"H_SPLIT_K", "1"}}, "matmul_cluster2"},
        Knobbed{"matmul", {{"H_PINGPONG", "1"}, {"H_SPLIT_K", "1"}}, "matmul_pingpong"},
        Knobbed{"matmul", {{"H_PERSISTENT", "0"}, {"H_SPLIT_K", "2"}, {"H_BN", "128"}}, "matmul_split2"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace ak
