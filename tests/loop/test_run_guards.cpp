// What keeps an overnight run from being wrecked by its input or its proposer (issue 18): bad input is
// refused before anything runs or is written (exit 2, one line, a hint), a status the harness gives to
// bad input never marks a kernel done, and a proposer outage is waited out, then stopped, never taken
// for "no gain".
#include <gtest/gtest.h>

#include <fmt/ranges.h>

#include "backends/backend.hpp"
#include "workspace/results_log.hpp"
#include "workspace/run_state.hpp"
#include "loop/experiment.hpp"
#include "workspace/workspace.hpp"
#include "profile/profile.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

const std::string k_rms = (test::source_dir() / "tests/data/loop_kernels/rmsnorm_repeat.cpp").string();

std::filesystem::path fresh(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("ak_guard_" + name);
  (void)util::remove_tree(d);
  return d;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<workspace::ResultRow> rows_of(const std::filesystem::path& ws) {
  return *workspace::ResultsLog(ws / "results.tsv").read();
}

TEST(RunGuards, BadInputIsRefusedBeforeAnythingIsWritten) {
  const auto ws = fresh("bad_input");
  const std::string w = ws.string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "--workspace", w, "--kernel", k_rms, "--dtype", "fp8"}, "unknown dtype 'fp8'"},
      {{"run", "--workspace", w, "--kernel", k_rms, "--budget=-5m"}, "must not be negative"},
      {{"run", "--workspace", w, "--kernel", k_rms, "--case-timeout", "0"}, "--case-timeout"},
      {{"run", "--workspace", w, "--kernel", k_rms, "--case-timeout", "-1"}, "--case-timeout"},
      {{"run", "--workspace", w, "--kernel", k_rms, "--max-reverts", "0"}, "--max-reverts"},
      {{"run", "--workspace", w, "--kernel", k_rms, "--proposer", "serach"}, "--proposer"},
      {{"run", "--workspace", w, "--kernel", k_rms, "--proposer", "agent"}, "--cmd"},
      {{"run", "--workspace", w, "--kernel", w + "/no_such_kernel.cpp"}, "--kernel"},
      {{"run", "--workspace", w}, "no kernels in"},  // a typo'd path: nothing there to run
      {{"bench", "--kernel", k_rms, "--dtype", "fp8"}, "unknown dtype 'fp8'"},
      {{"bench", "--kernel", k_rms, "--case-timeout", "0"}, "--case-timeout"},
      {{"profile", "--workspace", w, "--model", "hf:llama", "--input-shape", "0,64", "--device", "cpu"},
       "--input-shape must be positive sizes"},
  };
  for (const auto& [args, why] : cases) {
    const auto r = test::autokernel(args);
    EXPECT_EQ(r.exit_code, 2) << fmt::format("{}", fmt::join(args, " ")) << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, why)) << fmt::format("{}", fmt::join(args, " ")) << "\n" << r.output;
    EXPECT_FALSE(contains(r.output, "stage")) << "it ran before refusing: " << r.output;
    EXPECT_FALSE(std::filesystem::exists(ws)) << fmt::format("{}", fmt::join(args, " ")) << " wrote " << w;
    (void)util::remove_tree(ws);
  }
}

TEST(RunGuards, ExtractForTheGpuOnAMachineWithoutOneIsRefused) {
  if (backends::cuda_available()) GTEST_SKIP() << "this machine has a GPU";
  const auto ws = fresh("extract_cuda");
  std::filesystem::create_directories(ws);
  profile::ModelProfile p;
  p.basis = "cpu";
  p.total_us = 10;
  p.kernels.push_back({"aten::cumsum", false, 10, 1.0, 1, {"aten::cumsum"}, {}, {}});
  ASSERT_TRUE(util::write_file_atomic(ws / "profile.json", p.to_json().dump()));
  const auto r = test::autokernel({"extract", "--workspace", ws.string(), "--backend", "cuda"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--backend cuda needs a GPU, and there is none here")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: use --backend cpu")) << r.output;
  EXPECT_FALSE(std::filesystem::exists(ws / ".git")) << "the workspace was touched";
  (void)util::remove_tree(ws);
}

