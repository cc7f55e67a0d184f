// The suite's merge, in process, on made-up measurements: which backend is ours, the ceilings each type is
// quoted against, the speed-ups, failed and implausible results, and the summaries.
#include <gtest/gtest.h>

#include <cmath>

#include "suite/merge.hpp"
#include "suite/resume.hpp"
#include "suite/table.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

using nlohmann::json;

suite::Plan plan_for(const std::string& configs, std::vector<std::string> backends) {
  suite::SuiteRequest r;
  r.configs = *suite::parse_configs(configs);
  r.kernels_dir = test::source_dir() / "kernels";
  r.dtypes = {"f16"};
  r.backends = std::move(backends);
  auto p = suite::make_plan(r, /*gpu=*/false);
  if (!p) throw std::runtime_error(p.error().message);
  return *p;
}

suite::KernelRun passed(const suite::Plan& plan, const std::string& type, const std::string& backend,
                        std::vector<json> timings) {
  for (const auto& job : plan.jobs) {
    if (job.type == type && job.backend == backend) {
      return {job, "passed", "", {}, {{"timings", timings}}, util::content_hash(*util::read_file(job.path))};
    }
  }
  throw std::runtime_error("no such job");
}

json timing(const std::string& label, double us, double cpp_eager_us = 0) {
  return {
      {"shape", label}, {"dims", json::array()}, {"dtype", "f16"}, {"kernel_us", us}, {"reference_us", cpp_eager_us}};
}

json baselines(std::vector<json> results, double copy_gb_s = 1000) {
  return {{"device_name", "test"},
          {"torch", "x"},
          {"ceiling", {{"copy_gb_s", copy_gb_s}}},
          {"results", results},
          {"done", true}};
}

json measured(const std::string& type, const std::string& label, json eager, json compile = nullptr,
              json library = nullptr) {
  json r = {{"type", type}, {"label", label}, {"dtype", "f16"}, {"eager", eager}};
  if (!compile.is_null()) r["compile"] = compile;
  if (!library.is_null()) r["library"] = library;
  return r;
}

TEST(SuiteMerge, OursIsTheFastestCorrectBackendAndRatiosAreBaselineOverOurs) {
  const auto plan = plan_for("softmax:64x128", {"cpu", "triton"});
  const std::vector<suite::KernelRun> runs = {passed(plan, "softmax", "cpu", {timing("64x128", 40, 19)}),
                                              passed(plan, "softmax", "triton", {timing("64x128", 20, 21)})};
  const auto doc = suite::merge(plan, runs, baselines({measured("softmax", "64x128", {{"us", 30.0}}, {{"us", 10.0}})}));
  ASSERT_EQ(doc["rows"].size(), 1u);
  const auto& r = doc["rows"][0];
  EXPECT_EQ(r["ours"]["backend"], "triton");
  EXPECT_DOUBLE_EQ(r["ours"]["us"].get<double>(), 20);
  EXPECT_DOUBLE_EQ(r["speedup"]["eager"].get<double>(), 30.0 / 20);
  EXPECT_DOUBLE_EQ(r["speedup"]["compile"].get<double>(), 10.0 / 20);
  EXPECT_TRUE(r["speedup"]["library"].is_null());
  const double bytes = 2.0 * 64 * 128 * 2;  // softmax reads and writes M*N f16
  EXPECT_DOUBLE_EQ(r["bytes"].get<double>(), bytes);
  EXPECT_DOUBLE_EQ(r["ours"]["throughput"].get<double>(), bytes / 20e-6 / 1e9);
  EXPECT_DOUBLE_EQ(r["pct_of_ceiling"].get<double>(), 100 * bytes / 20e-6 / 1e9 / 1000);
  EXPECT_EQ(r["ceiling_basis"], "copy");
  EXPECT_DOUBLE_EQ(r["eager_cpp_over_python"].get<double>(), 21.0 / 30);  // the best backend's C++ eager
  EXPECT_DOUBLE_EQ(r["backends"]["cpu"]["us"].get<double>(), 40);
}

