// `autokernel export`: a real workspace (a short CPU run), exported, imported by Python as a user does.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "workspace/results_log.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

namespace fs = std::filesystem;

/// A workspace where rmsnorm_cpu and softmax_cpu each have a baseline. One per test: CTest runs tests in
/// parallel processes.
fs::path baseline_workspace(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("ak_ws_export_" + name);
  (void)util::remove_tree(dir);
  const auto r =
      test::autokernel({"run", "--workspace", dir.string(), "--kernel", test::starter("rmsnorm", "cpu.cpp").string(),
                        "--kernel", test::starter("softmax", "cpu.cpp").string(), "--max-experiments", "2"});
  if (r.exit_code != 0) throw std::runtime_error(r.output);
  return dir;
}

/// Rewrite the speed-up of every row of `kernel` (the test decides which kernel counts as faster).
void set_speedup(const fs::path& ws, const std::string& kernel, double speedup) {
  workspace::ResultsLog log(ws / "results.tsv");
  auto rows = *log.read();
  ASSERT_TRUE(util::remove_tree(ws / "results.tsv"));
  for (auto r : rows) {
    if (r.kernel == kernel) r.speedup_vs_reference = speedup;
    ASSERT_TRUE(log.append(r));
  }
}

TEST(Export, WritesAPackageThatPatchesAModelThroughTheKeptKernels) {
  const auto ws = baseline_workspace("all");
  const auto out = fs::temp_directory_path() / "ak_export_all";
  auto r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto pkg = out / "autokernel_kernels";
  // The package's Python travels with its subfolders (kinds/: one module per kernel type).
  for (const auto* f :
       {"__init__.py", "_ops.py", "kinds/__init__.py", "kinds/rmsnorm.py", "manifest.json", "lib/libautokernel_ops.so",
        "lib/rmsnorm_cpu.so", "lib/softmax_cpu.so", "src/rmsnorm_cpu.cpp", "src/softmax_cpu.cpp"}) {
    EXPECT_TRUE(fs::exists(pkg / f)) << f;
  }
  const auto manifest = nlohmann::json::parse(*util::read_file(pkg / "manifest.json"));
  ASSERT_EQ(manifest["kernels"].size(), 2u);
  EXPECT_EQ(manifest["kernels"][0]["type"], "rmsnorm");
  // The source shipped is the committed one.
  EXPECT_EQ(*util::read_file(pkg / "src/rmsnorm_cpu.cpp"),
            test::git(ws, {"show", "HEAD:kernels/rmsnorm_cpu/kernel.cpp"}) + "\n");

  const auto py = test::source_dir() / "tests/data/deploy/check_package.py";
  auto run = util::run_command({"python3", py.string(), out.string()}, std::chrono::minutes(5));
  ASSERT_TRUE(run);
  EXPECT_EQ(run->exit_code, 0) << run->output;
  // Both kernels ran inside the model: the RMSNorm module and F.softmax were routed to them.
  EXPECT_NE(run->output.find("\"rmsnorm_cpu\": 1"), std::string::npos) << run->output;
  EXPECT_NE(run->output.find("\"softmax_cpu\": 1"), std::string::npos) << run->output;
}

