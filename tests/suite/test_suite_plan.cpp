// The suite's request checks, in process: --configs and --types parsing, the defaults, and every mistake
// the command refuses with exit code 2 before anything runs.
#include <gtest/gtest.h>

#include "catalog/kernel_type.hpp"
#include "suite/plan.hpp"
#include "test_support.hpp"

namespace ak {
namespace {

std::string error_of(const Expected<suite::Plan>& p) { return p ? "" : p.error().message; }

suite::SuiteRequest small(const std::string& configs) {
  suite::SuiteRequest r;
  r.configs = *suite::parse_configs(configs);
  r.kernels_dir = test::source_dir() / "kernels";
  return r;
}

TEST(SuiteConfigs, ParseEachTypesDimsInItsOwnOrder) {
  const auto c = suite::parse_configs("softmax:64x128, matmul:256x512x128,flash_attention:1x2x64x32x1,softmax:8x16");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->size(), 3u);  // per type, in the order first named
  EXPECT_EQ(c->at(0).type, "softmax");
  ASSERT_EQ(c->at(0).shapes.size(), 2u);
  EXPECT_EQ(c->at(0).shapes[0].dims, (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(c->at(0).shapes[0].label, "64x128");
  EXPECT_EQ(c->at(0).shapes[1].dims, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(c->at(1).type, "matmul");
  EXPECT_EQ(c->at(1).shapes[0].dims, (std::vector<int64_t>{256, 512, 128}));
  EXPECT_EQ(c->at(2).type, "flash_attention");
  EXPECT_EQ(c->at(2).shapes[0].dims, (std::vector<int64_t>{1, 2, 64, 32, 1}));
}

TEST(SuiteConfigs, AttentionTakesAnOptionalKvHeadCount) {
  const auto c = suite::parse_configs("flash_attention:1x32x2048x128x1x8,flash_attention:1x32x2048x128x1");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->at(0).shapes[0].dims, (std::vector<int64_t>{1, 32, 2048, 128, 1, 8}));
  EXPECT_EQ(c->at(0).shapes[1].dims, (std::vector<int64_t>{1, 32, 2048, 128, 1}));
}

TEST(SuiteConfigs, DecodeAttentionTakesTheValidLengthAndAnOptionalKvHeadCount) {
  const auto c = suite::parse_configs("decode_attention:8x32x4096x128x4000x8,decode_attention:1x8x64x64x1");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->at(0).shapes[0].dims, (std::vector<int64_t>{8, 32, 4096, 128, 4000, 8}));
  EXPECT_EQ(c->at(0).shapes[1].dims, (std::vector<int64_t>{1, 8, 64, 64, 1}));  // L = 1: the new token alone
}

TEST(SuiteConfigs, MatmulsFormBiasAndResidualDimsMayBeZero) {
  // linear 0 (A B as given), a bias and no residual; a residual without a bias; F.linear's y^T = W x^T (form 2).
  const auto c = suite::parse_configs("matmul:2048x3840x1280x0x1,matmul:2048x4096x4096x1x0x1,matmul:50257x64x32x2");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->at(0).shapes.size(), 3u);
  EXPECT_EQ(c->at(0).shapes[1].dims, (std::vector<int64_t>{2048, 4096, 4096, 1, 0, 1}));
}

TEST(SuiteConfigs, RefuseMalformedItemsAndSayWhy) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"softmax", "expected TYPE:DIMS"},
      {"softmax:64", "softmax takes 2 dims (M,N), got 1"},
      {"matmul:64x64", "matmul takes 3 to 6 dims (M,N,K[,linear[,bias[,residual]]]), got 2"},
      {"matmul:64x64x64x3", "the 4th dim, linear, is 0, 1 or 2"},
      {"matmul:64x64x64x1x2", "bias must be 0 or 1"},
      {"matmul:64x64x64x1x0x2", "residual must be 0 or 1"},
      {"matmul:64x64x64x2x0x1", "residual is C's shape: not with linear 2"},
      {"softmax:64xabc", "'abc' is not a size"},
      {"softmax:64x-1", "'-1' is not a size"},
      {"softmax:64xx128", "DIMS are sizes joined by 'x'"},
      {"softmax:0x128", "M must be positive"},
      {"flash_attention:1x2x64x32x2", "causal must be 0 or 1"},
      {"flash_attention:1x2x64x32", "flash_attention takes 5 to 6 dims (B,H,S,D,causal[,HKV]), got 4"},
      {"flash_attention:1x8x64x32x1x2x1", "takes 5 to 6 dims"},
      {"flash_attention:1x8x64x32x1x3", "HKV=3 must be at least 1 and divide H=8"},
      {"flash_attention:1x8x64x32x1x0", "HKV must be positive"},
      {"rotary_embedding:1x2x16x7", "D=7 must be even"},
      {"rotary_embedding:1x2x16", "rotary_embedding takes 4 to 6 dims (B,H,S,D[,HKV,style]), got 3"},
      {"rotary_embedding:1x2x16x8x3", "HKV=3 must be at least 1 and divide H=2"},
      {"rotary_embedding:1x2x16x8x2x2", "style must be 0 or 1"},
      {"rotary_embedding:1x2x16x8x0x1", "HKV must be positive"},
      {"decode_attention:1x32x512x128x513x8", "L=513 must be in 1..S=512"},
      {"decode_attention:1x32x512x128x0x8", "L must be positive"},
      {"decode_attention:1x32x512x128x512x5", "HKV=5 must be at least 1 and divide H=32"},
      {"decode_attention:1x32x512x128", "decode_attention takes 5 to 6 dims (B,H,S,D,L[,HKV]), got 4"},
      {"convolution:3x3", "unknown kernel type 'convolution'"},
      {"", "names no configuration"},
  };
  for (const auto& [text, why] : cases) {
    const auto c = suite::parse_configs(text);
    ASSERT_FALSE(c) << text;
    EXPECT_NE(c.error().message.find(why), std::string::npos) << text << " -> " << c.error().message;
  }
}

