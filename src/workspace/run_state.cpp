#include "workspace/run_state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "util/fs.hpp"

namespace ak::workspace {

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

namespace {

/// On a full disk there is no room for the temporary of an atomic write, but the old file's own blocks can
/// take a shorter text: written over them, padded with spaces (JSON ignores them). So a run stopped by a full
/// disk still tells `status` why, instead of looking interrupted. Not atomic: used only when nothing else fits.
bool overwrite_in_place(const std::filesystem::path& file, const std::string& text) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) >= text.size();
  if (ok) {
    const auto padded = text + std::string(static_cast<std::size_t>(st.st_size) - text.size(), ' ');
    ok = ::pwrite(fd, padded.data(), padded.size(), 0) == static_cast<ssize_t>(padded.size()) && ::fdatasync(fd) == 0;
  }
  ::close(fd);
  return ok;
}

}  // namespace

RunState RunState::starting(const std::string& tag, double budget_s, int max_experiments) {
  RunState s;
  s.tag = tag;
  s.pid = ::getpid();
  s.started_at = unix_now();
  s.budget_s = budget_s;
  s.max_experiments = max_experiments;
  return s;
}

std::filesystem::path RunState::path(const std::filesystem::path& workspace) {
  return workspace / ".autokernel" / "run.json";
}

Expected<void> RunState::write(const std::filesystem::path& workspace) const {
  nlohmann::json j = {{"tag", tag},
                      {"pid", pid},
                      {"state", state},
                      {"stop_reason", stop_reason},
                      {"started_at", started_at},
                      {"updated_at", updated_at},
                      {"budget_s", budget_s},
                      {"max_experiments", max_experiments},
                      {"experiments", experiments},
                      {"current_kernel", current_kernel},
                      {"current_since", current_since},
                      {"done", done}};
  if (!workers.empty()) {
    j["workers"] = nlohmann::json::array();
    for (const auto& w : workers) {
      j["workers"].push_back({{"device", w.device}, {"kernel", w.kernel}, {"kernels_done", w.kernels_done}});
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(path(workspace).parent_path(), ec);
  auto w = util::write_file_atomic(path(workspace), j.dump(2) + "\n");
  if (!w && overwrite_in_place(path(workspace), j.dump())) return {};
  if (!w) return std::unexpected(w.error().context("recording the run's state"));
  return {};
}

std::optional<RunState> RunState::read(const std::filesystem::path& workspace) {
  auto text = util::read_file(path(workspace));
  if (!text) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(*text);
    RunState s;
    s.tag = j.value("tag", "");
    s.pid = j.value("pid", 0L);
    s.state = j.value("state", "");
    s.stop_reason = j.value("stop_reason", "");
    s.started_at = j.value("started_at", 0.0);
    s.updated_at = j.value("updated_at", 0.0);
    s.budget_s = j.value("budget_s", 0.0);
    s.max_experiments = j.value("max_experiments", 0);
    s.experiments = j.value("experiments", 0);
    s.current_kernel = j.value("current_kernel", "");
    s.current_since = j.value("current_since", 0.0);
    s.done = j.value("done", std::map<std::string, std::string>{});
    for (const auto& w : j.value("workers", nlohmann::json::array())) {
      s.workers.push_back({w.value("device", ""), w.value("kernel", ""), w.value("kernels_done", 0)});
    }
    return s;
  } catch (const std::exception&) {
    return std::nullopt;  // written atomically, so only a hand edit gets here: show what results.tsv has
  }
}

bool run_in_progress(const std::filesystem::path& workspace) {
  const int fd = ::open((workspace / "run.lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

}  // namespace ak::workspace
