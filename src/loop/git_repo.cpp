#include "loop/git_repo.hpp"

#include <chrono>

#include "util/fs.hpp"
#include "util/process.hpp"

namespace ak::loop {

Expected<std::string> GitRepo::git(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", m_dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = util::run_command(argv, std::chrono::minutes(2));
  if (!r) return std::unexpected(r.error());
  if (r->exit_code != 0) {
    std::string out = r->output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return fail(fmt::format("git {} failed: {}", args.empty() ? "" : args.front(), out));
  }
  std::string out = r->output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

Expected<void> GitRepo::init() {
  std::error_code ec;
  std::filesystem::create_directories(m_dir, ec);
  if (!std::filesystem::exists(m_dir / ".git")) {
    if (auto r = git({"init", "-q"}); !r) return std::unexpected(r.error());
  }
  // Commits need an identity. Use the user's if git has one; else a local one for this repository only.
  if (!git({"config", "user.email"})) {
    if (auto r = git({"config", "user.email", "autokernel@localhost"}); !r) return std::unexpected(r.error());
  }
  if (!git({"config", "user.name"})) {
    if (auto r = git({"config", "user.name", "autokernel"}); !r) return std::unexpected(r.error());
  }
  if (!git({"rev-parse", "--verify", "-q", "HEAD"})) {
    if (auto r = git({"commit", "-q", "--allow-empty", "-m", "autokernel workspace"}); !r) return std::unexpected(r.error());
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

Expected<std::vector<std::string>> GitRepo::changed_paths() {
  auto r = git({"status", "--porcelain", "--untracked-files=all"});
  if (!r) return std::unexpected(r.error());
  std::vector<std::string> paths;
  std::size_t pos = 0;
  while (pos < r->size()) {
    auto end = r->find('\n', pos);
    auto line = r->substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (line.size() > 3) paths.push_back(line.substr(3));
    if (end == std::string::npos) break;
    pos = end + 1;
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

}  // namespace ak::loop
