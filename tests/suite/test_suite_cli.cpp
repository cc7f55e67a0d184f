// `autokernel suite` as a user meets it, on the CPU: bad input is one error line and exit code 2; a small run
// writes rows whose numbers agree with each other; a broken or missing kernel is a failed row, not the end.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "backends/backend.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

namespace ak {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / fmt::format("ak_suite_{}_{}", name, ::getpid());
  (void)util::remove_tree(dir);
  fs::create_directories(dir);
  return dir;
}

json read_json(const fs::path& p) {
  auto text = util::read_file(p);
  if (!text) throw std::runtime_error(text.error().message);
  return json::parse(*text);
}

/// The first line that starts with "autokernel: error:", or "".
std::string error_line(const std::string& out) {
  const auto at = out.find("autokernel: error:");
  return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
}

/// How many processes still have `text` in their command line after waiting up to `patience` for it to be none.
int processes_mentioning(const std::string& text, std::chrono::seconds patience) {
  const auto until = std::chrono::steady_clock::now() + patience;
  for (;;) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
      auto cmd = util::read_file(e.path() / "cmdline");
      if (cmd && cmd->find(text) != std::string::npos) ++n;
    }
    if (n == 0 || std::chrono::steady_clock::now() > until) return n;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void expect_usage_error(const std::vector<std::string>& args, const std::string& why) {
  std::vector<std::string> all = {"suite"};
  all.insert(all.end(), args.begin(), args.end());
  const auto r = test::autokernel(all);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(error_line(r.output).find(why), std::string::npos) << "expected '" << why << "' in:\n" << r.output;
}

TEST(SuiteCli, BadInputIsOneErrorLineAndExitCode2) {
  expect_usage_error({"--types", "softmax,convolution"}, "unknown kernel type 'convolution'");
  expect_usage_error({"--configs", "softmax:64"}, "bad --configs item 'softmax:64': softmax takes 2 dims (M,N), got 1");
  expect_usage_error({"--configs", "softmax=64x128"}, "expected TYPE:DIMS");
  expect_usage_error({"--configs", "softmax:64x128", "--types", "rmsnorm"}, "--configs gives shapes for softmax");
  expect_usage_error({"--configs", "softmax:64x128", "--kernels-dir", "/nonexistent/kernels", "--backends", "cpu"},
                     "no kernels directory /nonexistent/kernels");
  expect_usage_error({"--configs", "softmax:64x128", "--backends", "cpu", "--knob", "softmax.cpu.NOPE=1"},
                     "unknown knob 'NOPE'");
  expect_usage_error({"--configs", "softmax:64x128", "--backends", "cpu", "--dtypes", "f8"}, "unknown dtype 'f8'");
}

TEST(SuiteCli, WithoutAGpuTheDefaultConfigsAndTheCudaBackendAreRefused) {
  if (backends::cuda_available()) GTEST_SKIP() << "this machine has a GPU";
  expect_usage_error({"--types", "softmax"}, "no GPU here, and the default configs of softmax are GPU-sized");
  expect_usage_error({"--configs", "softmax:64x128", "--backends", "cuda"}, "the cuda backend needs an NVIDIA GPU");
}

TEST(SuiteCli, NoPythonIsBadInput) {
  const auto r = util::run_command({"env", "AUTOKERNEL_PYTHON=/nonexistent/python3", AK_BINARY, "suite", "--configs",
                                    "softmax:64x128", "--backends", "cpu", "--no-compile"},
                                   std::chrono::minutes(2));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 2) << r->output;
  EXPECT_NE(error_line(r->output).find("/nonexistent/python3"), std::string::npos) << r->output;
}

