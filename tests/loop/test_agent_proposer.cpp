// The agent proposer, run as a user runs it (the autokernel binary, CPU backend) with scripted agents
// from tests/data/agents/: a good edit is kept, a wrong one reverted, edits outside the candidate put
// back and named, a hang cut off, and the agent is handed what it needs.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "workspace/results_log.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

namespace ak {
namespace {

using test::git;

const std::filesystem::path k_rms = test::source_dir() / "tests/data/loop_kernels/rmsnorm_repeat.cpp";
const std::filesystem::path k_program = test::source_dir() / "tests/data/agents/program.md";
const std::string k_candidate = "kernels/rmsnorm_cpu/kernel.cpp";

/// A new workspace per test and process (two runs of the suite at once must not share one), removed
/// when the test passes and kept for a look when it fails.
class AgentProposer : public ::testing::Test {
 protected:
  std::filesystem::path fresh_workspace(const std::string& name) {
    m_ws = std::filesystem::temp_directory_path() / fmt::format("ak_ws_agent_{}_{}", name, ::getpid());
    (void)util::remove_tree(m_ws);
    return m_ws;
  }
  void TearDown() override {
    if (!m_ws.empty() && !HasFailure()) (void)util::remove_tree(m_ws);
  }

 private:
  std::filesystem::path m_ws;
};

/// The baseline (experiment 0), then one experiment by the scripted agent `script`.
util::CommandOutput run_agent(const std::filesystem::path& ws, const std::string& script, int timeout_s = 60,
                              const std::filesystem::path& program = k_program) {
  const auto agent = test::source_dir() / "tests/data/agents" / script;
  return test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms.string(), "--proposer", "agent",
                           "--cmd", "bash " + agent.string(), "--max-experiments", "2", "--agent-timeout",
                           std::to_string(timeout_s), "--program", program.string()});
}

bool on_branch(const std::filesystem::path& ws, const std::string& commit) {
  int code = 0;
  git(ws, {"merge-base", "--is-ancestor", commit, "HEAD"}, &code);
  return code == 0;
}

std::vector<workspace::ResultRow> rows_of(const std::filesystem::path& ws) {
  return *workspace::ResultsLog(ws / "results.tsv").read();
}

std::string read(const std::filesystem::path& p) {
  auto text = util::read_file(p);
  return text ? *text : "";
}

bool contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

/// Alive and not a zombie (a container's init may never reap one).
bool process_alive(pid_t pid) {
  const auto stat = read(fmt::format("/proc/{}/stat", pid));
  if (stat.empty()) return false;
  const auto state = stat.find(") ");
  return state == std::string::npos || stat[state + 2] != 'Z';
}

TEST_F(AgentProposer, AGoodEditIsCommittedBenchedAndKept) {
  const auto ws = fresh_workspace("good");
  const auto r = run_agent(ws, "good.sh");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  EXPECT_EQ(rows[0].status, workspace::Status::baseline);
  EXPECT_EQ(rows[1].status, workspace::Status::kept) << rows[1].description;
  EXPECT_EQ(rows[1].description, "compute each row once (REPEAT 8 -> 1)");
  EXPECT_EQ(rows[1].config, "REPEAT=1,UNROLL=1");
  EXPECT_LT(rows[1].latency_us, rows[0].latency_us / 1.5);
  EXPECT_TRUE(on_branch(ws, rows[1].commit));
  EXPECT_TRUE(contains(git(ws, {"log", "-1", "--format=%s"}), "exp 1: rmsnorm_cpu: compute each row once"));
  EXPECT_TRUE(contains(read(ws / k_candidate), "@knob REPEAT=1 "));
  EXPECT_EQ(git(ws, {"status", "--porcelain"}), "");
}

TEST_F(AgentProposer, AWrongEditIsRecordedIncorrectAndReverted) {
  const auto ws = fresh_workspace("wrong");
  const auto r = run_agent(ws, "wrong.sh");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  EXPECT_EQ(rows[1].status, workspace::Status::incorrect) << rows[1].description;
  EXPECT_EQ(rows[1].correctness, "FAIL");
  EXPECT_TRUE(rows[1].description.starts_with("scale the output by two")) << rows[1].description;
  // Its commit exists but is off the branch; the file is the starter again.
  int code = 0;
  git(ws, {"cat-file", "-e", rows[1].commit + "^{commit}"}, &code);
  EXPECT_EQ(code, 0);
  EXPECT_FALSE(on_branch(ws, rows[1].commit));
  EXPECT_EQ(read(ws / k_candidate), read(k_rms));
  EXPECT_EQ(git(ws, {"status", "--porcelain"}), "");
}

