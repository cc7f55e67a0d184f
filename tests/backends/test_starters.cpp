// Every starter kernel: the cpu ones pass all five stages for real here; the Triton ones pass them under
// Triton's interpreter; the CUDA ones compile for sm_90a (they run on the GPU machine: tests/gpu/).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "backends/cuda_arch.hpp"
#include "backends/native.hpp"
#include "catalog/kernel_type.hpp"
#include "test_support.hpp"

namespace ak {
namespace {

class Starter : public ::testing::TestWithParam<std::string> {};

std::vector<std::string> type_names() {
  std::vector<std::string> v;
  for (const auto& t : catalog::all_types()) v.emplace_back(t->name());
  return v;
}

void expect_all_five_stages_pass(const harness::BenchReport& rep) {
  EXPECT_TRUE(rep.passed()) << harness::outcome_name(rep.outcome) << " at stage " << rep.failed_stage << " ("
                            << rep.failed_case << "): " << rep.message;
  std::vector<int> passed;
  for (const auto& s : rep.stages) {
    if (s.status == harness::StageStatus::pass) passed.push_back(s.stage);
  }
  EXPECT_EQ(passed, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST_P(Starter, CpuStarterPassesAllFiveStagesAndIsTimed) {
  const auto rep = test::bench(test::starter(GetParam(), "cpu.cpp"), /*timing=*/true);
  expect_all_five_stages_pass(rep);
  ASSERT_FALSE(rep.timings.empty());
  EXPECT_GT(rep.primary()->kernel_us, 0.0);
  EXPECT_GT(rep.primary()->reference_us, 0.0);
}

TEST_P(Starter, TritonStarterPassesAllFiveStages) {
  if (backends::cuda_available()) GTEST_SKIP() << "covered by tests/gpu on a GPU";
  const auto rep = test::bench(test::starter(GetParam(), "triton.py"), /*timing=*/false, /*case_timeout_s=*/300);
  expect_all_five_stages_pass(rep);
}

TEST_P(Starter, CudaStarterCompilesForHopper) {
  auto spec = backends::nvcc_spec("90a");
  if (!spec) GTEST_SKIP() << spec.error().message;
  auto c = backends::load_candidate(test::starter(GetParam(), "cuda.cu"), "");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  auto so = backends::native::compile(*c, *spec);
  EXPECT_TRUE(so.has_value()) << (so ? "" : so.error().message);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, Starter, ::testing::ValuesIn(type_names()),
                         [](const auto& info) { return info.param; });

// kernel_abi.h's layouts: the starters of the types with strided inputs pass each stage in each layout, the
// case labels saying which (contiguous has no suffix); smoke and determinism in the first, the one timed.
class StridedStarter : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(StridedStarter, PassesEveryStageInEveryInputLayout) {
  const auto& [type, file] = GetParam();
  if (file == "triton.py" && backends::cuda_available()) GTEST_SKIP() << "covered by tests/gpu on a GPU";
  auto [rep, layouts] = test::bench_layouts(test::starter(type, file));
  expect_all_five_stages_pass(rep);
  const auto declared = (*catalog::find_type(type))->layouts();
  const std::set<std::string> all(declared.begin(), declared.end()), first = {declared.front()};
  ASSERT_GT(all.size(), 1u);
  EXPECT_EQ(layouts[1], first);
  EXPECT_EQ(layouts[2], all);
  EXPECT_EQ(layouts[3], all);
  EXPECT_EQ(layouts[4], first);
  EXPECT_EQ(layouts[5], all);
}

INSTANTIATE_TEST_SUITE_P(AttentionRotaryMatmul, StridedStarter,
                         ::testing::Combine(::testing::Values("flash_attention", "rotary_embedding", "matmul"),
                                            ::testing::Values("cpu.cpp", "triton.py")),
                         [](const auto& info) {
                           auto file = std::get<1>(info.param);
                           return std::get<0>(info.param) + "_" + file.substr(0, file.find('.'));
                         });

}  // namespace
}  // namespace ak
