// model.json beside a workspace kernel: its shapes are checked against the type's dims (dims_doc), the
// bracketed trailing ones optional (flash_attention's HKV; rotary's HKV and style), so a type that
// gained dims still reads the shapes an older extract wrote.
#include <gtest/gtest.h>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "harness/model_shapes.hpp"
#include "util/fs.hpp"

namespace ak::harness {
namespace {

/// A folder holding kernel.cpp and a model.json of `type` with one shape of `dims`; returns the kernel.
std::filesystem::path kernel_with(const std::string& name, const std::string& type, std::vector<int64_t> dims) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ak_model_shapes_{}_{}", name, ::getpid());
  (void)util::remove_tree(dir);
  std::filesystem::create_directories(dir);
  const nlohmann::json j = {{"type", type}, {"dtype", "bf16"}, {"shapes", {{{"label", "model_1"}, {"dims", dims}}}}};
  EXPECT_TRUE(util::write_file_atomic(dir / "model.json", j.dump()));
  EXPECT_TRUE(util::write_file_atomic(dir / "kernel.cpp", "// kernel\n"));
  return dir / "kernel.cpp";
}

TEST(ModelShapes, ShapesMayLeaveOutTheOptionalDims) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> cases = {
      {"flash_attention", {1, 32, 2048, 128, 1}},
      {"flash_attention", {1, 32, 2048, 128, 1, 8}},
      {"rotary_embedding", {1, 32, 2048, 128}},  // the older form: k like q, interleaved
      {"rotary_embedding", {1, 32, 2048, 128, 8, 1}},
  };
  for (const auto& [type, dims] : cases) {
    const auto kernel = kernel_with("ok", type, dims);
    const auto m = read_model_shapes(kernel);
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_TRUE(m->has_value());
    EXPECT_EQ((*m)->shapes.at(0).dims, dims);
    (void)util::remove_tree(kernel.parent_path());
  }
}

TEST(ModelShapes, ShapesThatDoNotFitTheTypeAreAnErrorNamingTheFile) {
  const std::vector<std::tuple<std::string, std::vector<int64_t>, std::string>> cases = {
      {"flash_attention", {1, 32, 2048, 128}, "does not fit flash_attention (dims B,H,S,D,causal[,HKV])"},
      {"flash_attention", {1, 32, 2048, 128, 1, 8, 1}, "does not fit flash_attention"},
      {"flash_attention", {1, 32, 2048, 128, 1, 5}, "HKV=5 must be at least 1 and divide H=32"},
      {"rotary_embedding", {1, 32, 2048, 128, 8, 2}, "style=2 must be 0 (interleaved) or 1 (rotate-half)"},
      {"rotary_embedding", {1, 32, 2048}, "does not fit rotary_embedding (dims B,H,S,D[,HKV,style])"},
      {"matmul", {64, 64}, "does not fit matmul (dims M,N,K[,linear[,bias[,residual]]])"},
      {"matmul", {97, 40, 32, 2, 1}, "bias is per column of C"},
  };
  for (const auto& [type, dims, why] : cases) {
    const auto kernel = kernel_with("bad", type, dims);
    const auto m = read_model_shapes(kernel);
    ASSERT_FALSE(m) << type;
    EXPECT_NE(m.error().message.find(why), std::string::npos) << m.error().message;
    EXPECT_NE(m.error().message.find((kernel.parent_path() / "model.json").string()), std::string::npos);
    (void)util::remove_tree(kernel.parent_path());
  }
}

}  // namespace
}  // namespace ak::harness
