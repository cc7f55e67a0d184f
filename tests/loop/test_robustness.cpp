// A long run's hazards: a candidate that kills its worker, a user with no git identity or no git, a full
// disk, a second run or a status query while a run goes on.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <csignal>
#include <thread>

#include "workspace/results_log.hpp"
#include "workspace/run_state.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

extern char** environ;

namespace ak {
namespace {

using test::git;

const std::string k_rms = (test::source_dir() / "tests/data/loop_kernels/rmsnorm_repeat.cpp").string();
const std::string k_fault = (test::source_dir() / "tests/data/loop_kernels/rmsnorm_fault.cpp").string();

std::filesystem::path fresh_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("ak_robust_" + name);
  (void)util::remove_tree(d);
  return d;
}

std::vector<workspace::ResultRow> rows_of(const std::filesystem::path& ws) {
  return *workspace::ResultsLog(ws / "results.tsv").read();
}

TEST(Robustness, ACandidateThatKillsItsWorkerCostsOneExperimentAndTheNextOnePasses) {
  const auto ws = fresh_dir("fault");
  // Baseline FAULT=0, then the search tries the neighbour FAULT=1 (a segfault), then FAULT=2 (correct).
  const auto r = test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_fault, "--max-experiments", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 3u) << r.output;
  EXPECT_EQ(rows[1].config, "FAULT=1");
  EXPECT_EQ(rows[1].status, workspace::Status::crashed);
  EXPECT_NE(rows[1].description.find("signal 11"), std::string::npos) << rows[1].description;
  EXPECT_EQ(rows[2].config, "FAULT=2");
  EXPECT_EQ(rows[2].correctness, "PASS") << rows[2].description;
}