TEST(SuiteMerge, KernelsNotYetRunArePendingAndTheFinishedOnesKeepTheirRows) {
  const auto plan = plan_for("softmax:64x128,rmsnorm:32x256", {"cpu", "triton"});
  const auto base =
      baselines({measured("softmax", "64x128", {{"us", 30.0}}), measured("rmsnorm", "32x256", {{"us", 8.0}})});
  // Stopped after softmax's cpu kernel: softmax triton and both rmsnorm kernels never ran.
  const auto doc = suite::merge(plan, {passed(plan, "softmax", "cpu", {timing("64x128", 15)})}, base);
  EXPECT_EQ(doc["pending"], json({"softmax triton", "rmsnorm cpu", "rmsnorm triton"}));
  ASSERT_EQ(doc["rows"].size(), 2u);
  const auto& sm = doc["rows"][0];
  EXPECT_EQ(sm["ours"]["backend"], "cpu");
  EXPECT_DOUBLE_EQ(sm["speedup"]["eager"].get<double>(), 2.0);
  EXPECT_EQ(sm["backends"]["triton"]["status"], "pending");
  const auto& rms = doc["rows"][1];
  EXPECT_TRUE(rms["ours"].is_null());
  EXPECT_EQ(rms["backends"]["cpu"]["status"], "pending");
  EXPECT_DOUBLE_EQ(rms["eager"]["us"].get<double>(), 8.0);  // its baselines are kept all the same
  EXPECT_EQ(doc["summary"]["overall"]["ours_ok"], 1);
  // Once every kernel has run, nothing is pending.
  const auto done = suite::merge(
      plan,
      {passed(plan, "softmax", "cpu", {timing("64x128", 15)}),
       passed(plan, "softmax", "triton", {timing("64x128", 12)}), passed(plan, "rmsnorm", "cpu", {timing("32x256", 4)}),
       passed(plan, "rmsnorm", "triton", {timing("32x256", 5)})},
      base);
  EXPECT_FALSE(done.contains("pending"));
  EXPECT_EQ(done["rows"][1]["ours"]["backend"], "cpu");
}

TEST(SuiteResume, AStoppedRunsDocumentGivesBackItsBaselinesAndFinishedKernels) {
  const auto plan = plan_for("softmax:64x128,rmsnorm:32x256", {"cpu", "triton"});
  const auto base =
      baselines({measured("softmax", "64x128", {{"us", 30.0}}), measured("rmsnorm", "32x256", {{"us", 8.0}})});
  const std::vector<suite::KernelRun> finished = {passed(plan, "softmax", "cpu", {timing("64x128", 15)}),
                                                  passed(plan, "softmax", "triton", {timing("64x128", 12)})};
  const auto doc = json::parse(suite::merge(plan, finished, base).dump());  // as read back from the file
  const auto r = suite::resume_from(plan, doc);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->baselines, base);
  ASSERT_EQ(r->ours.size(), 2u);
  EXPECT_EQ(r->ours[1].job.backend, "triton");
  EXPECT_EQ(r->ours[1].report, finished[1].report);
  // Merged again, the rows are the same: nothing measured is lost on the way through the file.
  EXPECT_EQ(suite::merge(plan, r->ours, r->baselines)["rows"], doc["rows"]);
}

TEST(SuiteResume, AChangedKernelFileOrUnfinishedBaselinesRunAgain) {
  const auto plan = plan_for("softmax:64x128", {"cpu", "triton"});
  auto cpu = passed(plan, "softmax", "cpu", {timing("64x128", 15)});
  cpu.file_hash = "0123456789abcdef";  // the file was different when it ran
  auto died = baselines({measured("softmax", "64x128", {{"us", 30.0}})});
  died["done"] = false;
  died["died"] = "killed by signal 9";
  const auto r = suite::resume_from(plan, suite::merge(plan, {cpu, passed(plan, "softmax", "triton", {})}, died));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->baselines.is_null());
  ASSERT_EQ(r->ours.size(), 1u);
  EXPECT_EQ(r->ours[0].job.backend, "triton");
}

TEST(SuiteResume, ADocumentOfAnotherPlanOrNoSuiteDocumentIsRefused) {
  const auto plan = plan_for("softmax:64x128", {"cpu"});
  const auto doc = suite::merge(plan, {}, baselines({}));
  const auto other = suite::resume_from(plan_for("softmax:64x256", {"cpu"}), doc);
  ASSERT_FALSE(other.has_value());
  EXPECT_NE(other.error().message.find("its configs is"), std::string::npos) << other.error().message;
  EXPECT_NE(other.error().hint.find("--configs"), std::string::npos);
  EXPECT_FALSE(suite::resume_from(plan_for("softmax:64x128", {"triton"}), doc).has_value());
  const auto junk = suite::resume_from(plan, json{{"rows", json::array()}});
  ASSERT_FALSE(junk.has_value());
  EXPECT_NE(junk.error().message.find("not a document"), std::string::npos);
}

TEST(SuiteMerge, ComputeTypesAreQuotedAgainstTheirLibraryOrEager) {
  const auto plan = plan_for("matmul:64x64x64,flash_attention:1x2x64x32x1,fused_mlp:16x32x64", {"cpu"});
  const std::vector<suite::KernelRun> runs = {passed(plan, "matmul", "cpu", {timing("64x64x64", 50)}),
                                              passed(plan, "flash_attention", "cpu", {timing("1x2x64x32x1", 100)}),
                                              passed(plan, "fused_mlp", "cpu", {timing("16x32x64", 10)})};
  const auto doc = suite::merge(
      plan, runs,
      baselines(
          {measured("matmul", "64x64x64", {{"us", 40.0}}, nullptr, {{"us", 40.0}, {"name", "cuBLAS"}}),
           measured("flash_attention", "1x2x64x32x1", {{"us", 90.0}}, nullptr, {{"us", 80.0}, {"name", "SDPA flash"}}),
           measured("fused_mlp", "16x32x64", {{"us", 12.0}})}));
  const auto& mm = doc["rows"][0];
  EXPECT_EQ(mm["metric"], "TFLOP/s");
  EXPECT_EQ(mm["ceiling_basis"], "cuBLAS");
  EXPECT_DOUBLE_EQ(mm["pct_of_ceiling"].get<double>(), 100.0 * 40 / 50);
  EXPECT_DOUBLE_EQ(mm["ours"]["throughput"].get<double>(), 2.0 * 64 * 64 * 64 / 50e-6 / 1e12);
  EXPECT_DOUBLE_EQ(mm["speedup"]["library"].get<double>(), 40.0 / 50);
  const auto& fa = doc["rows"][1];
  EXPECT_EQ(fa["ceiling_basis"], "SDPA flash");
  EXPECT_DOUBLE_EQ(fa["pct_of_ceiling"].get<double>(), 80.0);
  const auto& mlp = doc["rows"][2];
  EXPECT_EQ(mlp["ceiling_basis"], "eager");
  EXPECT_DOUBLE_EQ(mlp["pct_of_ceiling"].get<double>(), 120.0);
}

