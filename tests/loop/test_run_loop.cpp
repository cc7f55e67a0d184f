// The loop, run as a user runs it (the autokernel binary, CPU backend, search proposer), then checked
// row by row against the git history it leaves.
#include <gtest/gtest.h>

#include <csignal>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <thread>

#include "workspace/results_log.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

extern char** environ;

namespace ak {
namespace {

using test::git;

const std::string k_rms = (test::source_dir() / "tests/data/loop_kernels/rmsnorm_repeat.cpp").string();
const std::string k_reduce = (test::source_dir() / "tests/data/loop_kernels/reduce_repeat.cpp").string();

std::filesystem::path fresh_workspace(const std::string& name) {
  auto ws = std::filesystem::temp_directory_path() / ("ak_ws_" + name);
  (void)util::remove_tree(ws);
  return ws;
}

bool is_ancestor(const std::filesystem::path& ws, const std::string& commit) {
  int code = 0;
  git(ws, {"merge-base", "--is-ancestor", commit, "HEAD"}, &code);
  return code == 0;
}

std::vector<workspace::ResultRow> rows_of(const std::filesystem::path& ws) {
  return *workspace::ResultsLog(ws / "results.tsv").read();
}

/// Every row against git: its commit exists; kept and baseline commits are on the branch, the others are not.
void expect_history_matches_rows(const std::filesystem::path& ws) {
  for (const auto& r : rows_of(ws)) {
    int code = 0;
    git(ws, {"cat-file", "-e", r.commit + "^{commit}"}, &code);
    EXPECT_EQ(code, 0) << "experiment " << r.experiment << ": commit " << r.commit << " missing";
    if (r.status == workspace::Status::proposer_failed || r.status == workspace::Status::hand_reverted)
      continue;  // no commit of their own
    if (r.status == workspace::Status::kept || r.status == workspace::Status::baseline) {
      EXPECT_TRUE(is_ancestor(ws, r.commit)) << "kept experiment " << r.experiment << " is not on the branch";
    } else {
      EXPECT_FALSE(is_ancestor(ws, r.commit)) << "reverted experiment " << r.experiment << " is still on the branch";
      EXPECT_NE(git(ws, {"log", "-1", "--format=%s", r.commit}).find(fmt::format("exp {}:", r.experiment)),
                std::string::npos);
    }
  }
}

TEST(RunLoop, SearchRunsTwentyExperimentsOnTwoKernelsKeepsRealGainsAndLogsEveryOne) {
  const auto ws = fresh_workspace("search");
  const auto r = test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--kernel", k_reduce,
                                   "--max-experiments", "22", "--max-reverts", "8", "--tag", "t1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  // 22 rows, or fewer when both kernels ran out of gains first (8 reverts in a row each: on a busy CPU the
  // timings' noise decides how soon the last real gain, REPEAT=1, is reached). Every experiment is a row.
  if (rows.size() != 22u) {
    EXPECT_NE(r.output.find("stopping: every kernel is done"), std::string::npos) << r.output;
    ASSERT_GE(rows.size(), 2u + 2 * 8) << r.output;
  }
  ASSERT_LE(rows.size(), 22u) << r.output;
  std::set<std::string> kernels;
  int kept = 0;
  for (const auto& row : rows) {
    kernels.insert(row.kernel);
    kept += row.status == workspace::Status::kept;
    EXPECT_EQ(row.tag, "t1");
  }
  EXPECT_EQ(kernels.size(), 2u);
  EXPECT_GE(kept, 1);
  EXPECT_EQ(git(ws, {"rev-parse", "--abbrev-ref", "HEAD"}), "autokernel/t1");
  expect_history_matches_rows(ws);
  // The real gain: the rmsnorm kernel computed each row 8 times; the kept version does it fewer times,
  // and is measurably faster than the baseline.
  const workspace::ResultRow *base = nullptr, *best = nullptr;
  for (const auto& row : rows) {
    if (row.kernel != "rmsnorm_cpu") continue;
    if (row.status == workspace::Status::baseline) base = best = &row;
    if (row.status == workspace::Status::kept) best = &row;
  }
  ASSERT_TRUE(base && best && best != base);
  EXPECT_LT(best->latency_us, base->latency_us / 1.5);
  EXPECT_EQ(best->config.find("REPEAT=8"), std::string::npos);
  // The work tree holds the best version: its knob defaults are the kept configuration.
  auto text = *util::read_file(ws / "kernels/rmsnorm_cpu/kernel.cpp");
  auto repeat = best->config.substr(best->config.find("REPEAT="), 8);
  EXPECT_NE(text.find("@knob " + repeat), std::string::npos) << best->config;
  // No configuration is measured twice.
  std::set<std::string> seen;
  for (const auto& row : rows) EXPECT_TRUE(seen.insert(row.kernel + row.config).second) << row.config;
}

TEST(RunLoop, AKillMidExperimentLosesNothingAndRepeatsNoKeptWork) {
  const auto ws = fresh_workspace("kill");
  std::vector<std::string> args = {AK_BINARY,  "run",    "--workspace",       ws.string(), "--kernel",      k_rms,
                                   "--kernel", k_reduce, "--max-experiments", "40",        "--max-reverts", "20",
                                   "--tag",    "t2"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ), 0);
  // Wait for a few rows, then kill the whole group in the middle of the next experiment.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(ws / "results.tsv") && rows_of(ws).size() >= 6) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The next experiment's commit made, its row not yet written: kill now. (A fixed 400 ms wait left little
  // margin: on a loaded 2-core machine a row to the next commit took up to 0.3 s.)
  while (std::chrono::steady_clock::now() < deadline) {
    const auto next = "exp " + std::to_string(rows_of(ws).size()) + ":";
    if (git(ws, {"log", "-1", "--format=%s"}).starts_with(next)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(-pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const auto before = rows_of(ws);
  ASSERT_GE(before.size(), 6u);

  const auto r = test::autokernel(
      {"run", "--workspace", ws.string(), "--max-experiments", "6", "--max-reverts", "20", "--tag", "t2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto after = rows_of(ws);
  ASSERT_EQ(after.size(), before.size() + 6);
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].commit, before[i].commit);
    EXPECT_EQ(after[i].status, before[i].status);
  }
  // Numbering continues, no baseline is taken twice, no configuration is measured twice.
  std::set<std::string> seen;
  int baselines = 0;
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].experiment, static_cast<int>(i));
    baselines += after[i].status == workspace::Status::baseline;
    EXPECT_TRUE(seen.insert(after[i].kernel + after[i].config).second) << after[i].config;
  }
  EXPECT_EQ(baselines, 2);
  expect_history_matches_rows(ws);
  // The kill landed inside an experiment (its commit made, its row not): the resumed run reverted it.
  EXPECT_NE(r.output.find("was interrupted; reverting it"), std::string::npos) << r.output;
  // Nothing unrecorded is left on the branch.
  if (git(ws, {"log", "-1", "--format=%s"}).starts_with("exp ")) {
    const auto head = git(ws, {"rev-parse", "HEAD"});
    EXPECT_TRUE(std::any_of(after.begin(), after.end(), [&](const auto& row) { return row.commit == head; }));
  }
}