/// `autokernel ARGS` with HOME an empty folder and no git identity anywhere in the environment.
util::CommandOutput autokernel_without_identity(const std::filesystem::path& home, std::vector<std::string> args) {
  std::vector<std::string> argv = {"env"};
  for (const char* v : {"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL",
                        "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "XDG_CONFIG_HOME"}) {
    argv.insert(argv.end(), {"-u", v});
  }
  argv.push_back("HOME=" + home.string());
  argv.push_back("GIT_CONFIG_NOSYSTEM=1");
  argv.push_back(AK_BINARY);
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = util::run_command(argv, std::chrono::minutes(10));
  if (!r) throw std::runtime_error(r.error().message);
  return *r;
}

TEST(Robustness, WithoutAGitIdentityTheWorkspaceGetsItsOwnAndTheUsersConfigIsLeftAlone) {
  const auto home = fresh_dir("home"), ws = fresh_dir("identity");
  std::filesystem::create_directories(home);
  const auto r = autokernel_without_identity(
      home, {"run", "--workspace", ws.string(), "--kernel", k_rms, "--max-experiments", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(rows_of(ws).size(), 2u);
  EXPECT_EQ(git(ws, {"log", "-1", "--format=%an <%ae>"}), "autokernel <autokernel@localhost>");
  EXPECT_EQ(git(ws, {"config", "--local", "user.email"}), "autokernel@localhost");
  EXPECT_FALSE(std::filesystem::exists(home / ".gitconfig")) << "the user's global config must not be written";
}

TEST(Robustness, WithoutGitTheRunSaysSoAndHowToFixIt) {
  const auto ws = fresh_dir("nogit");
  auto r = util::run_command({"env", "PATH=/nonexistent", AK_BINARY, "run", "--workspace", ws.string(), "--kernel",
                              k_rms, "--max-experiments", "1"},
                             std::chrono::minutes(2));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, 2) << r->output;
  EXPECT_NE(r->output.find("git is not installed or not on PATH"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("hint: install git"), std::string::npos) << r->output;
}

TEST(Robustness, AFullDiskWhileRecordingARowIsAClearError) {
  workspace::ResultRow row;
  row.experiment = 7;
  auto a = workspace::ResultsLog("/dev/full").append(row);  // every write fails with ENOSPC
  ASSERT_FALSE(a.has_value());
  EXPECT_NE(
      a.error().message.find("cannot record experiment 7 in /dev/full: No space left on device (the disk is full)"),
      std::string::npos)
      << a.error().message;
  EXPECT_EQ(a.error().hint, "free some disk space, then run the command again");
}

/// In a child process whose files may not grow past `limit` bytes (RLIMIT_FSIZE: what a full disk does to
/// a write, without needing one), run `body`; its exit code comes back.
int with_file_size_limit(rlim_t limit, const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG instead of killing us
    rlimit rl{limit, limit};
    ::setrlimit(RLIMIT_FSIZE, &rl);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST(Robustness, ARowThatDoesNotFitIsTakenBackWholeSoTheLogStaysReadable) {
  const auto path = fresh_dir("log.tsv");
  workspace::ResultsLog log(path);
  workspace::ResultRow row;
  row.kernel = "rmsnorm_cpu";
  ASSERT_TRUE(log.append(row).has_value());
  const auto size = std::filesystem::file_size(path);
  row.experiment = 1;
  row.description = std::string(500, 'x');
  const int code = with_file_size_limit(size + 100, [&] {
    auto a = log.append(row);  // 100 bytes fit, the rest do not
    if (a) return 1;
    return a.error().message.find("cannot record experiment 1") != std::string::npos ? 0 : 2;
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(std::filesystem::file_size(path), size) << "the part of the row that fitted must be cut off again";
  row.experiment = 2;
  ASSERT_TRUE(log.append(row).has_value());
  const auto rows = *log.read();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].experiment, 2);
}

TEST(Robustness, AnAtomicWriteThatDoesNotFitLeavesTheOldFileAndNoTemporary) {
  const auto dir = fresh_dir("atomic");
  std::filesystem::create_directories(dir);
  const auto file = dir / "state.json";
  ASSERT_TRUE(util::write_file_atomic(file, "old").has_value());
  const int code = with_file_size_limit(1000, [&] {
    auto w = util::write_file_atomic(file, std::string(5000, 'n'));
    if (w) return 1;
    if (w.error().message.find("File too large") == std::string::npos) return 2;
    return w.error().hint.empty() ? 3 : 0;
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(*util::read_file(file), "old");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1) << "the temporary file must be removed";
}

TEST(Robustness, WhileARunGoesOnStatusShowsItAndASecondRunRefusesNamingIt) {
  const auto ws = fresh_dir("live");
  std::vector<std::string> args = {AK_BINARY,           "run", "--workspace",   ws.string(), "--kernel", k_rms,
                                   "--max-experiments", "5",   "--max-reverts", "20",        "--tag",    "live"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  // Wait until it is inside an experiment after its first one.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  std::optional<workspace::RunState> state;
  while (std::chrono::steady_clock::now() < deadline) {
    state = workspace::RunState::read(ws);
    if (state && state->experiments >= 1 && !state->current_kernel.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(state && state->experiments >= 1);
  const auto status = test::autokernel({"status", "--workspace", ws.string()});
  const auto second = test::autokernel({"run", "--workspace", ws.string(), "--max-experiments", "1", "--tag", "live"});
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);

  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find(fmt::format("running (pid {})", pid)), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("now: rmsnorm_cpu, experiment"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("experiments/hour"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("experiments left"), std::string::npos) << status.output;
  EXPECT_EQ(second.exit_code, 2) << second.output;
  EXPECT_NE(second.output.find(fmt::format("another autokernel run is using {} (pid {})", ws.string(), pid)),
            std::string::npos)
      << second.output;

  // After it: finished, why, and no current kernel.
  const auto after = test::autokernel({"status", "--workspace", ws.string()});
  EXPECT_NE(after.output.find("finished: 5 experiments done"), std::string::npos) << after.output;
  EXPECT_EQ(after.output.find("now:"), std::string::npos) << after.output;
  EXPECT_EQ(rows_of(ws).size(), 5u);
}

TEST(Robustness, StatusOfAKilledRunSaysItWasInterrupted) {
  const auto ws = fresh_dir("killed");
  std::filesystem::create_directories(ws);
  workspace::RunState s;
  s.tag = "k";
  s.pid = 999999;
  s.started_at = workspace::unix_now() - 100;
  s.updated_at = workspace::unix_now() - 50;
  s.budget_s = 3600;
  s.current_kernel = "rmsnorm_cpu";
  ASSERT_TRUE(s.write(ws).has_value());  // "running", but nobody holds the lock
  const auto r = test::autokernel({"status", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("interrupted (`autokernel run` resumes it)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("budget 1h00m: 59m10s left"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no experiments yet"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ak
