// The CUDA matmul starter's per-call tile and split-K choice (H_BN=0, H_SPLIT_K=0, the defaults) and its fixed
// settings: the starter compiles for sm_90a with every value of both knobs and beside the other Hopper knobs that
// change what the split or the plan can use (H_PERSISTENT=0, H_CONSUMERS=1 with H_MI=2, H_STAGES=2, H_CLUSTER=2,
// H_PINGPONG=1). The plan itself is a constexpr function of the file, checked at those compiles by its
// static_asserts (the shapes and picks listed beside it, at an H100's 132 SMs). They run on the GPU machine:
// tests/gpu/test_gpu_matmul_split.cpp. And the plan as a function of shape and device size, run on the CPU.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "backends/cuda_arch.hpp"
#include "backends/native.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/resources.hpp"

namespace ak {
namespace {

using Knobs = std::map<std::string, std::string>;

class MatmulTilePlanKnobs : public ::testing::TestWithParam<Knobs> {};

TEST_P(MatmulTilePlanKnobs, CudaStarterCompilesForHopper) {
  auto spec = backends::nvcc_spec("90a");
  if (!spec) GTEST_SKIP() << spec.error().message;
  auto c = backends::load_candidate(test::starter("matmul", "cuda.cu"), "", GetParam());
  ASSERT_TRUE(c.has_value()) << c.error().message;
  auto so = backends::native::compile(*c, *spec);
  EXPECT_TRUE(so.has_value()) << (so ? "" : so.error().message);
}

INSTANTIATE_TEST_SUITE_P(
    Knobs, MatmulTilePlanKnobs,
    ::testing::Values(Knobs{}, Knobs{{"H_BN", "0"}, {"H_SPLIT_K", "1"}}, Knobs{{"H_BN", "256"}, {"H_SPLIT_K", "1"}},
                      Knobs{{"H_BN", "128"}, {"H_SPLIT_K", "1"}}, Knobs{{"H_BN", "256"}, {"H_SPLIT_K", "2"}},
                      Knobs{{"H_BN", "256"}, {"H_SPLIT_K", "4"}}, Knobs{{"H_BN", "128"}, {"H_SPLIT_K", "2"}},
                      Knobs{{"H_BN", "128"}, {"H_SPLIT_K", "4"}}, Knobs{{"H_SPLIT_K", "2"}, {"H_PERSISTENT", "0"}},
                      Knobs{{"H_SPLIT_K", "4"}, {"H_CONSUMERS", "1"}, {"H_MI", "2"}},
                      Knobs{{"H_SPLIT_K", "2"}, {"H_STAGES", "2"}}, Knobs{{"H_SPLIT_K", "2"}, {"H_CLUSTER", "2"}},
                      Knobs{{"H_SPLIT_K", "4"}, {"H_PINGPONG", "1"}}),
    [](const auto& info) {
      std::string name;
      for (const auto& [k, v] : info.param) name += (name.empty() ? "" : "_") + k + v;
      return name.empty() ? std::string("defaults") : name;
    });

// H_BN=256 with H_MI=2 would hold 256 accumulators per thread: the knob's documented refusal still stands with the
// per-call plan in place (a compile error, not a spilling kernel).
TEST(MatmulTilePlan, TheSpillingTileIsRefusedAtCompileTime) {
  auto spec = backends::nvcc_spec("90a");
  if (!spec) GTEST_SKIP() << spec.error().message;
  auto c = backends::load_candidate(test::starter("matmul", "cuda.cu"), "", Knobs{{"H_BN", "256"}, {"H_MI", "2"}});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  auto so = backends::native::compile(*c, *spec);
  ASSERT_FALSE(so.has_value());
  EXPECT_NE(so.error().message.find("H_BN=256 with H_MI=2 spills"), std::string::npos) << so.error().message;
}

// The plan as a function: a host program including the starter (nvcc, no GPU needed: it calls no CUDA API) picks
// for shapes and device sizes given on its command line ("M,N,K,slots1,slots2,slots4": the blocks that run at once
// unsplit and with clusters of 2 and 4) among the defaults' six options, and prints "bn split" per shape.
std::vector<std::string> plan_picks(const std::vector<std::string>& cases, std::string* error) {
  const auto nvcc = backends::native::find_tool("AUTOKERNEL_NVCC", "nvcc", "/usr/local/cuda/bin/nvcc");
  if (nvcc.empty()) {
    *error = "nvcc not found";
    return {};
  }
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ak_matmul_plan_{}", ::getpid());
  std::filesystem::create_directories(dir);
  const auto src = dir / "plan_main.cu", exe = dir / "plan_main";
  std::ofstream(src) << "#include \"" << test::starter("matmul", "cuda.cu").string() << "\"\n"
                     << R"(
#include <cstdio>
#include <cstdlib>
int main(int argc, char** argv) {
  for (int a = 1; a < argc; ++a) {
    long long v[6];
    if (std::sscanf(argv[a], "%lld,%lld,%lld,%lld,%lld,%lld", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return 2;
    const plan::Option o[] = {{256, 1, (int)v[3]}, {256, 2, (int)v[4]}, {256, 4, (int)v[5]},
                              {128, 1, (int)v[3]}, {128, 2, (int)v[4]}, {128, 4, (int)v[5]}};
    int n = 0;
    plan::Option usable[6];
    for (const auto& x : o) {  // as the host: no more blocks in a split than K slices
      if (x.split <= (v[2] + 63) / 64) usable[n++] = x;
    }
    const auto p = usable[plan::best(v[0], v[1], v[2], 128, true, usable, n)];
    std::printf("%d %d\n", p.bn, p.split);
  }
  return 0;
}
)";
  std::vector<std::string> argv = {
      nvcc, "-std=c++17", "-arch=sm_90a", "-I" + util::kernel_include_dir().string(), src.string(), "-o", exe.string()};
  auto built = util::run_command(argv, std::chrono::minutes(5));
  if (!built || built->exit_code != 0) {
    *error = built ? built->output : built.error().message;
    return {};
  }
  std::vector<std::string> run = {exe.string()};
  run.insert(run.end(), cases.begin(), cases.end());
  auto r = util::run_command(run, std::chrono::minutes(1));
  (void)util::remove_tree(dir);
  if (!r || r->exit_code != 0) {
    *error = r ? r->output : r.error().message;
    return {};
  }
  std::vector<std::string> picks;
  std::istringstream lines(r->output);
  for (std::string line; std::getline(lines, line);) picks.push_back(line);
  return picks;
}

// Expected picks computed by a separate replica of the rule (bench/fit_split_plan.py, from the comment beside the
// plan), so the two agree on what the comment says: a split only where too few tiles leave most SMs idle (it costs
// each block 8-13 us), 256-wide tiles unless 128 wastes less, fewer resident clusters move the choice off a second
// wave.
TEST(MatmulTilePlan, PicksTheTileAndSplitTheRuleSays) {
  auto spec = backends::nvcc_spec("90a");
  if (!spec) GTEST_SKIP() << spec.error().message;
  const std::vector<std::pair<std::string, std::string>> table = {
      {"4096,512,4096,132,132,128", "128 1"},    // 512 tokens: 128 narrow tiles in one wave, no split
      {"512,4096,4096,132,132,128", "128 1"},    // the same with M the tokens
      {"4096,256,4096,132,132,128", "128 2"},    // 256 tokens: 64 narrow tiles -> 128 blocks
      {"4096,128,4096,132,132,128", "128 4"},    // 128 tokens: a 256-wide tile would be half padding
      {"4096,64,4096,132,132,128", "128 4"},     // fewer tokens than a tile
      {"1024,512,4096,132,132,128", "128 4"},    // a 1024-wide k/v projection
      {"1024,1024,4096,132,132,128", "128 2"},   // 64 narrow tiles -> 128 blocks
      {"1000,200,4104,132,132,128", "128 4"},    // ragged, K past a slice
      {"14336,128,4096,132,132,128", "128 1"},   // 112 narrow tiles fill the GPU without a split
      {"128256,128,4096,132,132,128", "128 1"},  // an LM head at 128 tokens
      {"14336,512,4096,132,132,128", "256 1"},   // 224 tiles: two waves either way
      {"32000,512,4096,132,132,128", "256 1"},   // an LM head at 512 tokens
      {"4096,1024,4096,132,132,128", "256 1"},   // 128 tiles
      {"4096,4096,4096,132,132,128", "256 1"},   // nothing changes at large shapes
      {"2048,2048,16384,132,132,128", "256 1"},  // 128 tiles, deep K
      {"4096,512,128,132,132,128", "128 1"},     // K of two slices: 128 narrow tiles in one wave
      {"4096,512,4096,132,120,96", "128 1"},     // too few resident pairs for 128 blocks: a second wave
      {"4096,128,4096,132,120,96", "128 2"},     // too few resident quads: pairs
      {"1024,512,4096,132,120,96", "128 2"},     // 32 narrow tiles x 2 = 64 blocks, fewer quads resident
      {"4096,512,4096,114,114,112", "256 1"},    // 114 SMs: 64 wide tiles in one wave (128 narrow would take two)
  };
  std::vector<std::string> cases;
  for (const auto& [c, pick] : table) cases.push_back(c);
  std::string error;
  const auto picks = plan_picks(cases, &error);
  ASSERT_EQ(picks.size(), table.size()) << error;
  for (std::size_t i = 0; i < table.size(); ++i) EXPECT_EQ(picks[i], table[i].second) << table[i].first;
}

}  // namespace
}  // namespace ak
