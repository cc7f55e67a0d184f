// Agent-driven mode: `autokernel keep` judges an edit as one experiment, `autokernel revert` drops it.
#include <gtest/gtest.h>

#include <fstream>

#include "workspace/results_log.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

namespace ak {
namespace {

using test::autokernel;

void replace_in_file(const std::filesystem::path& p, const std::string& from, const std::string& to) {
  auto text = *util::read_file(p);
  text.replace(text.find(from), from.size(), to);
  std::ofstream(p) << text;
}

TEST(KeepRevert, KeepJudgesAnEditAndRevertDropsOneAndEveryStepIsARow) {
  const auto ws = std::filesystem::temp_directory_path() / "ak_ws_keep";
  (void)util::remove_tree(ws);
  const auto file = ws / "kernels/rmsnorm_cpu/kernel.cpp";
  ASSERT_EQ(autokernel({"run", "--workspace", ws.string(), "--kernel",
                        (test::source_dir() / "tests/data/loop_kernels/rmsnorm_repeat.cpp").string(),
                        "--max-experiments", "1"})
                .exit_code,
            0);

  // Nothing edited: nothing to keep.
  auto r = autokernel({"keep", "--workspace", ws.string(), "--kernel", "rmsnorm_cpu"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("nothing to keep"), std::string::npos) << r.output;

  // A real gain is kept and committed.
  replace_in_file(file, "@knob REPEAT=8", "@knob REPEAT=1");
  r = autokernel({"keep", "--workspace", ws.string(), "--kernel", "rmsnorm_cpu", "--description", "compute once"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("kept"), std::string::npos) << r.output;

  // A wrong edit is judged incorrect, reverted, and the file is back to the kept version.
  const auto kept_text = *util::read_file(file);
  replace_in_file(file, "  return 0;", "  ak_store(y, 0, 1e4f);\n  return 0;");
  r = autokernel({"keep", "--workspace", ws.string(), "--kernel", "rmsnorm_cpu", "--description", "break it"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(*util::read_file(file), kept_text);

  // revert drops an edit without judging it.
  std::ofstream(file, std::ios::app) << "// an idea abandoned\n";
  EXPECT_EQ(autokernel({"revert", "--workspace", ws.string(), "--kernel", "rmsnorm_cpu"}).exit_code, 0);
  EXPECT_EQ(*util::read_file(file), kept_text);

  const auto rows = *workspace::ResultsLog(ws / "results.tsv").read();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].status, workspace::Status::baseline);
  EXPECT_EQ(rows[1].status, workspace::Status::kept);
  EXPECT_EQ(rows[1].description, "compute once");
  EXPECT_EQ(rows[2].status, workspace::Status::incorrect);
  EXPECT_EQ(rows[3].status, workspace::Status::hand_reverted);
}

TEST(KeepRevert, AnUnknownKernelNameListsTheWorkspacesKernels) {
  const auto ws = std::filesystem::temp_directory_path() / "ak_ws_keep_unknown";
  (void)util::remove_tree(ws);
  ASSERT_EQ(autokernel({"run", "--workspace", ws.string(), "--kernel",
                        (test::source_dir() / "tests/data/loop_kernels/reduce_repeat.cpp").string(),
                        "--max-experiments", "1"})
                .exit_code,
            0);
  const auto r = autokernel({"keep", "--workspace", ws.string(), "--kernel", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no kernel 'nope'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("reduce_cpu"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ak