TEST(RunLoop, TwoRunsInOneWorkspaceRefuseWithAClearMessage) {
  const auto ws = fresh_workspace("lock");
  std::filesystem::create_directories(ws);
  const int fd = ::open((ws / "run.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // a run in progress holds this
  const auto r = test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--max-experiments", "1"});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("another autokernel run is using"), std::string::npos) << r.output;
}

TEST(RunLoop, AWorkspaceWithoutKernelsSaysHowToAddOne) {
  const auto ws = fresh_workspace("empty");
  const auto r = test::autokernel({"run", "--workspace", ws.string(), "--max-experiments", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no kernels in"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hint: add some with --kernel"), std::string::npos) << r.output;
}

TEST(RunLoop, KernelsPicksWhichOfTheWorkspacesKernelsToWorkOn) {
  const auto ws = fresh_workspace("only");
  auto r = test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--kernel", k_reduce, "--kernels",
                             "reduce_cpu", "--max-experiments", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 3u) << r.output;
  for (const auto& row : rows) EXPECT_EQ(row.kernel, "reduce_cpu");
  r = test::autokernel({"run", "--workspace", ws.string(), "--kernels", "nope", "--max-experiments", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no kernel 'nope'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rmsnorm_cpu"), std::string::npos) << r.output;  // the hint names the real ones
}

TEST(RunLoop, DonePctMovesOnOnceAKernelIsThatCloseToItsCeiling) {
  // Every kernel is above 0.000001% of its ceiling (even a slow one on a loaded machine), so each gets its
  // baseline and nothing more.
  const auto ws = fresh_workspace("donepct");
  const auto r = test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--kernel", k_reduce,
                                   "--done-pct", "0.000001", "--max-experiments", "6"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  for (const auto& row : rows) EXPECT_EQ(row.status, workspace::Status::baseline);
  EXPECT_NE(r.output.find("every kernel is done"), std::string::npos) << r.output;
}

TEST(RunLoop, StatusSummarisesTheRun) {
  const auto ws = fresh_workspace("status");
  ASSERT_EQ(
      test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--max-experiments", "4"}).exit_code, 0);
  const auto r = test::autokernel({"status", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("rmsnorm_cpu"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4 experiments"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ak
