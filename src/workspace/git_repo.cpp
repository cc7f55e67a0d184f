#include "workspace/git_repo.hpp"

#include <chrono>

#include "util/fs.hpp"
#include "util/process.hpp"

namespace ak::workspace {

Expected<std::string> GitRepo::git(const std::vector<std::string>& args, bool trim) {
  // What the workspace's own config or hooks (an agent may write both) or the user's could add to our
  // commands is switched off: no hook runs (/dev/null holds none), no commit waits for a signing key,
  // and an automatic gc runs in the foreground rather than as a daemon the child's containment kills.
  std::vector<std::string> argv = {"git",
                                   "-C",
                                   m_dir.string(),
                                   "-c",
                                   "core.hooksPath=/dev/null",
                                   "-c",
                                   "commit.gpgSign=false",
                                   "-c",
                                   "gc.autoDetach=false"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto limit = std::chrono::minutes(2);
  auto r = util::run_command(argv, limit);
  if (!r) return std::unexpected(r.error());
  const auto what = args.empty() ? std::string() : args.front();
  if (r->timed_out) return fail(fmt::format("git {} did not finish within {} s", what, limit.count() * 60));
  if (r->exit_code == 127) {  // the shell found no git to run
    return fail("git is not installed or not on PATH (autokernel keeps the experiment history in git)",
                "install git (Debian/Ubuntu: apt-get install git)");
  }
  if (r->exit_code != 0) {
    // Quote git: its stderr and stdout come merged, so whichever it wrote to is here.
    std::string out = r->output;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (out.empty()) {
      return fail(fmt::format("git {} failed with exit code {} and printed nothing", what, r->exit_code));
    }
    if (util::says_disk_full(out)) {
      return fail(fmt::format("git {} failed: the disk is full (exit code {}): {}", what, r->exit_code, out),
                  "free some disk space, then run the command again");
    }
    return fail(fmt::format("git {} failed (exit code {}): {}", what, r->exit_code, out));
  }
  std::string out = r->output;
  while (trim && !out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

namespace {
constexpr const char* k_root_subject = "autokernel workspace";  // the first commit of every workspace
}  // namespace

Expected<void> GitRepo::init() {
  std::error_code ec;
  std::filesystem::create_directories(m_dir, ec);
  if (!std::filesystem::exists(m_dir / ".git")) {
    if (auto r = git({"init", "-q"}); !r) return std::unexpected(r.error());
  } else if (auto root = git({"log", "--max-parents=0", "--format=%s", "HEAD"});
             root && !root->empty() && *root != k_root_subject) {
    // Someone's own repository (`--workspace .` in a project): autokernel would switch its branch and
    // commit into it. A workspace's history starts with our root commit.
    return fail(fmt::format("{} is a git repository that autokernel did not make (its first commit: '{}')",
                            m_dir.string(), root->substr(0, root->find('\n'))),
                "give --workspace a new folder (it may sit inside the repository: it becomes a repository of its own)");
  }
  // Commits need an identity. Use the user's if git has one; else a local one for this repository only.
  if (!git({"config", "user.email"})) {
    if (auto r = git({"config", "user.email", "autokernel@localhost"}); !r) return std::unexpected(r.error());
  }
  if (!git({"config", "user.name"})) {
    if (auto r = git({"config", "user.name", "autokernel"}); !r) return std::unexpected(r.error());
  }
  if (!git({"rev-parse", "--verify", "-q", "HEAD"})) {
    if (auto r = git({"commit", "-q", "--allow-empty", "-m", k_root_subject}); !r) return std::unexpected(r.error());
  }
  return {};
}

Expected<void> GitRepo::checkout_branch(const std::string& branch) {
  if (git({"rev-parse", "--verify", "-q", "refs/heads/" + branch})) {
    if (auto r = git({"checkout", "-q", branch}); !r) return std::unexpected(r.error());
  } else if (auto r = git({"checkout", "-q", "-b", branch}); !r) {
    return std::unexpected(r.error());
  }
  return {};
}

Expected<void> GitRepo::add_worktree(const std::filesystem::path& path, const std::string& branch,
                                     const std::string& start) {
  if (auto r = git({"worktree", "prune"}); !r) return std::unexpected(r.error());
  auto r = has_branch(branch) ? git({"worktree", "add", "-q", path.string(), branch})
                              : git({"worktree", "add", "-q", "-b", branch, path.string(), start});
  if (!r) return std::unexpected(r.error());
  return {};
}

Expected<std::vector<std::string>> GitRepo::remove_stale_locks(const std::string& branch) {
  std::vector<std::string> removed;
  for (const auto& name : {std::string("index.lock"), std::string("HEAD.lock"), "refs/heads/" + branch + ".lock"}) {
    auto path = git({"rev-parse", "--git-path", name});  // a worktree's index and HEAD are its own
    if (!path) return std::unexpected(path.error());
    std::filesystem::path p = *path;
    if (p.is_relative()) p = m_dir / p;
    std::error_code ec;
    if (std::filesystem::remove(p, ec)) removed.push_back(p.string());
  }
  return removed;
}

Expected<std::string> GitRepo::commit(const std::vector<std::string>& paths, const std::string& message) {
  std::vector<std::string> add = {"add", "--"};
  add.insert(add.end(), paths.begin(), paths.end());
  if (auto r = git(add); !r) return std::unexpected(r.error());
  if (auto r = git({"commit", "-q", "--allow-empty", "-m", message}); !r) return std::unexpected(r.error());
  return rev_parse("HEAD");
}

Expected<std::string> GitRepo::rev_parse(const std::string& rev) { return git({"rev-parse", rev}); }

Expected<void> GitRepo::reset_hard(const std::string& rev) {
  if (auto r = git({"reset", "-q", "--hard", rev}); !r) return std::unexpected(r.error());
  return {};
}

namespace {

/// `git status --porcelain -z` output as (two-letter status, path) pairs. -z gives paths as they are (no
/// quoting of spaces or non-ASCII), NUL-terminated.
std::vector<std::pair<std::string, std::string>> parse_status(const std::string& out) {
  std::vector<std::pair<std::string, std::string>> entries;
  std::size_t pos = 0;
  while (pos < out.size()) {
    auto end = out.find('\0', pos);
    if (end == std::string::npos) end = out.size();
    const auto entry = out.substr(pos, end - pos);
    pos = end + 1;
    if (entry.size() <= 3) continue;
    entries.emplace_back(entry.substr(0, 2), entry.substr(3));
    if (entry[0] == 'R' || entry[0] == 'C' || entry[1] == 'R') {  // a rename or copy: its source path follows
      const auto source_end = out.find('\0', pos);
      pos = source_end == std::string::npos ? out.size() : source_end + 1;
    }
  }
  return entries;
}

}  // namespace

Expected<std::vector<std::string>> GitRepo::changed_paths() {
  auto r = git({"status", "--porcelain", "-z", "--untracked-files=all"});
  if (!r) return std::unexpected(r.error());
  std::vector<std::string> paths;
  for (auto& [status, path] : parse_status(*r)) paths.push_back(std::move(path));
  return paths;
}

Expected<std::vector<std::string>> GitRepo::ignored_paths() {
  auto r = git({"status", "--porcelain", "-z", "--untracked-files=all", "--ignored"});
  if (!r) return std::unexpected(r.error());
  std::vector<std::string> paths;
  for (auto& [status, path] : parse_status(*r)) {
    if (status == "!!") paths.push_back(std::move(path));
  }
  return paths;
}

Expected<void> GitRepo::discard(const std::string& path) {
  if (git({"ls-files", "--error-unmatch", "--", path})) {
    if (auto r = git({"checkout", "-q", "HEAD", "--", path}); !r) return std::unexpected(r.error());
  } else {
    if (auto r = util::remove_tree(m_dir / path); !r) return std::unexpected(r.error());
  }
  return {};
}

Expected<std::string> GitRepo::first_version(const std::string& path) {
  auto log = git({"log", "--diff-filter=A", "--format=%H", "--", path});
  if (!log) return std::unexpected(log.error());
  const auto last = log->rfind('\n');
  const auto commit = last == std::string::npos ? *log : log->substr(last + 1);
  if (commit.empty()) return fail(fmt::format("no commit adds {}", path));
  return git({"show", commit + ":" + path}, false);
}

Expected<void> GitRepo::unstage(const std::string& path) {
  if (auto r = git({"reset", "-q", "--", path}); !r) return std::unexpected(r.error());
  return {};
}

Expected<std::string> GitRepo::current_branch() {
  auto r = git({"symbolic-ref", "-q", "--short", "HEAD"});
  return r ? *r : std::string();
}

Expected<void> GitRepo::restore_head(const std::string& branch, const std::string& commit) {
  if (!branch.empty()) {
    if (auto r = git({"symbolic-ref", "HEAD", "refs/heads/" + branch}); !r) return std::unexpected(r.error());
  }
  if (auto r = git({"reset", "-q", commit}); !r) return std::unexpected(r.error());
  return {};
}

Expected<std::map<std::string, std::string>> GitRepo::refs() {
  auto r = git({"for-each-ref", "--format=%(refname) %(objectname)"});
  if (!r) return std::unexpected(r.error());
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < r->size()) {
    auto end = r->find('\n', pos);
    if (end == std::string::npos) end = r->size();
    const auto line = r->substr(pos, end - pos);
    pos = end + 1;
    if (const auto space = line.rfind(' '); space != std::string::npos) {
      out[line.substr(0, space)] = line.substr(space + 1);
    }
  }
  return out;
}

Expected<void> GitRepo::set_ref(const std::string& ref, const std::string& object) {
  auto r = object.empty() ? git({"update-ref", "-d", ref}) : git({"update-ref", ref, object});
  if (!r) return std::unexpected(r.error());
  return {};
}

}  // namespace ak::workspace