TEST_F(AgentProposer, EditsOutsideTheCandidateAreRevertedAndNamed) {
  const auto ws = fresh_workspace("outside");
  const auto r = run_agent(ws, "outside.sh");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  // The agent's fake row in results.tsv is gone: only the loop's two rows remain.
  ASSERT_EQ(rows.size(), 2u) << read(ws / "results.tsv");
  EXPECT_FALSE(contains(read(ws / "results.tsv"), "fake"));
  // The candidate's own edit goes on as usual; everything else is named in the description.
  EXPECT_EQ(rows[1].status, workspace::Status::kept) << rows[1].description;
  const auto& d = rows[1].description;
  EXPECT_TRUE(d.starts_with("compute each row once, and some housekeeping")) << d;
  EXPECT_TRUE(contains(d, "reverted edits outside the candidate: .gitignore, kernels/evil.txt, results.tsv")) << d;
  EXPECT_TRUE(contains(d, "undid the agent's git commits")) << d;
  // The new file is gone (though the agent's .gitignore hid it from git), .gitignore is as it was, and
  // the agent's own commit is not on the branch.
  EXPECT_FALSE(std::filesystem::exists(ws / "kernels/evil.txt"));
  EXPECT_EQ(read(ws / ".gitignore"), "results.tsv\nrun.lock\n.autokernel/\n");
  EXPECT_FALSE(contains(git(ws, {"log", "--format=%s"}), "agent: ignore the kernels"));
  EXPECT_TRUE(on_branch(ws, rows[1].commit));
  EXPECT_EQ(git(ws, {"show", "--name-only", "--format=", rows[1].commit}), k_candidate);
  EXPECT_EQ(git(ws, {"status", "--porcelain"}), "");
}

TEST_F(AgentProposer, AHungAgentIsCutOffAtItsTimeoutAndItsEditsUndone) {
  const auto ws = fresh_workspace("hang");
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_agent(ws, "hang.sh", 8);  // 8 s: time for the agent to start and write its files on a loaded box
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(elapsed, 300) << "the hung agent was not cut off";
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  EXPECT_EQ(rows[1].status, workspace::Status::proposer_failed);
  EXPECT_TRUE(contains(rows[1].description, "the agent did not finish within 8 s")) << rows[1].description;
  EXPECT_TRUE(contains(rows[1].description, "reverted edits outside the candidate: notes.txt")) << rows[1].description;
  // Nothing of it is left: not its edits, not the process it started.
  EXPECT_EQ(read(ws / k_candidate), read(k_rms));
  EXPECT_FALSE(std::filesystem::exists(ws / "notes.txt"));
  EXPECT_EQ(git(ws, {"status", "--porcelain"}), "");
  const auto pid = read(ws / ".autokernel/sleep.pid");
  ASSERT_FALSE(pid.empty());
  EXPECT_FALSE(process_alive(std::stoi(pid))) << "the agent's sleep " << pid << " survived";
}

TEST_F(AgentProposer, WhatAFinishedAgentLeftRunningIsStoppedAndItsEditStillCounts) {
  const auto ws = fresh_workspace("leftover");
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_agent(ws, "leftover.sh", 120);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_LT(elapsed, 100) << "the run waited for the agent's leftover process";
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  EXPECT_EQ(rows[1].status, workspace::Status::kept) << rows[1].description;
  const auto pid = read(ws / ".autokernel/leftover.pid");
  ASSERT_FALSE(pid.empty());
  EXPECT_FALSE(process_alive(std::stoi(pid))) << "the agent's leftover sleep " << pid << " survived";
}

TEST_F(AgentProposer, TheAgentIsHandedProgramSourceHistoryAndItsEnvironment) {
  const auto ws = fresh_workspace("prompt");
  const auto r = run_agent(ws, "silent.sh");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  // An agent that changes nothing costs one failed experiment and no commit.
  EXPECT_EQ(rows[1].status, workspace::Status::proposer_failed);
  EXPECT_TRUE(contains(rows[1].description, "the agent made no change to the candidate")) << rows[1].description;
  EXPECT_EQ(rows[1].commit, rows[0].commit);

  const auto prompt = read(ws / ".autokernel/prompt_seen.md");
  EXPECT_TRUE(contains(prompt, "PROGRAM-MARKER")) << prompt;
  EXPECT_TRUE(contains(prompt, "```cpp\n" + read(k_rms) + "```")) << prompt;
  EXPECT_TRUE(contains(prompt, "| REPEAT | 8 | 1, 2, 4, 8 | times each row is computed |")) << prompt;
  // The prompt prints the timing to 2 decimals from the run's own value; the row read back from results.tsv has 3,
  // so a third decimal of 5 may round either way: compare the numbers.
  const std::string row0 = "| 0 | baseline | ";
  const auto at = prompt.find(row0);
  ASSERT_NE(at, std::string::npos) << prompt;
  EXPECT_NEAR(std::stod(prompt.substr(at + row0.size())), rows[0].latency_us, 0.0051) << prompt;
  EXPECT_TRUE(contains(prompt, "Best so far (experiment 0, baseline)")) << prompt;
  EXPECT_TRUE(contains(prompt, "knobs REPEAT=8,UNROLL=1")) << prompt;
  EXPECT_TRUE(contains(prompt, "Edit only `" + k_candidate + "`")) << prompt;
  EXPECT_TRUE(contains(prompt, "prefixed `DESCRIPTION:`")) << prompt;

  const auto real_ws = std::filesystem::canonical(ws).string();
  const auto env = read(ws / ".autokernel/env.txt");
  EXPECT_TRUE(contains(env, "AUTOKERNEL_KERNEL_FILE=" + (ws / k_candidate).string() + "\n")) << env;
  EXPECT_TRUE(contains(env, "AUTOKERNEL_KERNEL_TYPE=rmsnorm\n")) << env;
  EXPECT_TRUE(contains(env, "AUTOKERNEL_PROMPT=" + (ws / ".autokernel/prompt.md").string() + "\n")) << env;
  EXPECT_TRUE(contains(env, "AUTOKERNEL_WORKSPACE=" + ws.string() + "\n")) << env;
  EXPECT_EQ(read(ws / ".autokernel/pwd.txt"), real_ws + "\n");
  EXPECT_EQ(read(ws / ".autokernel/stdin.txt"), "/dev/null\n");
}

