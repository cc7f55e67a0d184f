// model.json beside a workspace kernel: its shapes must fit the type's dims, and a type that gained dims
// still reads the shapes an older extract wrote.
#include <gtest/gtest.h>

#include <unistd.h>

#include "harness/model_shapes.hpp"
#include "util/fs.hpp"

namespace ak::harness {
namespace {

std::filesystem::path kernel_with_model_json(const std::string& name, const std::string& json) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ak_model_shapes_{}_{}", name, ::getpid());
  (void)util::remove_tree(dir);
  std::filesystem::create_directories(dir);
  EXPECT_TRUE(util::write_file_atomic(dir / "model.json", json));
  return dir / "kernel.cpp";
}

TEST(ModelShapes, AnOlderRotaryShapeOfFourDimsReadsAsKLikeQInterleaved) {
  const auto kernel = kernel_with_model_json(
      "rotary_old", R"({"type": "rotary_embedding", "dtype": "bf16", "share": 0.1,
                        "shapes": [{"label": "model_1", "dims": [1, 32, 2048, 128]},
                                   {"label": "model_2", "dims": [1, 32, 2048, 128, 8, 1]}]})");
  auto m = read_model_shapes(kernel);
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_TRUE(m->has_value());
  ASSERT_EQ((*m)->shapes.size(), 2u);
  EXPECT_EQ((*m)->shapes[0].dims, (std::vector<int64_t>{1, 32, 2048, 128, 32, 0}));
  EXPECT_EQ((*m)->shapes[1].dims, (std::vector<int64_t>{1, 32, 2048, 128, 8, 1}));
  (void)util::remove_tree(kernel.parent_path());
}

TEST(ModelShapes, AShapeOfNeitherFormIsAnError) {
  const auto kernel = kernel_with_model_json(
      "rotary_bad", R"({"type": "rotary_embedding", "shapes": [{"label": "model_1", "dims": [1, 32, 2048, 128, 8]}]})");
  auto m = read_model_shapes(kernel);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("does not fit rotary_embedding (dims B,H,S,D,HKV,style)"), std::string::npos)
      << m.error().message;
  (void)util::remove_tree(kernel.parent_path());
}

}  // namespace
}  // namespace ak::harness
