#include "workspace/workspace.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>

#include "backends/candidate.hpp"
#include "util/fs.hpp"
#include "workspace/model_json.hpp"

namespace ak::workspace {
namespace {

constexpr const char* k_results_file = "results.tsv";
constexpr const char* k_lock_file = "run.lock";
constexpr const char* k_gitignore = "results.tsv\nrun.lock\n.autokernel/\n";  // the run's own files

}  // namespace

Workspace::Workspace(std::filesystem::path dir, std::string tag, int lock_fd, const std::filesystem::path& results_dir)
    : m_dir(dir), m_tag(std::move(tag)), m_lock_fd(lock_fd), m_repo(dir), m_log(results_dir / k_results_file) {}

Workspace::~Workspace() {
  if (m_lock_fd >= 0) ::close(m_lock_fd);
}

namespace {

/// Take the exclusive lock at `path` for this process's lifetime, or say who holds it (`what` names it).
Expected<int> take_lock(const std::filesystem::path& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fail(fmt::format("cannot open {}", path.string()));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    // The holder wrote its pid into the lock file: name it, so the user can find it.
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    const std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    return fail(fmt::format("{}{}", what, pid.empty() ? "" : fmt::format(" (pid {})", pid)),
                "wait for it to finish (`autokernel status` shows where it is), or use another --workspace");
  }
  // Our pid, for the message another run gives (best effort: the lock itself is what matters).
  const auto pid = std::to_string(::getpid());
  (void)!::ftruncate(fd, 0);
  (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return fd;
}

}  // namespace

Expected<std::unique_ptr<Workspace>> Workspace::open(const std::filesystem::path& dir_in, const std::string& tag,
                                                     const Printer& print) {
  const auto dir = std::filesystem::absolute(dir_in);
  GitRepo repo(dir);
  if (auto r = repo.init(); !r) return std::unexpected(r.error().context("preparing the workspace"));
  // Two runs in one workspace would interleave their commits: one holds the lock for its lifetime.
  auto fd = take_lock(dir / k_lock_file, fmt::format("another autokernel run is using {}", dir.string()));
  if (!fd) return std::unexpected(fd.error());
  std::unique_ptr<Workspace> ws(new Workspace(dir, tag, *fd, dir));
  if (!std::filesystem::exists(dir / ".gitignore")) {
    if (auto w = util::write_file_atomic(dir / ".gitignore", k_gitignore); !w) return std::unexpected(w.error());
    if (auto c = ws->m_repo.commit({".gitignore"}, "ignore the run's own files"); !c) return std::unexpected(c.error());
  }
  return finish_open(std::move(ws), "autokernel/" + tag, print);
}

std::filesystem::path Workspace::worktree_dir(const std::filesystem::path& main_dir, const std::string& kernel) {
  return std::filesystem::absolute(main_dir) / ".autokernel" / "worktrees" / kernel;
}

std::string Workspace::worker_branch(const std::string& tag, const std::string& kernel) {
  return fmt::format("autokernel-worker/{}/{}", tag, kernel);
}

Expected<std::unique_ptr<Workspace>> Workspace::open_worker(const std::filesystem::path& main_in,
                                                            const std::string& tag, const WorkerSpec& w,
                                                            const Printer& print) {
  const auto main_dir = std::filesystem::absolute(main_in);
  GitRepo repo(main_dir);
  if (auto r = repo.init(); !r) return std::unexpected(r.error().context("preparing the workspace"));
  const auto dir = worktree_dir(main_dir, w.kernel);
  std::error_code ec;
  std::filesystem::create_directories(dir.parent_path(), ec);
  // One worker per kernel: the lock sits beside the worktree, so it is held before the worktree is made.
  auto fd = take_lock(dir.parent_path() / (w.kernel + ".lock"),
                      fmt::format("another autokernel worker is on kernel {} in {}", w.kernel, main_dir.string()));
  if (!fd) return std::unexpected(fd.error());
  if (!std::filesystem::exists(dir / ".git", ec)) {
    (void)util::remove_tree(dir);  // a worktree a kill left half made
    const auto main_branch = "autokernel/" + tag;
    if (auto r =
            repo.add_worktree(dir, worker_branch(tag, w.kernel), repo.has_branch(main_branch) ? main_branch : "HEAD");
        !r) {
      ::close(*fd);
      return std::unexpected(r.error().context(fmt::format("making the worktree of {}", w.kernel)));
    }
  }
  std::unique_ptr<Workspace> ws(new Workspace(dir, tag, *fd, main_dir));
  ws->m_counter = main_dir / ".autokernel" / "next_experiment";
  ws->m_device = w.device;
  ws->m_gpu_model = w.gpu_model;
  return finish_open(std::move(ws), worker_branch(tag, w.kernel), print);
}

Expected<std::unique_ptr<Workspace>> Workspace::finish_open(std::unique_ptr<Workspace> ws, const std::string& branch,
                                                            const Printer& print) {
  // A git killed with a run (kill -9) may have left its lock files: every later git command would fail.
  auto stale = ws->m_repo.remove_stale_locks(branch);
  if (!stale) return std::unexpected(stale.error());
  for (const auto& f : *stale) print(fmt::format("resuming: removed {}, left by a git that was killed", f));
  if (auto r = ws->m_repo.checkout_branch(branch); !r) return std::unexpected(r.error());
  auto all = ws->m_log.read();
  if (!all) return std::unexpected(all.error());
  const auto& tag = ws->m_tag;
  bool head_recorded = false;
  auto head = ws->m_repo.rev_parse("HEAD");
  for (const auto& r : *all) {
    ws->m_next_experiment = std::max(ws->m_next_experiment, r.experiment + 1);
    if (r.tag != tag) continue;
    head_recorded = head_recorded || (head && r.commit == *head);
    if (ws->m_gpu_model.empty() || r.gpu == ws->m_gpu_model) ws->m_rows.push_back(r);
  }
  // An experiment killed before its row was written left its commit at HEAD: revert it.
  auto subject = ws->m_repo.head_subject();
  if (head && subject && subject->starts_with("exp ") && !head_recorded) {
    print(fmt::format("resuming: the last experiment ({}) was interrupted; reverting it", subject->substr(0, 60)));
    if (auto r = ws->m_repo.reset_hard("HEAD~1"); !r) return std::unexpected(r.error());
  }
  return ws;
}

namespace {

/// Where a candidate goes in the workspace: kernels/<type>_<backend>/kernel.<ext>.
std::filesystem::path kernel_path(const backends::Candidate& c) {
  return std::filesystem::path("kernels") / (c.type + "_" + c.backend) / ("kernel" + c.path.extension().string());
}

/// The headers in `file`'s folder that it includes with quotes, and those they include, by name.
std::vector<std::string> headers_beside(const std::filesystem::path& file) {
  const auto dir = file.parent_path();
  std::vector<std::string> found;
  std::vector<std::filesystem::path> todo = {file};
  while (!todo.empty()) {
    const auto text = util::read_file(todo.back());
    todo.pop_back();
    if (!text) continue;
    std::size_t pos = 0;
    while ((pos = text->find("#include", pos)) != std::string::npos) {
      pos += 8;
      const auto open = text->find_first_not_of(" \t", pos);
      if (open == std::string::npos || (*text)[open] != '"') continue;
      const auto close = text->find('"', open + 1);
      if (close == std::string::npos) break;
      const std::filesystem::path name = text->substr(open + 1, close - open - 1);
      const auto ext = name.extension().string();
      std::error_code ec;
      if (name.has_parent_path() || (ext != ".h" && ext != ".hpp" && ext != ".cuh") ||
          !std::filesystem::is_regular_file(dir / name, ec) || std::ranges::find(found, name.string()) != found.end()) {
        continue;
      }
      found.push_back(name.string());
      todo.push_back(dir / name);
    }
  }
  return found;
}

}  // namespace

Expected<void> Workspace::check_new_kernels(const std::filesystem::path& dir, const std::vector<std::string>& files) {
  std::map<std::filesystem::path, std::pair<std::string, std::string>> seen;  // workspace path -> (file, source)
  GitRepo repo(std::filesystem::absolute(dir));
  for (const auto& file : files) {
    auto c = backends::load_candidate(file, "");
    if (!c) return std::unexpected(c.error());
    const auto rel = kernel_path(*c);
    const auto name = rel.parent_path().filename().string();
    const auto hint = fmt::format(
        "a workspace has one kernel per type and backend; use another --workspace for {}, "
        "or leave out --kernel to go on with {}",
        file, name);
    if (auto it = seen.find(rel); it != seen.end()) {
      if (it->second.second == c->source) continue;
      return fail(fmt::format("--kernel {} and --kernel {} are both {}", it->second.first, file, name), hint);
    }
    seen[rel] = {file, c->source};
    std::error_code ec;
    if (!std::filesystem::exists(dir / rel, ec)) continue;
    // Named again: the same file it was added from (the first version in git), or the file as it is now.
    if (util::read_file(dir / rel).value_or("") == c->source) continue;
    if (auto first = repo.first_version(rel.generic_string()); first && *first == c->source) continue;
    return fail(fmt::format("--kernel {}: the workspace already has {} ({}), from another file", file, name,
                            (dir / rel).string()),
                hint);
  }
  return {};
}

Expected<std::string> Workspace::add_kernel(const std::string& file) {
  auto c = backends::load_candidate(file, "");
  if (!c) return std::unexpected(c.error());
  const auto rel = kernel_path(*c);
  const auto name = rel.parent_path().filename().string();
  std::error_code ec;
  if (std::filesystem::exists(m_dir / rel, ec)) return name;  // already there: resuming
  std::filesystem::create_directories((m_dir / rel).parent_path(), ec);
  if (auto w = util::write_file_atomic(m_dir / rel, c->source); !w) return std::unexpected(w.error());
  std::vector<std::string> paths = {rel.string()};
  // Its headers, so that it builds in the workspace as it did beside them.
  for (const auto& h : headers_beside(c->path)) {
    auto text = util::read_file(c->path.parent_path() / h);
    if (!text) return std::unexpected(text.error());
    const auto to = rel.parent_path() / h;
    if (auto w = util::write_file_atomic(m_dir / to, *text); !w) return std::unexpected(w.error());
    paths.push_back(to.string());
  }
  if (auto r = m_repo.commit(paths, fmt::format("add kernel {} from {}", name, file)); !r) {
    return std::unexpected(r.error());
  }
  return name;
}

std::vector<WorkspaceKernel> Workspace::kernels() const {
  std::vector<WorkspaceKernel> out;
  std::error_code ec;
  if (!std::filesystem::exists(m_dir / "kernels", ec)) return out;
  for (const auto& dir : std::filesystem::directory_iterator(m_dir / "kernels", ec)) {
    for (const auto* f : {"kernel.cu", "kernel.py", "kernel.cpp"}) {
      if (std::filesystem::exists(dir.path() / f, ec)) {
        WorkspaceKernel k{dir.path().filename().string(), std::filesystem::path("kernels") / dir.path().filename() / f,
                          *backends::backend_for_extension(f)};
        if (auto m = read_model_json(dir.path() / f); m && *m)
          k.model_share = std::max((*m)->share, (*m)->share_uncompiled);  // the most it can save
        out.push_back(k);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Expected<WorkspaceKernel> Workspace::kernel(const std::string& name) const {
  std::string known;
  for (const auto& k : kernels()) {
    if (k.name == name) return k;
    known += (known.empty() ? "" : ", ") + k.name;
  }
  return fail(fmt::format("no kernel '{}' in {} (known: {})", name, m_dir.string(), known.empty() ? "none" : known));
}

const ResultRow* Workspace::best(const std::string& kernel) const { return best_row(m_rows, kernel); }

Expected<int> Workspace::take_experiment_number() {
  if (m_counter.empty()) return m_next_experiment;  // alone: the lock keeps every other writer out
  return m_log.take_number(m_counter);
}

Expected<void> Workspace::append(const ResultRow& row_in) {
  auto row = row_in;
  if (row.device.empty()) row.device = m_device;
  if (!m_gpu_model.empty()) row.gpu = m_gpu_model;  // a worker's rows are of its model, failed benches too
  auto stored = m_log.append(row);                  // kept in memory as in the file: prompts and reports read these
  if (!stored) return std::unexpected(stored.error());
  m_rows.push_back(*stored);
  m_next_experiment = std::max(m_next_experiment, stored->experiment + 1);
  return {};
}

Expected<ResultRow> Workspace::record_without_commit(const WorkspaceKernel& k, Status status,
                                                     const std::string& correctness, const std::string& description) {
  // Whatever the file holds now is dropped: the branch keeps the best version.
  if (auto r = m_repo.discard(k.file.string()); !r) return std::unexpected(r.error());
  auto head = m_repo.rev_parse("HEAD");
  auto number = take_experiment_number();
  if (!number) return std::unexpected(number.error());
  ResultRow row;
  row.experiment = *number;
  row.tag = m_tag;
  row.kernel = k.name;
  row.backend = k.backend;
  row.status = status;
  row.correctness = correctness;
  row.description = description;
  row.commit = head ? *head : "";
  if (auto a = append(row); !a) return std::unexpected(a.error());
  return row;
}

Expected<ResultRow> Workspace::record_failure(const WorkspaceKernel& k, const std::string& description,
                                              const std::string& why) {
  return record_without_commit(k, Status::proposer_failed, "FAIL", description + " [" + why.substr(0, 200) + "]");
}

Expected<ResultRow> Workspace::record_revert(const WorkspaceKernel& k, const std::string& description) {
  return record_without_commit(k, Status::hand_reverted, "-", "reverted by hand: " + description);
}

}  // namespace ak::workspace
