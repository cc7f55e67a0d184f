// On a GPU: the tensor-core paths of the CUDA matmul, fused_mlp and flash_attention starters at shapes
// where every tile overhangs an edge (on Hopper: the TMA + wgmma kernels, whose loads zero-fill and whose
// stores clip there). The catalogue's odd shapes take the SIMT fallback (N or K not a multiple of 8), so
// these are multiples of 8 that no tile size divides. Every timed call is checked against the oracle.
// Skipped where there is no GPU.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "backends/backend.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

TEST(GpuTileEdges, TensorCoreKernelsAreRightWhereTilesOverhangEveryEdge) {
  if (!backends::cuda_available()) GTEST_SKIP() << "no GPU here";
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ak_gpu_edges_{}", ::getpid());
  std::filesystem::create_directories(dir);
  const auto out = dir / "out.json";
  // matmul M x N x K: M, N, K past a 128/256-row tile and a 64-deep K slice. fused_mlp M x E x F.
  // flash_attention B x H x S x D x causal [x HKV]: S past the 128-query and 128-key tiles, both head dims,
  // and grouped-query attention (groups of 3, and multi-query) where the K/V tiles come from the group's head.
  const std::string configs =
      "matmul:200x136x72,matmul:136x264x8,fused_mlp:100x64x136,fused_mlp:300x520x200,"
      "flash_attention:1x2x200x64x1,flash_attention:2x3x130x128x0,flash_attention:1x1x1000x128x1,"
      "flash_attention:2x6x200x64x1x2,flash_attention:2x4x130x128x0x1";
  const auto r = test::autokernel({"suite", "--configs", configs, "--backends", "cuda", "--no-compile", "--quick",
                                   "--case-timeout", "120", "--json", out.string()},
                                  std::chrono::minutes(15));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto text = util::read_file(out);
  ASSERT_TRUE(text) << r.output;
  const auto doc = nlohmann::json::parse(*text);
  ASSERT_EQ(doc["rows"].size(), 18u);  // 9 configurations x f16, bf16
  for (const auto& row : doc["rows"]) {
    SCOPED_TRACE(row["type"].get<std::string>() + " " + row["dtype"].get<std::string>());
    EXPECT_EQ(row["backends"]["cuda"]["status"], "passed") << row.dump(1);
    EXPECT_GT(row["backends"]["cuda"].value("us", 0.0), 0) << row.dump(1);
  }
  (void)util::remove_tree(dir);
}

}  // namespace
}  // namespace ak