TEST(RunGuards, RevertWithNothingEditedWritesNoRow) {
  const auto ws = fresh("revert_nothing");
  ASSERT_EQ(
      test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--max-experiments", "1"}).exit_code, 0);
  const auto r = test::autokernel({"revert", "--workspace", ws.string(), "--kernel", "rmsnorm_cpu"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "nothing to revert")) << r.output;
  EXPECT_EQ(rows_of(ws).size(), 1u);
  (void)util::remove_tree(ws);
}

TEST(RunGuards, ARowTheHarnessCouldNotJudgeNeverMarksTheKernelDone) {
  // A workspace from before these guards: its only row is the `error` a typo'd dtype gave the baseline.
  const auto ws = fresh("legacy_error");
  ASSERT_EQ(
      test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--max-experiments", "1"}).exit_code, 0);
  auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 1u);
  (void)util::remove_tree(ws / "results.tsv");
  rows[0].status = workspace::Status::invalid;
  rows[0].correctness = "FAIL";
  ASSERT_TRUE(workspace::ResultsLog(ws / "results.tsv").append(rows[0]));
  auto text = *util::read_file(ws / "results.tsv");  // as the older version wrote it
  text.replace(text.find("\tinvalid\t"), 9, "\terror\t");
  ASSERT_TRUE(util::write_file_atomic(ws / "results.tsv", text));
  ASSERT_EQ(rows_of(ws).at(0).status, workspace::Status::invalid) << "read back under today's name";
  const auto r = test::autokernel({"run", "--workspace", ws.string(), "--max-experiments", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "its starter fails the harness")) << r.output;
  rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  EXPECT_EQ(rows[1].status, workspace::Status::baseline) << "the starter is measured again";
  (void)util::remove_tree(ws);
}

TEST(RunGuards, AProposerOutageIsWaitedOutThenStoppedAndTheKernelStaysAlive) {
  const auto ws = fresh("outage");
  // The agent fails every call (an endpoint that is down). Were a failure a "no gain", --max-reverts 2 would
  // mark the kernel done after two.
  auto r = test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--proposer", "agent", "--cmd",
                             "exit 3", "--max-reverts", "2", "--max-proposer-failures", "4", "--proposer-backoff",
                             "0.1", "--max-experiments", "20"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "the proposer failed 4 times in a row")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: fix the agent proposer")) << r.output;
  EXPECT_TRUE(contains(r.output, "(1 in a row, stop at 4): waiting 0.1 s")) << r.output;
  EXPECT_TRUE(contains(r.output, "(3 in a row, stop at 4): waiting 0.4 s")) << r.output;  // doubling
  EXPECT_FALSE(contains(r.output, "every kernel is done")) << r.output;
  auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 5u) << r.output;  // the baseline and four failures
  for (std::size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i].status, workspace::Status::proposer_failed);
  const auto state = workspace::RunState::read(ws);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->state, "stopped");
  EXPECT_TRUE(state->done.at("rmsnorm_cpu").empty()) << state->done.at("rmsnorm_cpu");
  // Once the proposer works again the run resumes the kernel where it was.
  r = test::autokernel({"run", "--workspace", ws.string(), "--max-reverts", "2", "--max-experiments", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 6u) << r.output;
  EXPECT_NE(rows[5].status, workspace::Status::proposer_failed);
  (void)util::remove_tree(ws);
}

TEST(RunGuards, TheBudgetIsThisInvocations) {
  const auto ws = fresh("budget");
  ASSERT_EQ(
      test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--max-experiments", "3"}).exit_code, 0);
  // The earlier rows' seconds do not count against a new --budget.
  auto rows = rows_of(ws);
  (void)util::remove_tree(ws / "results.tsv");
  for (auto& row : rows) {
    row.seconds = 3600;
    ASSERT_TRUE(workspace::ResultsLog(ws / "results.tsv").append(row));
  }
  const auto r = test::autokernel({"run", "--workspace", ws.string(), "--budget", "10m", "--max-experiments", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "the time budget is spent")) << r.output;
  EXPECT_EQ(rows_of(ws).size(), 4u) << r.output;
  (void)util::remove_tree(ws);
}

TEST(RunGuards, AnExperimentGitCannotRecordLeavesTheWorkspaceAsItWas) {
  const auto ws = fresh("git_fails");
  ASSERT_EQ(
      test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--max-experiments", "1"}).exit_code, 0);
  const auto file = ws / "kernels/rmsnorm_cpu/kernel.cpp";
  const auto before = *util::read_file(file);
  const auto log_before = *util::read_file(ws / "results.tsv");
  ::setenv("AUTOKERNEL_BINARY", AK_BINARY, 1);
  auto opened = workspace::Workspace::open(ws, "run", [](const std::string&) {});
  ASSERT_TRUE(opened) << opened.error().message;
  auto& w = **opened;
  const auto k = *w.kernel("rmsnorm_cpu");
  // Another git process holds the index (what a full disk or a crashed git also does to a commit).
  ASSERT_TRUE(util::write_file_atomic(ws / ".git/index.lock", ""));
  auto r = loop::run_experiment(w, k, before + "// an edit\n", "an edit", "", loop::BenchSettings{});
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message, "experiment 1 was not recorded")) << r.error().message;
  EXPECT_TRUE(contains(r.error().message, "index.lock")) << "git's own words are quoted: " << r.error().message;
  EXPECT_EQ(*util::read_file(file), before);
  EXPECT_EQ(*util::read_file(ws / "results.tsv"), log_before);
  EXPECT_EQ(w.rows().size(), 1u);
  (void)util::remove_tree(ws / ".git/index.lock");
  EXPECT_EQ(test::git(ws, {"status", "--porcelain"}), "");
  opened->reset();
  (void)util::remove_tree(ws);
}

