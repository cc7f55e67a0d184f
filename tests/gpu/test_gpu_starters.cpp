// On a GPU: every CUDA and Triton starter passes all five stages. Skipped where there is no GPU.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ak
