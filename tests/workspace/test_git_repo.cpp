// workspace/git_repo: what a workspace's own hooks or config hold cannot break autokernel's commits, and a
// git failure says what git said.
#include <gtest/gtest.h>

#include <unistd.h>

#include "workspace/git_repo.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

class GitRepo : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = std::filesystem::temp_directory_path() /
            fmt::format("ak_git_{}_{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), ::getpid());
    (void)util::remove_tree(m_dir);
    ASSERT_TRUE(workspace::GitRepo(m_dir).init());
  }
  void TearDown() override {
    if (!HasFailure()) (void)util::remove_tree(m_dir);
  }
  void hook(const std::string& name, const std::string& body) {
    const auto p = m_dir / ".git/hooks" / name;
    ASSERT_TRUE(util::write_file_atomic(p, "#!/bin/sh\n" + body + "\n"));
    std::filesystem::permissions(p, std::filesystem::perms::owner_all, std::filesystem::perm_options::add);
  }
  std::filesystem::path m_dir;
};

TEST_F(GitRepo, HooksAndSigningDoNotRunForOurCommands) {
  // What an agent may leave behind: hooks that fail (silently) or write files, and a config that signs.
  hook("pre-commit", "exit 1");
  hook("commit-msg", "exit 1");
  hook("post-commit", "touch \"$GIT_DIR/../post-commit-ran\"");
  hook("post-checkout", "exit 1");
  test::git(m_dir, {"config", "commit.gpgSign", "true"});
  test::git(m_dir, {"config", "gpg.program", "false"});
  workspace::GitRepo repo(m_dir);
  ASSERT_TRUE(util::write_file_atomic(m_dir / "a.txt", "a\n"));
  auto c = repo.commit({"a.txt"}, "add a");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(test::git(m_dir, {"log", "-1", "--format=%s"}), "add a");
  EXPECT_FALSE(std::filesystem::exists(m_dir / "post-commit-ran"));
  EXPECT_TRUE(repo.checkout_branch("other"));
  EXPECT_TRUE(repo.reset_hard("HEAD"));
}

TEST_F(GitRepo, AFailureQuotesGit) {
  workspace::GitRepo repo(m_dir);
  // A stale index.lock (a killed git) makes git add fail; git says why on stderr.
  ASSERT_TRUE(util::write_file_atomic(m_dir / ".git/index.lock", ""));
  ASSERT_TRUE(util::write_file_atomic(m_dir / "a.txt", "a\n"));
  auto c = repo.commit({"a.txt"}, "add a");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("git add failed (exit code 128): fatal: Unable to create"), std::string::npos)
      << c.error().message;
  EXPECT_NE(c.error().message.find("index.lock"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace ak
