// model.json, written and read by the workspace part only: what extract fills in comes back field by field,
// a file that does not parse is an error naming it, and the timing dtype follows the model's.
#include "workspace/model_json.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "util/fs.hpp"

namespace ak::workspace {
namespace {

std::filesystem::path fresh(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ak_model_json_{}_{}", name, ::getpid());
  (void)util::remove_tree(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(ModelJson, WhatIsWrittenIsReadBackAndSetsTheTimingDtype) {
  const auto dir = fresh("round_trip");
  ModelJson m;
  m.type = "rmsnorm";
  m.dims_doc = "M,N";
  ModelShape s;
  s.label = "model_1";
  s.dims = {2048, 4096};
  s.dtype = "bf16";
  s.share = 0.008;
  s.calls = 17;
  s.modules = {"model.layers.0.input_layernorm"};
  m.shapes = {s};
  m.shapes_in_profile = 3;
  m.dtype = "bf16";
  m.share = 0.008;
  m.share_uncompiled = 0.15;
  m.time_us = 136;
  m.basis = "gpu";
  m.model = "hf:llama";
  m.device = "NVIDIA H100 80GB HBM3";
  ASSERT_TRUE(write_model_json(dir, m));
  ASSERT_TRUE(util::write_file_atomic(dir / "kernel.cu", "// kernel\n"));
  const auto back = read_model_json(dir / "kernel.cu");
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(*back);
  EXPECT_EQ((*back)->to_json(), m.to_json());
  ASSERT_EQ((*back)->shapes.size(), 1u);
  EXPECT_EQ((*back)->shapes[0].dims, s.dims);
  EXPECT_EQ((*back)->shapes[0].modules, s.modules);
  EXPECT_DOUBLE_EQ((*back)->share_uncompiled, 0.15);
  EXPECT_EQ(timing_dtype_of(dir / "kernel.cu"), "bf16");

  // Without one, or with a dtype no kernel takes, the timing dtype is f16.
  const auto none = fresh("none");
  EXPECT_FALSE(read_model_json(none / "kernel.cu").value());
  EXPECT_EQ(timing_dtype_of(none / "kernel.cu"), "f16");
  m.dtype = "int8";
  ASSERT_TRUE(write_model_json(dir, m));
  EXPECT_EQ(timing_dtype_of(dir / "kernel.cu"), "f16");
}

TEST(ModelJson, AFileThatDoesNotParseIsAnErrorNamingIt) {
  const auto dir = fresh("bad");
  ASSERT_TRUE(util::write_file_atomic(dir / "model.json", R"({"type": "rmsnorm", "shapes": [{"dims": [1]}]})"));
  const auto r = read_model_json(dir);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find((dir / "model.json").string()), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().hint.find("extract"), std::string::npos);
}

}  // namespace
}  // namespace ak::workspace