TEST(SuiteConfigs, ARotaryShapeOfFourDimsIsTheOlderFormWithKLikeQInterleaved) {
  const auto c = suite::parse_configs("rotary_embedding:1x4x16x8,rotary_embedding:1x4x16x8x2x1");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->at(0).shapes.size(), 2u);
  EXPECT_EQ(c->at(0).shapes[0].dims, (std::vector<int64_t>{1, 4, 16, 8}));
  EXPECT_EQ(c->at(0).shapes[0].label, "1x4x16x8");  // as typed
  EXPECT_EQ(c->at(0).shapes[1].dims, (std::vector<int64_t>{1, 4, 16, 8, 2, 1}));
  // The catalogue reads the short form as k with q's heads, interleaved pairs.
  const auto* rope = *catalog::find_type("rotary_embedding");
  const auto p = rope->make_problem({c->at(0).shapes[0], at::kFloat, "random", 1}, at::kCPU);
  EXPECT_EQ(p.inputs[1].size(1), 4);
  EXPECT_EQ(p.scalars, std::vector<double>{0.0});
}

TEST(SuiteConfigs, TypesAreKnownNamesWithoutRepeats) {
  EXPECT_EQ(*suite::parse_types("softmax, rmsnorm,softmax"), (std::vector<std::string>{"softmax", "rmsnorm"}));
  const auto bad = suite::parse_types("softmax,convolution");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown kernel type 'convolution'"), std::string::npos) << bad.error().message;
}

TEST(SuiteConfigs, EveryTypeHasDefaultShapesItsCatalogAccepts) {
  for (const auto& t : catalog::all_types()) {
    const auto shapes = suite::default_shapes(std::string(t->name()));
    EXPECT_FALSE(shapes.empty()) << t->name();
    for (const auto& s : shapes) {
      // The same check --configs makes: as many dims as the type's dims_doc names.
      const auto text = std::string(t->name()) + ":" + catalog::shape_string(s.dims);
      EXPECT_TRUE(suite::parse_configs(text)) << text;
    }
  }
  EXPECT_EQ(suite::default_dtypes(), (std::vector<std::string>{"f16", "bf16"}));
}

