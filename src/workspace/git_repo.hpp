// The experiment history as plain git: one commit per experiment on a per-run branch. We drive the git
// command line (the well-kept tool users already have) rather than a binding.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ak::workspace {

class GitRepo {
 public:
  explicit GitRepo(std::filesystem::path dir) : m_dir(std::move(dir)) {}

  /// Make `dir` a repository if it is not one, with an identity for its own commits if none is set.
  Expected<void> init();
  /// Switch to `branch`, creating it at HEAD if it does not exist.
  Expected<void> checkout_branch(const std::string& branch);
  /// Stage `paths` and commit; returns the new commit's hash. An empty commit is allowed (a re-run).
  Expected<std::string> commit(const std::vector<std::string>& paths, const std::string& message);
  /// `git diff from to -- path`: what changed in `path` between two commits (unified, as git prints it).
  /// The text is as git printed it (a diff's trailing blank context line ends in a space that matters).
  Expected<std::string> diff(const std::string& from, const std::string& to, const std::string& path) {
    return git({"diff", "--no-color", "--no-ext-diff", from, to, "--", path}, false);
  }
  /// The first line of HEAD's commit message.
  Expected<std::string> head_subject() { return git({"log", "-1", "--format=%s"}); }
  /// The hash of `rev` ("HEAD", "HEAD~1", a branch).
  Expected<std::string> rev_parse(const std::string& rev);
  /// Move the branch and the work tree back to `rev`, discarding what came after.
  Expected<void> reset_hard(const std::string& rev);
  /// Paths changed (tracked or not) in the work tree since HEAD.
  Expected<std::vector<std::string>> changed_paths();
  /// Files in the work tree that git ignores (each file, not their folders).
  Expected<std::vector<std::string>> ignored_paths();
  /// Undo work-tree changes to `path` (tracked: back to HEAD; untracked: removed).
  Expected<void> discard(const std::string& path);
  /// Take `path` out of the index again (after a commit that failed), leaving the file as it is.
  Expected<void> unstage(const std::string& path);
  /// A file's content at a revision (`git show REV:PATH`).
  Expected<std::string> show(const std::string& rev, const std::string& path) {
    return git({"show", rev + ":" + path});
  }
  /// `path` as the commit that added it in HEAD's history had it.
  Expected<std::string> first_version(const std::string& path);
  /// The branch HEAD is on ("" when detached).
  Expected<std::string> current_branch();
  /// Put HEAD back on `branch` at `commit` and unstage everything, leaving the work tree as it is: undoes
  /// commits, resets and branch switches made by someone else (an agent), whose edits stay as changes.
  Expected<void> restore_head(const std::string& branch, const std::string& commit);

  /// Check `branch` out in a worktree of its own at `path` (creating the branch at `start` if it does not
  /// exist), after forgetting worktrees whose folders are gone. For `run --gpus`: one per kernel.
  Expected<void> add_worktree(const std::filesystem::path& path, const std::string& branch, const std::string& start);
  /// Merge `branch` into the current one (a fast-forward where it can); `message` names a merge commit.
  Expected<void> merge(const std::string& branch, const std::string& message) {
    if (auto r = git({"merge", "-q", "--no-edit", "-m", message, branch}); !r) return std::unexpected(r.error());
    return {};
  }
  /// Remove the lock files a git killed mid-command leaves in this work tree (its index, HEAD, `branch`'s
  /// ref), which would fail every later command; returns those removed. Only for a caller that holds the
  /// workspace's lock, so that no git of ours is running here.
  Expected<std::vector<std::string>> remove_stale_locks(const std::string& branch);
  /// Does `refs/heads/<branch>` exist?
  bool has_branch(const std::string& branch) {
    return git({"rev-parse", "--verify", "-q", "refs/heads/" + branch}).has_value();
  }

  /// Every ref (branches, tags, ...) and the object it names.
  Expected<std::map<std::string, std::string>> refs();
  /// Point `ref` at `object`, or delete it when `object` is empty.
  Expected<void> set_ref(const std::string& ref, const std::string& object);

  const std::filesystem::path& dir() const { return m_dir; }

 private:
  /// Run git; its output with trailing newlines and spaces trimmed unless `trim` is false.
  Expected<std::string> git(const std::vector<std::string>& args, bool trim = true);
  std::filesystem::path m_dir;
};

}  // namespace ak::workspace