TEST(SuiteCli, ACpuRunWritesRowsWhoseNumbersAgree) {
  const auto dir = fresh_dir("cpu_run");
  const auto out = dir / "out.json";
  const auto r = test::autokernel({"suite", "--types", "softmax,rmsnorm", "--configs", "softmax:64x128,rmsnorm:32x256",
                                   "--backends", "cpu", "--no-compile", "--json", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("softmax cpu: stage 5 edge_sizes PASS"), std::string::npos) << r.output;  // progress
  EXPECT_NE(r.output.find("overall: ours ran 4 of 4"), std::string::npos) << r.output;
  const auto doc = read_json(out);
  EXPECT_EQ(doc["device"]["is_gpu"], false);
  EXPECT_FALSE(doc["torch"].get<std::string>().empty());
  EXPECT_FALSE(doc["date"].get<std::string>().empty());
  const double copy = doc["ceiling"]["copy_gb_s"].get<double>();
  EXPECT_GT(copy, 0);
  ASSERT_EQ(doc["rows"].size(), 4u);
  const std::vector<std::tuple<std::string, std::vector<int64_t>, std::string>> want = {{"softmax", {64, 128}, "f16"},
                                                                                        {"softmax", {64, 128}, "bf16"},
                                                                                        {"rmsnorm", {32, 256}, "f16"},
                                                                                        {"rmsnorm", {32, 256}, "bf16"}};
  int beats_eager = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto& row = doc["rows"][i];
    const auto& [type, dims, dtype] = want[i];
    EXPECT_EQ(row["type"], type);
    EXPECT_EQ(row["dims"].get<std::vector<int64_t>>(), dims);
    EXPECT_EQ(row["dtype"], dtype);
    ASSERT_TRUE(row["ours"].is_object()) << row.dump(1);
    EXPECT_EQ(row["ours"]["backend"], "cpu");
    EXPECT_EQ(row["backends"]["cpu"]["status"], "passed");
    const double ours = row["ours"]["us"].get<double>(), eager = row["eager"]["us"].get<double>();
    EXPECT_GT(ours, 0);
    EXPECT_GT(eager, 0);
    EXPECT_GT(row["backends"]["cpu"]["eager_cpp_us"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(row["speedup"]["eager"].get<double>(), eager / ours);
    beats_eager += eager / ours > 1;
    EXPECT_DOUBLE_EQ(row["ours"]["throughput"].get<double>(), row["bytes"].get<double>() / ours / 1e3);
    EXPECT_DOUBLE_EQ(row["pct_of_ceiling"].get<double>(), 100 * row["ours"]["throughput"].get<double>() / copy);
    EXPECT_TRUE(row["compile"].is_null());  // --no-compile
    EXPECT_TRUE(row["speedup"]["compile"].is_null());
  }
  EXPECT_EQ(doc["summary"]["overall"]["eager"]["beats"], beats_eager);
  ASSERT_EQ(doc["kernels"].size(), 2u);
  EXPECT_EQ(doc["kernels"][0]["stages"].size(), 5u);
}

TEST(SuiteCli, OursIsTheFasterOfTwoBackends) {
  if (backends::cuda_available()) GTEST_SKIP() << "on a GPU tests/gpu runs the suite";
  const auto dir = fresh_dir("two_backends");
  const auto out = dir / "out.json";
  const auto r = test::autokernel({"suite", "--configs", "softmax:64x128", "--dtypes", "f32", "--backends",
                                   "cpu,triton", "--no-compile", "--json", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto row = read_json(out)["rows"][0];
  ASSERT_EQ(row["backends"]["cpu"]["status"], "passed") << row.dump(1);
  ASSERT_EQ(row["backends"]["triton"]["status"], "passed") << row.dump(1);  // Triton's interpreter here
  const double cpu = row["backends"]["cpu"]["us"].get<double>(), triton = row["backends"]["triton"]["us"].get<double>();
  EXPECT_EQ(row["ours"]["backend"], cpu <= triton ? "cpu" : "triton");
  EXPECT_DOUBLE_EQ(row["ours"]["us"].get<double>(), std::min(cpu, triton));
}

TEST(SuiteCli, ABrokenOrMissingKernelIsAFailedRowAndTheOthersStillRun) {
  const auto dir = fresh_dir("broken");
  const auto kernels = dir / "kernels";
  fs::create_directories(kernels / "softmax");
  fs::create_directories(kernels / "rmsnorm");
  fs::copy_file(test::starter("softmax", "cpu.cpp"), kernels / "softmax" / "cpu.cpp");
  fs::copy_file(test::bad_kernel("wrong_result.cpp"), kernels / "rmsnorm" / "cpu.cpp");
  fs::copy_file(test::bad_kernel("rmsnorm_base.h"), kernels / "rmsnorm" / "rmsnorm_base.h");
  // reduce has no folder at all.
  const auto out = dir / "out.json";
  const auto r = test::autokernel({"suite", "--configs", "rmsnorm:32x256,reduce:16x64,softmax:64x128", "--dtypes",
                                   "f16", "--backends", "cpu", "--no-compile", "--kernels-dir", kernels.string(),
                                   "--json", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("failed: rmsnorm cpu: incorrect at stage 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("failed: reduce cpu: no kernel file"), std::string::npos) << r.output;
  const auto doc = read_json(out);
  ASSERT_EQ(doc["rows"].size(), 3u);
  const auto& rms = doc["rows"][0];
  EXPECT_EQ(rms["type"], "rmsnorm");
  EXPECT_TRUE(rms["ours"].is_null());
  EXPECT_EQ(rms["backends"]["cpu"]["status"], "incorrect");
  EXPECT_GT(rms["eager"]["us"].get<double>(), 0);  // the baselines are measured all the same
  EXPECT_EQ(doc["rows"][1]["backends"]["cpu"]["status"], "missing");
  const auto& sm = doc["rows"][2];
  EXPECT_EQ(sm["type"], "softmax");
  ASSERT_TRUE(sm["ours"].is_object()) << sm.dump(1);
  EXPECT_GT(sm["ours"]["us"].get<double>(), 0);
  EXPECT_EQ(doc["summary"]["overall"]["ours_ok"], 1);
}

TEST(SuiteCli, AStoppedRunKeepsTheBaselinesAndTheKernelsThatFinishedAndResumeGoesOn) {
  const auto dir = fresh_dir("stopped");
  const auto kernels = dir / "kernels";
  fs::create_directories(kernels / "softmax");
  fs::create_directories(kernels / "rmsnorm");
  fs::copy_file(test::starter("softmax", "cpu.cpp"), kernels / "softmax" / "cpu.cpp");
  fs::copy_file(test::bad_kernel("hang.cpp"), kernels / "rmsnorm" / "cpu.cpp");  // runs until the run is killed
  fs::copy_file(test::bad_kernel("rmsnorm_base.h"), kernels / "rmsnorm" / "rmsnorm_base.h");
  const auto out = dir / "out.json";
  auto argv = std::vector<std::string>{AK_BINARY,
                                       "suite",
                                       "--configs",
                                       "softmax:64x128,rmsnorm:32x256",
                                       "--dtypes",
                                       "f16",
                                       "--backends",
                                       "cpu",
                                       "--no-compile",
                                       "--case-timeout",
                                       "600",
                                       "--kernels-dir",
                                       kernels.string(),
                                       "--json",
                                       out.string()};
  const auto r = util::run_command(argv, std::chrono::seconds(45));  // killed (SIGKILL) while rmsnorm hangs
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_TRUE(r->timed_out) << r->output;
  EXPECT_NE(r->output.find("partial results go to"), std::string::npos) << r->output;
  const auto doc = read_json(out);
  EXPECT_EQ(doc["pending"], json({"rmsnorm cpu"})) << doc.dump(1);
  ASSERT_EQ(doc["rows"].size(), 2u);
  ASSERT_TRUE(doc["rows"][0]["ours"].is_object()) << doc["rows"][0].dump(1);
  EXPECT_GT(doc["rows"][0]["ours"]["us"].get<double>(), 0);
  EXPECT_EQ(doc["rows"][1]["backends"]["cpu"]["status"], "pending");
  EXPECT_GT(doc["rows"][1]["eager"]["us"].get<double>(), 0);
  // The worker that ran the hanging kernel (its own process group) died with autokernel.
  EXPECT_EQ(processes_mentioning(kernels.string(), std::chrono::seconds(5)), 0);

  // --resume with other settings is refused, before anything runs.
  auto other = argv;
  other[5] = "bf16";  // --dtypes f16 before
  other.push_back("--resume");
  const auto refused = util::run_command(other, std::chrono::seconds(60));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->exit_code, 2) << refused->output;
  EXPECT_NE(refused->output.find("its dtypes is [\"f16\"]"), std::string::npos) << refused->output;
  // The hang fixed, --resume keeps the baselines and softmax's result and runs only rmsnorm.
  fs::copy_file(test::starter("rmsnorm", "cpu.cpp"), kernels / "rmsnorm" / "cpu.cpp",
                fs::copy_options::overwrite_existing);
  argv.push_back("--resume");
  const auto resumed = util::run_command(argv, std::chrono::seconds(300));
  ASSERT_TRUE(resumed.has_value());
  ASSERT_EQ(resumed->exit_code, 0) << resumed->output;
  EXPECT_NE(resumed->output.find("baselines: kept from the earlier run"), std::string::npos) << resumed->output;
  EXPECT_NE(resumed->output.find("softmax cpu: kept from the earlier run (passed)"), std::string::npos)
      << resumed->output;
  EXPECT_NE(resumed->output.find("rmsnorm cpu: stage 1"), std::string::npos) << resumed->output;
  const auto done = read_json(out);
  EXPECT_FALSE(done.contains("pending")) << done.dump(1);
  EXPECT_EQ(done["rows"][0]["ours"]["us"], doc["rows"][0]["ours"]["us"]);  // softmax's, not measured again
  EXPECT_EQ(done["rows"][0]["eager"]["us"], doc["rows"][0]["eager"]["us"]);
  ASSERT_TRUE(done["rows"][1]["ours"].is_object()) << done["rows"][1].dump(1);
  EXPECT_EQ(done["rows"][1]["backends"]["cpu"]["status"], "passed");
}

TEST(SuiteCli, AKnobReachesTheBuildAndQuickRunsTheQuickStages) {
  const auto dir = fresh_dir("knob");
  const auto out = dir / "out.json";
  // LANES=0 trips the starter's static_assert: proof that the value reached the compiler.
  const auto r = test::autokernel({"suite", "--configs", "softmax:64x128", "--dtypes", "f32", "--backends", "cpu",
                                   "--no-compile", "--quick", "--knob", "softmax.cpu.LANES=0", "--json", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("LANES must be positive"), std::string::npos) << r.output;
  EXPECT_EQ(read_json(out)["kernels"][0]["status"], "compile_failed");
  const auto q = test::autokernel({"suite", "--configs", "softmax:64x128", "--dtypes", "f32", "--backends", "cpu",
                                   "--no-compile", "--quick", "--knob", "softmax.cpu.LANES=2", "--json", out.string()});
  ASSERT_EQ(q.exit_code, 0) << q.output;
  const auto doc = read_json(out);
  EXPECT_EQ(doc["kernels"][0]["stages"].size(), 2u);  // stages 1-2
  EXPECT_EQ(doc["rows"][0]["backends"]["cpu"]["knobs"]["LANES"], "2");
  EXPECT_GT(doc["rows"][0]["ours"]["us"].get<double>(), 0);
}

}  // namespace
}  // namespace ak
