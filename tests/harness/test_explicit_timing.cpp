// A bench may name its timing shapes and dtypes (the suite does): exactly those are timed, in order, each
// shape in each dtype; without them a bench times as before (its first benchmark shape, in --dtype).
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace ak {
namespace {

harness::BenchReport bench(harness::BenchRequest req) {
  ::setenv("AUTOKERNEL_BINARY", AK_BINARY, 1);
  req.kernel_path = test::starter("rmsnorm", "cpu.cpp").string();
  req.quick = true;
  auto rep = harness::run_bench(req, nullptr);
  if (!rep) throw std::runtime_error(rep.error().message);
  return *rep;
}

TEST(ExplicitTiming, TimesExactlyTheNamedShapesInEachDtype) {
  harness::BenchRequest req;
  req.timing_shapes = {{"first", {32, 256}}, {"second", {16, 128}}};
  req.timing_dtypes = {"f32", "bf16"};
  const auto rep = bench(req);
  ASSERT_TRUE(rep.passed()) << rep.message;
  ASSERT_EQ(rep.timings.size(), 4u);  // --quick trims neither
  const std::vector<std::tuple<std::string, std::vector<int64_t>, std::string>> want = {{"first", {32, 256}, "f32"},
                                                                                        {"first", {32, 256}, "bf16"},
                                                                                        {"second", {16, 128}, "f32"},
                                                                                        {"second", {16, 128}, "bf16"}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(rep.timings[i].shape, std::get<0>(want[i]));
    EXPECT_EQ(rep.timings[i].dims, std::get<1>(want[i]));
    EXPECT_EQ(rep.timings[i].dtype, std::get<2>(want[i]));
    EXPECT_GT(rep.timings[i].kernel_us, 0);
  }
}

TEST(ExplicitTiming, WithoutThemABenchTimesAsBefore) {
  harness::BenchRequest req;
  req.timing_dtype = "bf16";
  const auto rep = bench(req);
  ASSERT_TRUE(rep.passed()) << rep.message;
  ASSERT_EQ(rep.timings.size(), 1u);  // --quick: one benchmark shape
  EXPECT_EQ(rep.timings[0].dtype, "bf16");
}

}  // namespace
}  // namespace ak
