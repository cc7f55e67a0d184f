// Reading a candidate: its type, its knobs, where it lives.
#include <gtest/gtest.h>

#include <fstream>

#include "backends/candidate.hpp"
#include "test_support.hpp"

namespace ak::backends {
namespace {

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / "ak_candidate_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name) << text;
  return dir / name;
}

TEST(Candidate, ParsesKnobsWithDefaultsValuesAndDescriptions) {
  auto knobs =
      parse_knobs("// @knob BLOCK=256 {64,128,256} threads per block\n# @knob MODE=ieee {ieee, tf32} precision\n");
  ASSERT_TRUE(knobs.has_value());
  ASSERT_EQ(knobs->size(), 2u);
  EXPECT_EQ((*knobs)[0].name, "BLOCK");
  EXPECT_EQ((*knobs)[0].default_value, "256");
  EXPECT_EQ((*knobs)[0].values, (std::vector<std::string>{"64", "128", "256"}));
  EXPECT_EQ((*knobs)[0].description, "threads per block");
  EXPECT_EQ((*knobs)[1].values, (std::vector<std::string>{"ieee", "tf32"}));
}

TEST(Candidate, AMalformedKnobNamesItsLine) {
  auto knobs = parse_knobs("int x;\n// @knob BLOCK 256\n");
  ASSERT_FALSE(knobs.has_value());
  EXPECT_NE(knobs.error().message.find("line 2"), std::string::npos);
}

TEST(Candidate, ADefaultOutsideTheListJoinsTheSearchSpace) {
  auto knobs = parse_knobs("// @knob W=3 {1,2} width\n");
  EXPECT_EQ((*knobs)[0].values, (std::vector<std::string>{"3", "1", "2"}));
}

TEST(Candidate, TakesTheBackendFromTheExtensionAndTheTypeFromTheHeader) {
  auto c = load_candidate(test::starter("rmsnorm", "cpu.cpp"), "");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->backend, "cpu");
  EXPECT_EQ(c->type, "rmsnorm");
  EXPECT_EQ(c->knob_values.size(), c->knobs.size());
}

TEST(Candidate, AnUnknownKnobOverrideListsTheDeclaredOnes) {
  auto c = load_candidate(test::starter("rmsnorm", "cpu.cpp"), "", {{"NOPE", "1"}});
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("unknown knob 'NOPE'"), std::string::npos) << c.error().message;
}

TEST(Candidate, AFileWithoutATypeDeclarationIsRejectedWithAHint) {
  auto c = load_candidate(write_temp("untyped.cpp", "int x;\n"), "");
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().hint.find("@autokernel type="), std::string::npos);
}

TEST(Candidate, ADirectoryOfStartersNeedsABackendToChoose) {
  auto dir = test::source_dir() / "kernels" / "softmax";
  auto ambiguous = resolve_kernel_path(dir, "");
  ASSERT_FALSE(ambiguous.has_value());
  EXPECT_NE(ambiguous.error().hint.find("--backend"), std::string::npos);
  auto cuda = resolve_kernel_path(dir, "cuda");
  ASSERT_TRUE(cuda.has_value());
  EXPECT_EQ(cuda->filename(), "cuda.cu");
}

TEST(Candidate, AMissingPathSaysSo) {
  auto c = load_candidate("/nonexistent/kernel.cu", "");
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("no such kernel file"), std::string::npos);
}

}  // namespace
}  // namespace ak::backends

namespace ak::backends {
namespace {

TEST(Candidate, RewritingKnobDefaultsChangesOnlyTheirValues) {
  const std::string src = "// @knob REPEAT=8 {1,2,4,8} times\n// @knob B=1 {1,2} other\nint x = REPEAT;\n";
  const auto out = with_knob_defaults(src, {{"REPEAT", "4"}, {"B", "2"}});
  EXPECT_EQ(out, "// @knob REPEAT=4 {1,2,4,8} times\n// @knob B=2 {1,2} other\nint x = REPEAT;\n");
  auto knobs = parse_knobs(out);
  EXPECT_EQ((*knobs)[0].default_value, "4");
  EXPECT_EQ(config_string({{"B", "2"}, {"A", "1"}}), "A=1,B=2");
}

TEST(Candidate, KnobValuesBecomeThePythonScalarsTritonCandidatesSee) {
  EXPECT_EQ(knob_scalar("128"), KnobScalar(128LL));
  EXPECT_EQ(knob_scalar("-3"), KnobScalar(-3LL));
  EXPECT_EQ(knob_scalar("0.5"), KnobScalar(0.5));
  EXPECT_EQ(knob_scalar("True"), KnobScalar(true));
  EXPECT_EQ(knob_scalar("false"), KnobScalar(false));
  EXPECT_EQ(knob_scalar("'ieee'"), KnobScalar(std::string("ieee")));
  EXPECT_EQ(knob_scalar("tf32"), KnobScalar(std::string("tf32")));
  EXPECT_EQ(knob_scalar("12abc"), KnobScalar(std::string("12abc")));
}

}  // namespace
}  // namespace ak::backends
