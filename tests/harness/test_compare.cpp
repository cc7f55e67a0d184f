// compare(): the verdict and the evidence (where, by how much) for one output against the oracle.
#include <gtest/gtest.h>

#include <limits>

#include "harness/compare.hpp"
#include "harness/stages.hpp"

namespace ak::harness {
namespace {

const catalog::Tolerance k_tol{1e-3, 1e-3};

TEST(Compare, AcceptsAnOutputEqualToTheOracle) {
  auto ref = at::randn({4, 5}, at::kDouble);
  auto c = compare(ref.to(at::kFloat), ref, k_tol);
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.bad_count, 0);
}

TEST(Compare, ReportsTheIndexAndValuesOfTheFirstBadElement) {
  auto ref = at::ones({4, 5}, at::kDouble);
  auto out = ref.to(at::kFloat).clone();
  out[2][3] = 1.5f;
  auto c = compare(out, ref, k_tol);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.first_bad, "[2, 3]");
  EXPECT_DOUBLE_EQ(c.got, 1.5);
  EXPECT_DOUBLE_EQ(c.expected, 1.0);
  EXPECT_NEAR(c.max_abs_err, 0.5, 1e-12);
  EXPECT_NEAR(c.max_rel_err, 0.5, 1e-12);
}

TEST(Compare, CountsPoisonThatSurvivedAsUnwritten) {
  auto ref = at::ones({3, 3}, at::kDouble);
  auto out = ref.to(at::kHalf).clone();
  poison(out);
  out[0][0] = 1.0;
  auto c = compare(out, ref, k_tol);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.unwritten, 8);
  EXPECT_NE(c.message.find("never written"), std::string::npos);
}

TEST(Compare, AToleranceRelativeToTheOutputsScaleAcceptsSmallAbsoluteErrorsNearZero) {
  // A value near zero in an output of magnitude ~1000: its absolute error counts against atol * rms.
  auto ref = at::full({100}, 1000.0, at::kDouble);
  ref[0] = 1e-3;
  auto out = ref.clone();
  out[0] = 0.5;  // |err| 0.5 <= 1e-3 * 1000
  EXPECT_TRUE(compare(out, ref, k_tol).ok);
  out[0] = 2.0;  // |err| 2 > 1.0
  EXPECT_FALSE(compare(out, ref, k_tol).ok);
}

TEST(Compare, InfinitiesMustMatchTheOracleExactly) {
  const double inf = std::numeric_limits<double>::infinity();
  auto ref = at::tensor({1.0, inf, -inf}, at::kDouble);
  EXPECT_TRUE(compare(ref.clone(), ref, k_tol).ok);
  auto out = ref.clone();
  out[2] = inf;
  EXPECT_FALSE(compare(out, ref, k_tol).ok);
}

// Outputs in [B,S,H,D] memory order (kernel_abi.h's attention and rotary outputs): judged by index, not memory.
TEST(Compare, JudgesAStridedOutputByIndexNotByMemory) {
  const auto ref = at::randn({2, 3, 5, 8}, at::kDouble);
  catalog::Problem p{{}, {}, {{2, 3, 5, 8}}, {at::kHalf}};
  p.output_strides = {{5 * 3 * 8, 8, 3 * 8, 1}};
  auto out = allocate_outputs(p, at::kCPU)[0];
  ASSERT_EQ(out.strides(), at::IntArrayRef({120, 8, 24, 1}));
  poison(out);
  out.copy_(ref);
  EXPECT_TRUE(compare(out, ref, k_tol).ok);
  // The same values in contiguous order in that memory are wrong.
  auto as_if_contiguous = at::empty_strided({2, 3, 5, 8}, {120, 8, 24, 1}, at::kHalf);
  as_if_contiguous.as_strided({2, 3, 5, 8}, {120, 40, 8, 1}).copy_(ref);
  EXPECT_FALSE(compare(as_if_contiguous, ref, k_tol).ok);
  // An element left poisoned is named by its index ([1, 2, 3, 4]: memory offset 212, flat index 228).
  poison(out);
  out.copy_(ref);
  poison(out[1][2][3][4]);
  const auto c = compare(out, ref, k_tol);
  EXPECT_EQ(c.unwritten, 1);
  EXPECT_NE(c.message.find("first at [1, 2, 3, 4]"), std::string::npos) << c.message;
}

TEST(Compare, AShapeMismatchFails) {
  auto c = compare(at::zeros({2, 3}), at::zeros({3, 2}, at::kDouble), k_tol);
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.message.find("shape"), std::string::npos);
}

TEST(Compare, BitwiseEqualityTellsApartValuesOneUlpApart) {
  auto a = at::ones({8}, at::kHalf);
  auto b = a.clone();
  EXPECT_TRUE(bitwise_equal(a, b));
  b.view(at::kShort)[3].bitwise_xor_(1);
  EXPECT_FALSE(bitwise_equal(a, b));
}

}  // namespace
}  // namespace ak::harness
