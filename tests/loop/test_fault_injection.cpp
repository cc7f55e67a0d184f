// A whole run under faults, as the README's hazards section promises it survives them: kill -9 of
// autokernel, of its worker and of its agent at random moments, an agent that fails half its calls, and
// a build cache on a disk that is full once. At the end no row is lost or duplicated, every kept kernel
// file equals its commit, no process is left, and `status` tells the truth.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "workspace/results_log.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

extern char** environ;

namespace ak {
namespace {

using test::git;
namespace fs = std::filesystem;

const std::string k_rms = (test::source_dir() / "tests/data/loop_kernels/rmsnorm_repeat.cpp").string();
const std::string k_agent = (test::source_dir() / "tests/data/agents/flaky.sh").string();

std::string read(const fs::path& p) {
  auto t = util::read_file(p);
  return t ? *t : "";
}

/// Live (not zombie) processes whose command line holds `marker` or whose working folder is under `dir`.
std::vector<pid_t> processes_of(const std::string& marker, const fs::path& dir) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    const auto stat = read(e.path() / "stat");
    const auto state = stat.rfind(") ");
    if (stat.empty() || (state != std::string::npos && stat[state + 2] == 'Z')) continue;
    auto cmdline = read(e.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    const auto cwd = fs::read_symlink(e.path() / "cwd", ec);
    if (cmdline.find(marker) != std::string::npos || (!ec && cwd.string().starts_with(dir.string())))
      out.push_back(pid);
  }
  return out;
}

/// The first live process whose command line holds all of `parts`.
pid_t find_process(const std::vector<std::string>& parts) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = read(e.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (std::all_of(parts.begin(), parts.end(), [&](const auto& p) { return cmdline.find(p) != std::string::npos; })) {
      return std::stoi(name);
    }
  }
  return -1;
}

pid_t spawn(std::vector<std::string> args, const std::vector<std::string>& extra_env) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings(extra_env);
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

/// Wait up to `limit` for `pid`; kill it if it is still there.
void reap(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ADD_FAILURE() << "autokernel did not finish within " << limit.count() << " s";
}