TEST(Export, TritonKernelsRunThroughTheirOwnFunctionsWithTheirKnobs) {
  const auto ws = fs::temp_directory_path() / "ak_ws_export_triton";
  (void)util::remove_tree(ws);
  auto r =
      test::autokernel({"run", "--workspace", ws.string(), "--kernel", test::starter("rmsnorm", "triton.py").string(),
                        "--kernel", test::starter("softmax", "triton.py").string(), "--max-experiments", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = fs::temp_directory_path() / "ak_export_triton";
  r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto pkg = out / "autokernel_kernels";
  EXPECT_TRUE(fs::exists(pkg / "triton/rmsnorm_triton.py"));
  const auto manifest = nlohmann::json::parse(*util::read_file(pkg / "manifest.json"));
  ASSERT_EQ(manifest["kernels"].size(), 2u);
  EXPECT_EQ(manifest["kernels"][0]["backend"], "triton");
  EXPECT_FALSE(manifest["kernels"][0]["knobs"].empty()) << manifest.dump(1);  // the knobs the run kept
  // No GPU here: the package runs them in Triton's interpreter on CPU tensors.
  const auto py = test::source_dir() / "tests/data/deploy/check_package.py";
  util::ProcessOptions po;
  po.extra_env = {"TRITON_INTERPRET=1"};
  std::string output;
  auto run = util::run_process({"/usr/bin/env", "python3", py.string(), out.string()}, po,
                               [&](const std::string& l) { output += l + "\n"; });
  ASSERT_TRUE(run);
  EXPECT_EQ(run->exit_code, 0) << output << run->stderr_tail;
  EXPECT_NE(output.find("\"rmsnorm_triton\": 1"), std::string::npos) << output;
  EXPECT_NE(output.find("\"softmax_triton\": 1"), std::string::npos) << output;
}

TEST(Export, LayerNormCrossEntropyAndRowSumsAreRoutedToo) {
  const auto ws = fs::temp_directory_path() / "ak_ws_export_functions";
  (void)util::remove_tree(ws);
  auto r =
      test::autokernel({"run", "--workspace", ws.string(), "--kernel", test::starter("layernorm", "cpu.cpp").string(),
                        "--kernel", test::starter("cross_entropy", "cpu.cpp").string(), "--kernel",
                        test::starter("reduce", "cpu.cpp").string(), "--max-experiments", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = fs::temp_directory_path() / "ak_export_functions";
  r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto py = test::source_dir() / "tests/data/deploy/check_functions.py";
  auto run = util::run_command({"python3", py.string(), out.string()}, std::chrono::minutes(5));
  ASSERT_TRUE(run);
  EXPECT_EQ(run->exit_code, 0) << run->output;
  EXPECT_NE(run->output.find("\"layernorm_cpu\": 1"), std::string::npos) << run->output;
  EXPECT_NE(run->output.find("\"cross_entropy_cpu\": 3"), std::string::npos) << run->output;
  EXPECT_NE(run->output.find("\"reduce_cpu\": 1"), std::string::npos) << run->output;
}

TEST(Export, AttentionIsRoutedWithGroupedKvHeadsToo) {
  const auto ws = fs::temp_directory_path() / "ak_ws_export_attention";
  (void)util::remove_tree(ws);
  auto r = test::autokernel({"run", "--workspace", ws.string(), "--kernel",
                             test::starter("flash_attention", "cpu.cpp").string(), "--max-experiments", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = fs::temp_directory_path() / "ak_export_attention";
  r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto py = test::source_dir() / "tests/data/deploy/check_attention.py";
  auto run = util::run_command({"python3", py.string(), out.string()}, std::chrono::minutes(5));
  ASSERT_TRUE(run);
  EXPECT_EQ(run->exit_code, 0) << run->output;
  // Multi-head, groups of 3, multi-query and a packed qkv projection's strided views: all four through the
  // kernel, k and v as they are.
  EXPECT_NE(run->output.find("\"flash_attention_cpu\": 4"), std::string::npos) << run->output;
}

TEST(Export, LeavesOutKernelsNoFasterThanPyTorchUnlessAll) {
  const auto ws = baseline_workspace("select");
  set_speedup(ws, "rmsnorm_cpu", 2.0);
  set_speedup(ws, "softmax_cpu", 0.5);
  const auto out = fs::temp_directory_path() / "ak_export_select";
  auto r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("softmax_cpu              left out: 0.500x PyTorch"), std::string::npos) << r.output;
  const auto manifest = nlohmann::json::parse(*util::read_file(out / "autokernel_kernels/manifest.json"));
  ASSERT_EQ(manifest["kernels"].size(), 1u);
  EXPECT_EQ(manifest["kernels"][0]["name"], "rmsnorm_cpu");
  EXPECT_FALSE(fs::exists(out / "autokernel_kernels/lib/softmax_cpu.so"));

  // A verify that timed each call shape (faster_in_pytorch written, here empty) with softmax in the package:
  // each call takes the faster of the two, so softmax goes in.
  ASSERT_TRUE(util::write_file_atomic(
      ws / "verify.json",
      R"({"faster_in_pytorch": {}, "kernels": [{"name": "rmsnorm_cpu"}, {"name": "softmax_cpu"}]})"));
  r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(*util::read_file(out / "autokernel_kernels/manifest.json"))["kernels"].size(), 2u);
  ASSERT_TRUE(util::remove_tree(ws / "verify.json"));

  set_speedup(ws, "rmsnorm_cpu", 0.9);
  r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no kernel of"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--all"), std::string::npos) << r.output;
}

TEST(Export, CarriesWhatVerifyTimedSlower) {
  const auto ws = baseline_workspace("eager_only");
  const auto out = fs::temp_directory_path() / "ak_export_eager_only";
  const auto manifest = [&] {
    return nlohmann::json::parse(*util::read_file(out / "autokernel_kernels/manifest.json"));
  };
  auto r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(manifest().contains("eager_only")) << "no verify.json: every type runs inside torch.compile";

  ASSERT_TRUE(util::write_file_atomic(ws / "verify.json", R"({"passed": true, "eager_only": ["softmax"]})"));
  r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(manifest()["eager_only"], nlohmann::json::array({"softmax"}));
  EXPECT_NE(r.output.find("left to inductor (verify timed them slower there): softmax"), std::string::npos) << r.output;

  ASSERT_TRUE(util::write_file_atomic(
      ws / "verify.json",
      R"({"passed": true, "faster_in_pytorch": {"linear": ["bfloat16[2048,1280] bfloat16[1280,1280] None"],
          "softmax": [], "matmul": [3]}})"));
  r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(manifest()["faster_in_pytorch"],
            nlohmann::json::parse(R"({"linear": ["bfloat16[2048,1280] bfloat16[1280,1280] None"]})"))
      << "an empty list or one that is not of strings is left out";
  EXPECT_NE(r.output.find("linear: 1 call shape(s) left to PyTorch"), std::string::npos) << r.output;
  EXPECT_FALSE(manifest().contains("unscreened_inside_compile"));

  ASSERT_TRUE(util::write_file_atomic(
      ws / "verify.json",
      R"({"passed": true, "faster_in_pytorch": {"linear": ["bfloat16[2048,1280] bfloat16[1280,1280] None"]},
          "unscreened_inside_compile": ["matmul", 7]})"));
  r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(manifest()["unscreened_inside_compile"], nlohmann::json::array({"matmul"})) << "names only";
  EXPECT_NE(r.output.find("inside torch.compile, every call kept (verify timed the compiled model faster so): matmul"),
            std::string::npos)
      << r.output;

  ASSERT_TRUE(util::write_file_atomic(ws / "verify.json", "{not json"));  // a torn file decides nothing
  r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(manifest().contains("eager_only"));
  EXPECT_FALSE(manifest().contains("faster_in_pytorch"));
}

TEST(Export, AFolderThatIsNoWorkspaceIsAClearError) {
  const auto dir = fs::temp_directory_path() / "ak_not_a_workspace";
  fs::create_directories(dir);
  const auto r = test::autokernel({"export", "--workspace", dir.string(), "--out", (dir / "out").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("is not an autokernel workspace"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ak
