// On a GPU: `autokernel profile` attributes GPU kernel time (bf16) of an example model to its kernel
// types, through the ops that launched the kernels. Skipped where there is no GPU.
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "backends/backend.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

TEST(GpuProfile, AttributesTheLlamaExamplesGpuTimeToItsKernelTypes) {
  if (!backends::cuda_available()) GTEST_SKIP() << "no GPU here";
  const auto ws = std::filesystem::temp_directory_path() / fmt::format("ak_gpu_profile_{}", ::getpid());
  (void)util::remove_tree(ws);
  const auto r = test::autokernel(
      {"profile", "--model", (test::source_dir() / "examples/models/llama.py").string() + ":Llama", "--input-shape",
       "2,256", "--dtype", "bf16", "--device", "cuda", "--workspace", ws.string(), "--init-args",
       R"({"dim": 256, "n_layers": 2, "n_heads": 4, "hidden_dim": 688, "vocab_size": 4096})"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(*util::read_file(ws / "profile.json"));
  EXPECT_EQ(j["basis"], "gpu");
  double share = 0, supported = 0;
  std::map<std::string, nlohmann::json> rows;
  for (const auto& k : j["kernels"]) {
    share += k["share"].get<double>();
    if (k["supported"].get<bool>()) supported += k["share"].get<double>();
    rows[k["name"]] = k;
  }
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_GT(supported, 0.5) << r.output;  // the matmuls, attention and the MLPs dominate
  for (const auto* t : {"matmul", "flash_attention", "fused_mlp", "rmsnorm", "rotary_embedding"}) {
    ASSERT_TRUE(rows.contains(t)) << t << "\n" << r.output;
    EXPECT_FALSE(rows[t]["gpu_kernels"].empty()) << t;
    EXPECT_EQ(rows[t]["shapes"][0]["dtype"], "bf16") << t;
  }
  EXPECT_EQ(rows["flash_attention"]["shapes"][0]["dims"], nlohmann::json({2, 4, 256, 64, 1}));
  EXPECT_EQ(rows["fused_mlp"]["shapes"][0]["dims"], nlohmann::json({512, 256, 688}));
  (void)util::remove_tree(ws);
}

}  // namespace
}  // namespace ak
