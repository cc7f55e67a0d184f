// decode_attention's ONE_LAUNCH knob (the split programs count their arrivals per (batch, kv head), the last one
// merges): the Triton starter with it passes all five stages under Triton's interpreter (the device-length form
// included: the adversarial cases), the determinism stage's repeated calls showing that the counters it keeps
// between calls are back at zero after each; the CUDA starter compiles for sm_90a with each value.
#include <gtest/gtest.h>

#include "backends/cuda_arch.hpp"
#include "backends/native.hpp"
#include "test_support.hpp"

namespace ak {
namespace {

TEST(DecodeAttentionOneLaunch, TritonStarterPassesAllFiveStagesWithOneLaunch) {
  if (backends::cuda_available()) GTEST_SKIP() << "covered by tests/gpu on a GPU";
  ::setenv("AUTOKERNEL_BINARY", AK_BINARY, 1);
  harness::BenchRequest req;
  req.kernel_path = test::starter("decode_attention", "triton.py").string();
  req.knobs = {{"ONE_LAUNCH", "1"}};
  req.timing = false;
  req.case_timeout = std::chrono::seconds(300);
  auto rep = harness::run_bench(req, nullptr);
  ASSERT_TRUE(rep.has_value()) << rep.error().message;
  EXPECT_TRUE(rep->passed()) << harness::outcome_name(rep->outcome) << " at stage " << rep->failed_stage << " ("
                             << rep->failed_case << "): " << rep->message;
  std::vector<int> passed;
  for (const auto& s : rep->stages) {
    if (s.status == harness::StageStatus::pass) passed.push_back(s.stage);
  }
  EXPECT_EQ(passed, (std::vector<int>{1, 2, 3, 4, 5}));
}

class DecodeAttentionCudaKnobs : public ::testing::TestWithParam<std::map<std::string, std::string>> {};

TEST_P(DecodeAttentionCudaKnobs, CudaStarterCompilesForHopper) {
  auto spec = backends::nvcc_spec("90a");
  if (!spec) GTEST_SKIP() << spec.error().message;
  auto c = backends::load_candidate(test::starter("decode_attention", "cuda.cu"), "", GetParam());
  ASSERT_TRUE(c.has_value()) << c.error().message;
  auto so = backends::native::compile(*c, *spec);
  EXPECT_TRUE(so.has_value()) << (so ? "" : so.error().message);
}

INSTANTIATE_TEST_SUITE_P(
    Knobs, DecodeAttentionCudaKnobs,
    ::testing::Values(std::map<std::string, std::string>{{"ONE_LAUNCH", "0"}},
                      std::map<std::string, std::string>{{"ONE_LAUNCH", "1"}},
                      std::map<std::string, std::string>{
                          {"ONE_LAUNCH", "1"}, {"BLOCKS_PER_SM", "4"}, {"CHUNKS", "4"}, {"NWARPS", "8"}}),
    [](const auto& info) {
      std::string name;
      for (const auto& [k, v] : info.param) name += (name.empty() ? "" : "_") + k + v;
      return name;
    });

}  // namespace
}  // namespace ak
