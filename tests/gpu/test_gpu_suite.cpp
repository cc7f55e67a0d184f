// On a GPU: a small `autokernel suite` for real: our CUDA and Triton starters, eager, torch.compile
// (max-autotune-no-cudagraphs), cuBLAS and SDPA flash, the copy ceiling, and numbers that agree with each
// other. Skipped where there is no GPU.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "backends/backend.hpp"
#include "harness/timing.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

using nlohmann::json;

TEST(GpuSuite, MeasuresOursAndEveryBaselineAtTheSameShapes) {
  if (!backends::cuda_available()) GTEST_SKIP() << "no GPU here";
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ak_gpu_suite_{}", ::getpid());
  std::filesystem::create_directories(dir);
  const auto out = dir / "out.json";
  // Shapes large enough that a call takes tens of microseconds: the launch cost is hidden, and the C++ and
  // Python timings of the eager op must agree.
  // --quick: the stages are tested in test_gpu_starters; this is about the suite.
  const auto r =
      test::autokernel({"suite", "--configs", "softmax:4096x4096,matmul:2048x2048x2048,flash_attention:2x16x2048x64x1",
                        "--quick", "--case-timeout", "300", "--json", out.string()},
                       std::chrono::minutes(20));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto text = util::read_file(out);
  ASSERT_TRUE(text) << r.output;
  const auto doc = json::parse(*text);
  EXPECT_EQ(doc["device"]["is_gpu"], true);
  EXPECT_FALSE(doc["device"]["name"].get<std::string>().empty());
  EXPECT_EQ(doc["settings"]["backends"], json::array({"cuda", "triton"}));
  EXPECT_EQ(doc["settings"]["compile_mode"], "max-autotune-no-cudagraphs");
  const auto& timer = doc["settings"]["timer"];
  EXPECT_GT(timer["cycles_per_us"].get<double>(), 100);  // a GPU clock, in MHz
  // Every baseline starts after the same idle floor as the C++ timer's (a settled L2, see timing.hpp).
  EXPECT_EQ(timer["min_idle_us"].get<double>(), harness::k_min_idle_us);
  const auto min_sleep = static_cast<int64_t>(harness::k_min_idle_us * timer["cycles_per_us"].get<double>());
  const double copy = doc["ceiling"]["copy_gb_s"].get<double>();
  EXPECT_GT(copy, 100);
  ASSERT_EQ(doc["rows"].size(), 6u);  // 3 configurations x f16, bf16
  for (const auto& row : doc["rows"]) {
    SCOPED_TRACE(row["type"].get<std::string>() + " " + row["dtype"].get<std::string>());
    ASSERT_TRUE(row["ours"].is_object()) << row.dump(1);
    const double cuda = row["backends"]["cuda"].value("us", 0.0), triton = row["backends"]["triton"].value("us", 0.0);
    EXPECT_EQ(row["backends"]["cuda"]["status"], "passed") << row.dump(1);
    EXPECT_EQ(row["backends"]["triton"]["status"], "passed") << row.dump(1);
    EXPECT_DOUBLE_EQ(row["ours"]["us"].get<double>(), std::min(cuda, triton));
    const double ours = row["ours"]["us"].get<double>();
    for (const char* b : {"eager", "compile"}) {
      ASSERT_TRUE(row[b].is_object() && !row[b].contains("error")) << b << ": " << row.dump(1);
      EXPECT_GT(row[b]["us"].get<double>(), 0);
      EXPECT_GE(row[b]["sleep_cycles"].get<int64_t>(), min_sleep - 1);  // the launch hidden behind a device sleep
      EXPECT_DOUBLE_EQ(row["speedup"][b].get<double>(), row[b]["us"].get<double>() / ours);
    }
    EXPECT_GT(row["compile"]["compile_s"].get<double>(), 0);
    // The C++ harness and the Python child time the same eager op the same way.
    const double agree = row["eager_cpp_over_python"].get<double>();
    EXPECT_GT(agree, 0.67);
    EXPECT_LT(agree, 1.5);
    const auto type = row["type"].get<std::string>();
    if (type == "softmax") {
      EXPECT_EQ(row["ceiling_basis"], "copy");
      EXPECT_GT(row["pct_of_ceiling"].get<double>(), 0);
      EXPECT_LT(row["pct_of_ceiling"].get<double>(), 150);  // softmax moves what a copy moves
      EXPECT_TRUE(row["library"].is_null());
    } else {
      const auto lib = type == "matmul" ? "cuBLAS" : "SDPA flash";
      EXPECT_EQ(row["library"]["name"], lib);
      EXPECT_EQ(row["ceiling_basis"], lib);
      EXPECT_DOUBLE_EQ(row["pct_of_ceiling"].get<double>(), 100 * row["library"]["us"].get<double>() / ours);
      if (type == "matmul") {
        EXPECT_DOUBLE_EQ(row["library"]["us"].get<double>(), row["eager"]["us"].get<double>());  // cuBLAS is eager
      }
    }
  }
  EXPECT_NE(r.output.find("beats torch.compile on"), std::string::npos) << r.output;
  (void)util::remove_tree(dir);
}

}  // namespace
}  // namespace ak