TEST(SuiteMerge, AFailedOrUnconfirmedBackendIsNeverOursAndIsNamed) {
  const auto plan = plan_for("softmax:64x128,rmsnorm:32x256", {"cpu", "triton"});
  auto fast_but_unconfirmed = timing("64x128", 1);
  fast_but_unconfirmed["implausible"] = {"50x faster than PyTorch"};
  fast_but_unconfirmed["remeasured"] = {{"confirmed", false}};
  const std::vector<suite::KernelRun> runs = {
      passed(plan, "softmax", "cpu", {timing("64x128", 40)}),
      passed(plan, "softmax", "triton", {fast_but_unconfirmed}),
      {plan.jobs[2], "incorrect", "incorrect at stage 1 (tiny f16): out of tolerance", {}, {}, ""},
      {plan.jobs[3], "missing", "no kernel file x", {}, {}, ""}};
  const auto doc = suite::merge(plan, runs, baselines({measured("softmax", "64x128", {{"us", 30.0}})}));
  const auto& sm = doc["rows"][0];
  EXPECT_EQ(sm["ours"]["backend"], "cpu");
  EXPECT_EQ(sm["backends"]["triton"]["status"], "implausible");
  const auto& rn = doc["rows"][1];
  EXPECT_TRUE(rn["ours"].is_null());
  EXPECT_TRUE(rn["speedup"]["eager"].is_null());
  EXPECT_NE(rn["failures"].get<std::string>().find("cpu: incorrect at stage 1"), std::string::npos) << rn["failures"];
  EXPECT_NE(rn["failures"].get<std::string>().find("triton: no kernel file x"), std::string::npos) << rn["failures"];
  EXPECT_NE(rn["baseline_error"].get<std::string>().find("not measured"), std::string::npos);
  const auto table = suite::format_table(doc);
  EXPECT_NE(table.find("FAILED"), std::string::npos) << table;
  EXPECT_NE(table.find("failed: rmsnorm cpu: incorrect at stage 1"), std::string::npos) << table;
  EXPECT_EQ(doc["summary"]["types"]["rmsnorm"]["ours_ok"], 0);
  EXPECT_EQ(doc["summary"]["overall"]["ours_ok"], 1);
}

TEST(SuiteMerge, SummariesCountWinsAndTakeTheGeometricMean) {
  const auto plan = plan_for("reduce:8x16,reduce:8x32,reduce:8x64", {"cpu"});
  const std::vector<suite::KernelRun> runs = {
      passed(plan, "reduce", "cpu", {timing("8x16", 10), timing("8x32", 10), timing("8x64", 10)})};
  const auto doc = suite::merge(plan, runs,
                                baselines({measured("reduce", "8x16", {{"us", 20.0}}, {{"us", 5.0}}),
                                           measured("reduce", "8x32", {{"us", 40.0}}, {{"error", "RuntimeError: no"}}),
                                           measured("reduce", "8x64", {{"us", 5.0}}, {{"us", 20.0}})}));
  const auto& s = doc["summary"]["types"]["reduce"];
  EXPECT_EQ(s["rows"], 3);
  EXPECT_EQ(s["eager"]["beats"], 2);
  EXPECT_EQ(s["eager"]["of"], 3);
  EXPECT_NEAR(s["eager"]["geomean"].get<double>(), std::cbrt(2.0 * 4.0 * 0.5), 1e-12);
  EXPECT_EQ(s["compile"]["beats"], 1);  // the failed compile counts for neither side
  EXPECT_EQ(s["compile"]["of"], 2);
  EXPECT_EQ(doc["summary"]["overall"], s);
  const auto table = suite::format_table(doc);
  EXPECT_NE(table.find("reduce: ours ran 3 of 3; beats eager on 2 of 3 (1.59x geomean); beats torch.compile on 1 of 2 "
                       "(1.00x geomean)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("baseline failed: reduce 8x32 f16 compile: RuntimeError: no"), std::string::npos) << table;
}

}  // namespace
}  // namespace ak