TEST(SuitePlan, OnAGpuTheDefaultsAreEveryTypeAtItsShapesInCudaAndTriton) {
  suite::SuiteRequest r;
  r.kernels_dir = test::source_dir() / "kernels";
  const auto p = suite::make_plan(r, /*gpu=*/true);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->types.size(), catalog::all_types().size());
  EXPECT_EQ(p->backends, (std::vector<std::string>{"cuda", "triton"}));
  EXPECT_EQ(p->dtypes, (std::vector<std::string>{"f16", "bf16"}));
  EXPECT_EQ(p->jobs.size(), 2 * catalog::all_types().size());
  EXPECT_EQ(p->configs.at("matmul").size(), 9u);  // 3 cubes, 3 LLaMA-7B projections, 3 with a residual add
  EXPECT_EQ(p->jobs.front().path, test::source_dir() / "kernels" / p->jobs.front().type / "cuda.cu");
}

TEST(SuitePlan, WithoutAGpuTheDefaultConfigsAreRefusedAndTheCpuBackendIsTheDefault) {
  auto r = small("softmax:64x128");
  r.types = {"softmax", "rmsnorm"};
  EXPECT_NE(error_of(suite::make_plan(r, false)).find("the default configs of rmsnorm are GPU-sized"),
            std::string::npos)
      << error_of(suite::make_plan(r, false));
  r.types = {};
  const auto p = suite::make_plan(r, false);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->types, (std::vector<std::string>{"softmax"}));  // the types --configs names
  EXPECT_EQ(p->backends, (std::vector<std::string>{"cpu"}));
}

TEST(SuitePlan, OnAGpuTheCpuBackendNeedsSmallConfigsToo) {
  suite::SuiteRequest r;
  r.kernels_dir = test::source_dir() / "kernels";
  r.types = {"softmax"};
  r.backends = {"cuda", "cpu"};
  EXPECT_NE(error_of(suite::make_plan(r, true)).find("the cpu backend at the default configs of softmax"),
            std::string::npos)
      << error_of(suite::make_plan(r, true));
  r.configs = *suite::parse_configs("softmax:64x128");
  EXPECT_TRUE(suite::make_plan(r, true));
}

TEST(SuitePlan, RefusesWhatCannotRun) {
  auto r = small("softmax:64x128");
  r.backends = {"cuda"};
  EXPECT_NE(error_of(suite::make_plan(r, false)).find("the cuda backend needs an NVIDIA GPU"), std::string::npos);
  r.backends = {"metal"};
  EXPECT_NE(error_of(suite::make_plan(r, false)).find("unknown backend 'metal'"), std::string::npos);
  r = small("softmax:64x128");
  r.kernels_dir = "/nonexistent/kernels";
  EXPECT_NE(error_of(suite::make_plan(r, false)).find("no kernels directory /nonexistent/kernels"), std::string::npos);
  r = small("softmax:64x128");
  r.types = {"rmsnorm"};
  r.configs.push_back({"rmsnorm", {{"32x256", {32, 256}}}});
  EXPECT_NE(error_of(suite::make_plan(r, false)).find("--configs gives shapes for softmax, which --types leaves out"),
            std::string::npos);
  r = small("softmax:64x128");
  r.dtypes = {"f8"};
  EXPECT_NE(error_of(suite::make_plan(r, false)).find("unknown dtype 'f8'"), std::string::npos);
}

TEST(SuitePlan, KnobsMustNameAPlannedKernelAndADeclaredKnob) {
  auto r = small("softmax:64x128");
  r.knobs = {"softmax.cpu.LANES=2"};
  const auto p = suite::make_plan(r, false);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->jobs.at(0).knobs, (std::map<std::string, std::string>{{"LANES", "2"}}));
  r.knobs = {"softmax.cpu.NOPE=2"};
  EXPECT_NE(error_of(suite::make_plan(r, false)).find("unknown knob 'NOPE'"), std::string::npos)
      << error_of(suite::make_plan(r, false));
  r.knobs = {"rmsnorm.cpu.LANES=2"};
  EXPECT_NE(error_of(suite::make_plan(r, false)).find("this run has no rmsnorm kernel in the cpu backend"),
            std::string::npos);
  r.knobs = {"LANES=2"};
  EXPECT_NE(error_of(suite::make_plan(r, false)).find("expected TYPE.BACKEND.NAME=VALUE"), std::string::npos);
}

TEST(SuitePlan, DtypeAliasesBecomeTheirShortNames) {
  auto r = small("softmax:64x128");
  r.dtypes = {"float16", "bf16", "fp16"};
  const auto p = suite::make_plan(r, false);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->dtypes, (std::vector<std::string>{"f16", "bf16"}));
}

}  // namespace
}  // namespace ak