TEST_F(AgentProposer, AFailingAgentIsAFailedExperimentWithItsExitCodeAndLastWords) {
  const auto ws = fresh_workspace("crash");
  // No program file: the prompt falls back to a paragraph of its own.
  const auto r = run_agent(ws, "crash.sh", 60, ws / "no_such_program.md");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  EXPECT_EQ(rows[1].status, workspace::Status::proposer_failed);
  EXPECT_TRUE(contains(rows[1].description, "the agent exited with code 3")) << rows[1].description;
  EXPECT_TRUE(contains(rows[1].description, "rate limited")) << rows[1].description;
  EXPECT_EQ(read(ws / k_candidate), read(k_rms));
  EXPECT_TRUE(contains(read(ws / ".autokernel/prompt.md"), "You optimise one kernel for autokernel"));
}

TEST_F(AgentProposer, WhatTheAgentChangedUnderGitIsPutBackAndItsHookBreaksNoCommit) {
  const auto ws = fresh_workspace("git_tamper");
  const auto r = run_agent(ws, "git_tamper.sh");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = rows_of(ws);
  ASSERT_EQ(rows.size(), 2u) << r.output;
  // Its hook would have failed the experiment's commit ("git commit failed: " and nothing else).
  EXPECT_EQ(rows[1].status, workspace::Status::kept) << rows[1].description;
  EXPECT_TRUE(on_branch(ws, rows[1].commit));
  const auto& d = rows[1].description;
  for (const auto* what : {".git/config", ".git/hooks/pre-commit", "refs/heads/agent-branch", "refs/tags/agent-tag"}) {
    EXPECT_TRUE(contains(d, what)) << what << " not named in: " << d;
  }
  EXPECT_FALSE(std::filesystem::exists(ws / ".git/hooks/pre-commit"));
  EXPECT_FALSE(contains(read(ws / ".git/config"), "agentWasHere"));
  EXPECT_EQ(git(ws, {"tag", "--list"}), "");
  EXPECT_FALSE(contains(git(ws, {"branch", "--list"}), "agent-branch"));
  EXPECT_EQ(git(ws, {"status", "--porcelain"}), "");
}

/// autokernel killed with SIGKILL while the agent works: the agent's whole tree dies with it (it used to
/// be adopted by init and work on beside the next run).
TEST_F(AgentProposer, KillingAutokernelWithSigkillKillsTheAgentsTree) {
  const auto ws = fresh_workspace("kill9");
  const auto agent = test::source_dir() / "tests/data/agents/hang.sh";
  std::vector<std::string> args = {
      AK_BINARY,           "run",        "--workspace",     ws.string(), "--kernel",
      k_rms.string(),      "--proposer", "agent",           "--cmd",     "bash " + agent.string(),
      "--max-experiments", "2",          "--agent-timeout", "120",       "--program",
      k_program.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(AK_BINARY, argv.data());
    ::_exit(127);
  }
  const auto pid_file = ws / ".autokernel/sleep.pid";
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (read(pid_file).empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  const auto sleep_pid = read(pid_file);
  ASSERT_FALSE(sleep_pid.empty()) << "the agent never started";
  const auto gone = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (process_alive(std::stoi(sleep_pid)) && std::chrono::steady_clock::now() < gone) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(process_alive(std::stoi(sleep_pid))) << "the agent's sleep " << sleep_pid << " outlived autokernel";
}

TEST_F(AgentProposer, WithoutCmdTheRunRefusesWithAClearMessage) {
  const auto ws = fresh_workspace("nocmd");
  const auto r = test::autokernel(
      {"run", "--workspace", ws.string(), "--kernel", k_rms.string(), "--proposer", "agent", "--max-experiments", "2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.output, "autokernel: error: the agent proposer needs --cmd \"<command line>\"")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: ")) << r.output;
  EXPECT_FALSE(std::filesystem::exists(ws / "results.tsv"));
}

}  // namespace
}  // namespace ak