/// A 512 KiB tmpfs at `dir`, filled to the last byte; false where this machine does not let us mount one.
bool full_disk_at(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  auto m =
      util::run_command({"mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", dir.string()}, std::chrono::seconds(10));
  if (!m || m->exit_code != 0) return false;
  (void)util::run_command({"dd", "if=/dev/zero", "of=" + (dir / "filler").string(), "bs=4k"}, std::chrono::seconds(10));
  return true;
}

TEST(RunGuards, ABuildCacheOnAFullDiskStopsTheRunWithoutARow) {
  const auto cache = fresh("full_cache");
  if (!full_disk_at(cache)) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const auto ws = fresh("full_cache_ws");
  auto r = [&] {
    const test::ScopedEnv env("AUTOKERNEL_CACHE", cache.string());
    return test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--max-experiments", "2"});
  }();
  (void)util::run_command({"umount", cache.string()}, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "the disk is full")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: free some disk space")) << r.output;
  EXPECT_TRUE(rows_of(ws).empty()) << "a full disk is not the starter's failure";
  // With space again the same command goes on as if nothing had happened.
  r = test::autokernel({"run", "--workspace", ws.string(), "--max-experiments", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(rows_of(ws).at(0).status, workspace::Status::baseline);
  (void)util::remove_tree(ws);
  (void)util::remove_tree(cache);
}

TEST(RunGuards, AnExportOntoAFullDiskSaysSo) {
  const auto out = fresh("full_export");
  if (!full_disk_at(out)) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const auto ws = fresh("full_export_ws");
  ASSERT_EQ(
      test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms, "--max-experiments", "1"}).exit_code, 0);
  const auto r = test::autokernel({"export", "--workspace", ws.string(), "--out", out.string(), "--all"});
  (void)util::run_command({"umount", out.string()}, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "the disk is full")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: free some disk space")) << r.output;
  (void)util::remove_tree(ws);
  (void)util::remove_tree(out);
}

TEST(RunGuards, ARunStoppedByAFullDiskStillTellsStatusWhy) {
  const auto ws = fresh("full_state");
  if (!full_disk_at(ws)) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  (void)util::remove_tree(ws / "filler");
  workspace::RunState state;
  state.tag = "run";
  state.state = "running";
  state.done["rmsnorm_cpu"] = "";
  ASSERT_TRUE(state.write(ws));  // while there was room
  (void)util::run_command({"dd", "if=/dev/zero", "of=" + (ws / "filler").string(), "bs=4k"}, std::chrono::seconds(10));
  state.state = "failed";
  state.stop_reason = "the disk is full";
  const auto w = state.write(ws);
  const auto back = workspace::RunState::read(ws);
  (void)util::run_command({"umount", ws.string()}, std::chrono::seconds(10));
  EXPECT_TRUE(w) << w.error().message;
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state, "failed");
  EXPECT_EQ(back->stop_reason, "the disk is full");
  (void)util::remove_tree(ws);
}

TEST(RunGuards, AUsersOwnRepositoryIsNotTakenForAWorkspace) {
  const auto repo = fresh("own_repo");
  std::filesystem::create_directories(repo);
  test::git(repo, {"init", "-q"});
  test::git(repo, {"-c", "user.name=u", "-c", "user.email=u@x", "commit", "-q", "--allow-empty", "-m", "my project"});
  const auto head = test::git(repo, {"rev-parse", "HEAD"});
  const auto branch = test::git(repo, {"symbolic-ref", "--short", "HEAD"});
  const auto r = test::autokernel({"run", "--workspace", repo.string(), "--kernel", k_rms, "--max-experiments", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "is a git repository that autokernel did not make (its first commit: 'my project')"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "hint: give --workspace a new folder")) << r.output;
  EXPECT_EQ(test::git(repo, {"rev-parse", "HEAD"}), head);
  EXPECT_EQ(test::git(repo, {"symbolic-ref", "--short", "HEAD"}), branch);
  EXPECT_EQ(test::git(repo, {"status", "--porcelain"}), "") << "nothing written into it";
  // A folder inside it is fine: it becomes a workspace of its own.
  const auto inner =
      test::autokernel({"run", "--workspace", (repo / "ws").string(), "--kernel", k_rms, "--max-experiments", "1"});
  EXPECT_EQ(inner.exit_code, 0) << inner.output;
  EXPECT_EQ(test::git(repo, {"rev-parse", "HEAD"}), head);
  (void)util::remove_tree(repo);
}

}  // namespace
}  // namespace ak
