// The harness must reject each class of wrong kernel, at the stage meant for it, and say why.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace ak {
namespace {

using harness::Outcome;

void expect_rejected(const std::string& file, Outcome outcome, int stage, const std::string& message_part,
                     int case_timeout_s = 120) {
  const auto rep = test::bench(test::bad_kernel(file), false, case_timeout_s);
  EXPECT_EQ(harness::outcome_name(rep.outcome), harness::outcome_name(outcome)) << rep.message;
  EXPECT_EQ(rep.failed_stage, stage) << rep.message;
  EXPECT_NE(rep.message.find(message_part), std::string::npos) << "message was: " << rep.message;
  EXPECT_FALSE(rep.passed());
}

TEST(RejectsWrongKernels, AWrongResultFailsTheSmokeStage) {
  expect_rejected("wrong_result.cpp", Outcome::incorrect, 1, "out of tolerance");
}

TEST(RejectsWrongKernels, OneWrongElementAtATileEdgeFailsTheShapeSweepWithItsIndex) {
  expect_rejected("tile_edge.cpp", Outcome::incorrect, 2, "first at [255, 511]");
}

TEST(RejectsWrongKernels, AnUnwrittenOutputIsReportedAsNeverWritten) {
  expect_rejected("unwritten.cpp", Outcome::incorrect, 1, "never written");
}

TEST(RejectsWrongKernels, ResultsThatDependOnRunOrderFailTheDeterminismStage) {
  expect_rejected("nondeterministic.cpp", Outcome::incorrect, 4, "differs from run 1");
}

TEST(RejectsWrongKernels, ANanOnAdversarialInputFailsTheAdversarialStage) {
  expect_rejected("nan_on_adversarial.cpp", Outcome::incorrect, 3, "nan, expected");
  EXPECT_NE(test::bench(test::bad_kernel("nan_on_adversarial.cpp")).failed_case.find("zero_rows"), std::string::npos);
}

TEST(RejectsWrongKernels, AWrongAnswerOnlyAtNonPowerOfTwoSizesFailsTheEdgeStage) {
  expect_rejected("wrong_at_odd_sizes.cpp", Outcome::incorrect, 5, "out of tolerance");
}

TEST(RejectsWrongKernels, ACrashCostsOneResultAndNamesTheCase) {
  expect_rejected("crash.cpp", Outcome::crashed, 1, "signal 11");
}

TEST(RejectsWrongKernels, AWorkerThatExitsIsACrashThatQuotesItsStderr) {
  expect_rejected("exits.cpp", Outcome::crashed, 1, "exited with code 3 at stage 1");
  expect_rejected("exits.cpp", Outcome::crashed, 1, ": kernel: the weight table is missing (2 inputs)");
}

TEST(RejectsWrongKernels, AHangIsKilledAfterTheCaseTimeout) {
  // 10 s: on a loaded 2-core machine the worker may be quiet for seconds between compiling and stage 1.
  expect_rejected("hang.cpp", Outcome::timed_out, 1, "a hang", /*case_timeout_s=*/10);
}

TEST(RejectsWrongKernels, WritingToAnInputIsCaught) {
  expect_rejected("modifies_input.cpp", Outcome::incorrect, 1, "modified input 0");
}

// kernel_abi.h's layouts: attention and rotary inputs come as strided views, outputs in [B,S,H,D] memory order.
TEST(RejectsWrongKernels, AnAttentionKernelThatIgnoresStridesFailsTheSmokeStage) {
  expect_rejected("attention_ignores_strides.cpp", Outcome::incorrect, 1, "out of tolerance");
  EXPECT_NE(test::bench(test::bad_kernel("attention_ignores_strides.cpp")).failed_case.find("bshd"), std::string::npos);
}

TEST(RejectsWrongKernels, AnAttentionKernelThatWritesItsOutputContiguouslyFailsTheSmokeStage) {
  expect_rejected("attention_strided_output_ignored.cpp", Outcome::incorrect, 1, "out of tolerance");
}

TEST(RejectsWrongKernels, AnAttentionKernelThatAssumesTheModelsLayoutFailsOnContiguousInputs) {
  const auto rep = test::bench(test::bad_kernel("attention_assumes_model_layout.cpp"));
  EXPECT_EQ(rep.outcome, Outcome::incorrect) << rep.message;
  EXPECT_EQ(rep.failed_stage, 2) << rep.message;
  EXPECT_EQ(rep.failed_case, "small 1x4x128x64x0 bf16") << "the sweep's first contiguous case: " << rep.message;
}

TEST(RejectsWrongKernels, AMatmulThatReadsBAsRowMajorFailsOnTheModelsWeightLayout) {
  const auto rep = test::bench(test::bad_kernel("matmul_ignores_b_strides.cpp"));
  EXPECT_EQ(rep.outcome, Outcome::incorrect) << rep.message;
  EXPECT_EQ(rep.failed_stage, 2) << "smoke's one case has B contiguous: " << rep.message;
  EXPECT_NE(rep.failed_case.find("b_kmajor"), std::string::npos) << rep.failed_case;
}

TEST(RejectsWrongKernels, AMatmulThatLeavesOutTheBiasFailsOnABiasedShape) {
  const auto rep = test::bench(test::bad_kernel("matmul_ignores_bias.cpp"));
  EXPECT_EQ(rep.outcome, Outcome::incorrect) << rep.message;
  // The edge stage: the CPU's sweep leaves out GPT-2's biased qkv shape (too costly here); the edges have small ones.
  EXPECT_EQ(rep.failed_stage, 5) << rep.message;
  EXPECT_NE(rep.failed_case.find("bias"), std::string::npos) << rep.failed_case;
}

TEST(RejectsWrongKernels, AMatmulThatLeavesOutTheResidualFailsOnAResidualShape) {
  const auto rep = test::bench(test::bad_kernel("matmul_ignores_residual.cpp"));
  EXPECT_EQ(rep.outcome, Outcome::incorrect) << rep.message;
  EXPECT_NE(rep.failed_case.find("residual"), std::string::npos) << rep.failed_case;
}

TEST(RejectsWrongKernels, ARotaryKernelThatIgnoresStridesFailsTheSmokeStage) {
  expect_rejected("rotary_ignores_strides.cpp", Outcome::incorrect, 1, "out of tolerance");
}

TEST(RejectsWrongKernels, ACompileErrorCarriesTheCompilersMessage) {
  const auto rep = test::bench(test::bad_kernel("does_not_compile.cpp"));
  EXPECT_EQ(rep.outcome, Outcome::compile_failed);
  EXPECT_NE(rep.message.find("this_is_not_declared"), std::string::npos) << rep.message;
  EXPECT_NE(rep.message.find("does_not_compile.cpp"), std::string::npos)
      << "should name the user's file: " << rep.message;
}

TEST(RejectsWrongKernels, AnUnknownKernelTypeIsBadInputNotACandidateFailure) {
  harness::BenchRequest req;
  req.kernel_path = test::bad_kernel("unknown_type.cpp").string();
  auto rep = harness::run_bench(req, nullptr);
  ASSERT_FALSE(rep.has_value());
  EXPECT_NE(rep.error().message.find("unknown kernel type 'convolution_3d'"), std::string::npos) << rep.error().message;
  EXPECT_NE(rep.error().message.find("rmsnorm"), std::string::npos) << "should list the known types";
}

}  // namespace
}  // namespace ak