/// No process of the run may outlive it; containment is immediate, but give the kernel a moment to reap.
void expect_nothing_left(const fs::path& ws, const std::string& when) {
  std::vector<pid_t> left;
  for (int i = 0; i < 40; ++i) {
    left = processes_of(ws.string(), ws);
    if (left.empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string names;
  for (auto p : left) names += fmt::format(" {} ({})", p, read(fmt::format("/proc/{}/comm", p)));
  ADD_FAILURE() << when << ": processes left:" << names;
}

TEST(FaultInjection, ALongRunUnderRandomKillsAFlakyAgentAndAFullDiskLosesNothing) {
  const auto ws = fs::temp_directory_path() / fmt::format("ak_faults_{}", ::getpid());
  const auto full_cache = fs::temp_directory_path() / fmt::format("ak_faults_cache_{}", ::getpid());
  (void)util::remove_tree(ws);
  // A full disk for one round: a 256 KiB tmpfs holding nothing but a filler (root only; else that round
  // runs on the normal cache).
  fs::create_directories(full_cache);
  auto mounted = util::run_command({"mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", full_cache.string()},
                                   std::chrono::seconds(10));
  const bool have_full_disk = mounted && mounted->exit_code == 0;
  if (have_full_disk) {
    (void)util::run_command({"dd", "if=/dev/zero", "of=" + (full_cache / "filler").string(), "bs=4k"},
                            std::chrono::seconds(10));
  }
  std::mt19937 rng(20261205);
  enum Target { autokernel, worker, agent };
  int kills[3] = {0, 0, 0};
  for (int round = 0; round < 10; ++round) {
    std::vector<std::string> env;
    if (round == 4 && have_full_disk) env.push_back("AUTOKERNEL_CACHE=" + full_cache.string());
    const pid_t pid = spawn({AK_BINARY,
                             "run",
                             "--workspace",
                             ws.string(),
                             "--kernel",
                             k_rms,
                             "--proposer",
                             "agent",
                             "--cmd",
                             "bash " + k_agent + " " + ws.string(),
                             "--agent-timeout",
                             "60",
                             "--proposer-backoff",
                             "0",
                             "--max-proposer-failures",
                             "1000",
                             "--max-reverts",
                             "1000",
                             "--max-experiments",
                             "3"},
                            env);
    ASSERT_GT(pid, 0);
    // Each round kills one of the three in turn, at a random moment (for the worker and the agent: the first
    // moment after it that one is running, within 10 s).
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(500, 8000)(rng)));
    const auto target = static_cast<Target>(round % 3);
    pid_t victim = target == autokernel ? pid : -1;
    bool exited = false;
    for (int i = 0; victim < 0 && i < 200; ++i) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        exited = true;  // the run finished first
        break;
      }
      victim = target == worker ? find_process({"worker", ws.string()}) : find_process({"flaky.sh", ws.string()});
      if (victim < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (victim > 0 && ::kill(victim, SIGKILL) == 0) ++kills[target];
    if (!exited) reap(pid, std::chrono::seconds(180));
    expect_nothing_left(ws, fmt::format("round {}", round));
  }
  if (have_full_disk) (void)util::run_command({"umount", full_cache.string()}, std::chrono::seconds(10));
  (void)util::remove_tree(full_cache);
  // Whatever the faults left, a run without them goes on from there.
  const auto last =
      test::autokernel({"run", "--workspace", ws.string(), "--max-experiments", "2", "--max-reverts", "1000"});
  ASSERT_EQ(last.exit_code, 0) << last.output;
  EXPECT_GT(kills[autokernel] + kills[worker] + kills[agent], 0) << "no fault landed";
  fmt::print("kill -9 landed on: autokernel {}, its worker {}, its agent {}; full disk: {}\n", kills[autokernel],
             kills[worker], kills[agent], have_full_disk ? "round 4" : "not here (no tmpfs)");

  const auto rows = *workspace::ResultsLog(ws / "results.tsv").read();
  ASSERT_GE(rows.size(), 3u);
  std::set<int> numbers;
  int baselines = 0;
  for (const auto& r : rows) {
    EXPECT_TRUE(numbers.insert(r.experiment).second) << "experiment " << r.experiment << " recorded twice";
    baselines += r.status == workspace::Status::baseline;
    int code = 0;
    git(ws, {"cat-file", "-e", r.commit + "^{commit}"}, &code);
    EXPECT_EQ(code, 0) << "experiment " << r.experiment << ": its commit is lost";
    if (r.status == workspace::Status::proposer_failed || r.status == workspace::Status::hand_reverted)
      continue;                    // no commit of their own
    if (baselines == 0) continue;  // a baseline attempt that failed (its worker killed): the starter's commit
    git(ws, {"merge-base", "--is-ancestor", r.commit, "HEAD"}, &code);
    EXPECT_EQ(code == 0, r.status == workspace::Status::kept || r.status == workspace::Status::baseline)
        << r.experiment << " " << r.status;
  }
  EXPECT_EQ(baselines, 1);
  EXPECT_EQ(*numbers.rbegin() - *numbers.begin() + 1, static_cast<int>(numbers.size())) << "a row was lost";
  // The kept kernel file is the branch's, and nothing else is left modified.
  EXPECT_EQ(git(ws, {"status", "--porcelain"}), "");
  const auto best = workspace::best_row(rows, "rmsnorm_cpu");
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(git(ws, {"show", best->commit + ":kernels/rmsnorm_cpu/kernel.cpp"}) + "\n",
            read(ws / "kernels/rmsnorm_cpu/kernel.cpp"));
  expect_nothing_left(ws, "the end");
  const auto status = test::autokernel({"status", "--workspace", ws.string()});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_EQ(status.output.find("running (pid"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("finished"), std::string::npos) << status.output;
  if (!HasFailure()) (void)util::remove_tree(ws);
}

}  // namespace
}  // namespace ak
