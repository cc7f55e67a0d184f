// The autokernel binary as a user meets it: exit codes, one clear error line, machine-readable output.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends/backend.hpp"
#include "test_support.hpp"
#include "util/process.hpp"

namespace ak {
namespace {

struct Run {
  int code;
  std::string out;
};

Run autokernel(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {AK_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = util::run_command(argv, std::chrono::minutes(5));
  if (!r) throw std::runtime_error(r.error().message);
  return {r->exit_code, r->output};
}

TEST(Cli, AMissingFileIsOneErrorLineAndExitCode2) {
  const auto r = autokernel({"bench", "--kernel", "/nonexistent/kernel.cu"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "autokernel: error: no such kernel file or directory: /nonexistent/kernel.cu\n");
}

TEST(Cli, AKernelThatDoesNotCompileShowsTheCompilerAndExitsNonZero) {
  const auto r = autokernel({"bench", "--kernel", test::bad_kernel("does_not_compile.cpp").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("does not compile"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("this_is_not_declared"), std::string::npos) << r.out;
}

TEST(Cli, AnUnknownKernelTypeIsNamed) {
  const auto r = autokernel({"bench", "--kernel", test::bad_kernel("unknown_type.cpp").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("unknown kernel type 'convolution_3d'"), std::string::npos) << r.out;
}

TEST(Cli, TheCudaBackendWithoutAGpuSaysSoWithAHint) {
  if (backends::cuda_available()) GTEST_SKIP() << "this machine has a GPU";
  const auto r = autokernel({"bench", "--kernel", test::starter("rmsnorm", "cuda.cu").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("autokernel: error: the cuda backend needs an NVIDIA GPU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hint:"), std::string::npos) << r.out;
}

TEST(Cli, AnUnknownBackendListsTheKnownOnes) {
  const auto r = autokernel({"bench", "--kernel", test::starter("rmsnorm", "cpu.cpp").string(), "--backend", "metal"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("unknown backend 'metal'"), std::string::npos) << r.out;
}

TEST(Cli, BenchPrintsKeyValueLinesForAgents) {
  const auto r = autokernel({"bench", "--kernel", test::starter("reduce", "cpu.cpp").string(), "--quick"});
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* key : {"correctness: PASS", "speedup_vs_reference: ", "latency_us: ", "bandwidth_gb_s: ",
                          "pct_of_ceiling: ", "bound: memory"}) {
    EXPECT_NE(r.out.find(key), std::string::npos) << key << " missing from:\n" << r.out;
  }
}

TEST(Cli, BenchJsonIsOneParsableDocumentWithTheStages) {
  const auto r =
      autokernel({"bench", "--kernel", test::starter("softmax", "cpu.cpp").string(), "--json", "--no-timing"});
  EXPECT_EQ(r.code, 0);
  const auto start = r.out.find("{\n");
  ASSERT_NE(start, std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(r.out.substr(start));
  EXPECT_EQ(j["correctness"], "PASS");
  EXPECT_EQ(j["kernel_type"], "softmax");
  EXPECT_EQ(j["stages"].size(), 5u);
}

TEST(Cli, AKnobOverrideReachesTheBuild) {
  // A value outside the declared list is allowed by hand; an undeclared knob is not.
  const auto bad = autokernel({"bench", "--kernel", test::starter("rmsnorm", "cpu.cpp").string(), "--knob", "NOPE=1"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("unknown knob 'NOPE'"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace ak
