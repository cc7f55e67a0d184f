// workspace/workspace's `--kernel`: the headers a kernel includes from its folder come with it, and a second
// file for a type and backend the workspace already has is refused before anything is written, unless it
// is the file that kernel came from (resuming with the same command line). Opening it clears the lock files a
// killed git left.
#include <gtest/gtest.h>

#include <unistd.h>

#include "workspace/workspace.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

const std::filesystem::path k_rms = test::source_dir() / "tests/data/loop_kernels/rmsnorm_repeat.cpp";

class Workspace : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir =
        std::filesystem::temp_directory_path() /
        fmt::format("ak_workspace_{}_{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), ::getpid());
    (void)util::remove_tree(m_dir);
    std::filesystem::create_directories(m_dir / "src");
  }
  void TearDown() override {
    if (!HasFailure()) (void)util::remove_tree(m_dir);
  }
  /// A copy of the rmsnorm test kernel in src/, with `extra` after its first line.
  std::string kernel(const std::string& name, const std::string& extra) {
    auto text = *util::read_file(k_rms);
    const auto eol = text.find('\n') + 1;
    text.insert(eol, extra);
    const auto path = m_dir / "src" / name;
    EXPECT_TRUE(util::write_file_atomic(path, text));
    return path.string();
  }
  std::filesystem::path ws() const { return m_dir / "ws"; }
  std::filesystem::path m_dir;
};

auto quiet = [](const std::string&) {};

TEST_F(Workspace, AKernelsQuotedIncludesBesideItComeWithIt) {
  (void)util::write_file_atomic(m_dir / "src/helper.h", "#include \"inner.cuh\"\n#include <cmath>\n");
  (void)util::write_file_atomic(m_dir / "src/inner.cuh", "// inner\n");
  (void)util::write_file_atomic(m_dir / "src/unused.hpp", "// not included\n");
  (void)util::write_file_atomic(m_dir / "src/data.txt", "// included, not a header\n");
  const auto file = kernel("rms.cpp", "#include \"helper.h\"\n#include \"data.txt\"\n#include \"missing.h\"\n");
  auto opened = workspace::Workspace::open(ws(), "t", quiet);
  ASSERT_TRUE(opened) << opened.error().message;
  auto name = (*opened)->add_kernel(file);
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(*name, "rmsnorm_cpu");
  const auto dir = ws() / "kernels/rmsnorm_cpu";
  EXPECT_EQ(util::read_file(dir / "helper.h").value_or(""), "#include \"inner.cuh\"\n#include <cmath>\n");
  EXPECT_EQ(util::read_file(dir / "inner.cuh").value_or(""), "// inner\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "unused.hpp"));
  EXPECT_FALSE(std::filesystem::exists(dir / "data.txt"));
  // Committed with the kernel.
  EXPECT_EQ(test::git(ws(), {"status", "--porcelain"}), "");
  EXPECT_EQ(test::git(ws(), {"show", "--name-only", "--format=", "HEAD"}),
            "kernels/rmsnorm_cpu/helper.h\nkernels/rmsnorm_cpu/inner.cuh\nkernels/rmsnorm_cpu/kernel.cpp");
}

TEST_F(Workspace, ASecondFileForAKernelItHasIsRefusedUnlessItIsTheSameFile) {
  const auto a = kernel("a.cpp", "");
  const auto same = kernel("same.cpp", "");
  const auto b = kernel("b.cpp", "// another version\n");
  // On one command line: the same content twice is one kernel; two different files are refused.
  EXPECT_TRUE(workspace::Workspace::check_new_kernels(ws(), {a, same}));
  auto both = workspace::Workspace::check_new_kernels(ws(), {a, b});
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("are both rmsnorm_cpu"), std::string::npos) << both.error().message;
  EXPECT_NE(both.error().hint.find("another --workspace"), std::string::npos) << both.error().hint;

  {
    auto opened = workspace::Workspace::open(ws(), "t", quiet);
    ASSERT_TRUE(opened);
    ASSERT_TRUE((*opened)->add_kernel(a));
    // Its kernel improves (as kept experiments do): the file it came from is still the same file.
    auto text = *util::read_file(ws() / "kernels/rmsnorm_cpu/kernel.cpp");
    ASSERT_TRUE(util::write_file_atomic(ws() / "kernels/rmsnorm_cpu/kernel.cpp", text + "// kept\n"));
    ASSERT_TRUE((*opened)->repo().commit({"kernels/rmsnorm_cpu/kernel.cpp"}, "exp 1: better"));
  }
  EXPECT_TRUE(workspace::Workspace::check_new_kernels(ws(), {a}));
  auto other = workspace::Workspace::check_new_kernels(ws(), {b});
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("already has rmsnorm_cpu"), std::string::npos) << other.error().message;
}

TEST_F(Workspace, LockFilesOfAKilledGitAreRemovedWhenItOpens) {
  // kill -9 of a run (or of a --gpus worker) mid-commit leaves git's index.lock: every later commit would fail.
  auto print = [](const std::string&) {};
  const auto a = kernel("a.cpp", "");
  {
    auto opened = workspace::Workspace::open(ws(), "t", print);
    ASSERT_TRUE(opened) << opened.error().message;
    ASSERT_TRUE((*opened)->add_kernel(a));
  }
  for (const auto* lock : {".git/index.lock", ".git/refs/heads/autokernel/t.lock"}) {
    ASSERT_TRUE(util::write_file_atomic(ws() / lock, ""));
  }
  std::vector<std::string> lines;
  auto opened = workspace::Workspace::open(ws(), "t", [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_FALSE(std::filesystem::exists(ws() / ".git/index.lock"));
  EXPECT_FALSE(std::filesystem::exists(ws() / ".git/refs/heads/autokernel/t.lock"));
  EXPECT_EQ(lines.size(), 2u);
  ASSERT_TRUE(util::write_file_atomic(ws() / "kernels/rmsnorm_cpu/kernel.cpp", "// changed\n"));
  EXPECT_TRUE((*opened)->repo().commit({"kernels/rmsnorm_cpu/kernel.cpp"}, "exp 1: a commit after the kill"));
}

TEST_F(Workspace, RunRefusesASecondKernelFileBeforeWritingAnything) {
  const auto a = kernel("a.cpp", "");
  const auto b = kernel("b.cpp", "// another version\n");
  const auto r =
      test::autokernel({"run", "--workspace", ws().string(), "--kernel", a, "--kernel", b, "--max-experiments", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("autokernel: error: --kernel"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hint: "), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(ws())) << "the refused run wrote the workspace";
}

}  // namespace
}  // namespace ak
