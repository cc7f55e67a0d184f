// `autokernel run --gpus cpu:2`: two CPU workers standing in for GPUs, on three kernels whose every
// experiment is decided by construction (tests/data/loop_kernels/*_steps.cpp: 4x gains, 16x losses, a wrong
// result; one untried neighbour at each step), so the rows do not depend on timing noise, the seed or which
// worker ran what. Checked: work is shared, the rows equal a one-worker run's, nothing is lost or recorded
// twice under kill -9 of a worker and of the parent, and the same command resumes; at the end each kernel kept
// on cpu:1 is re-timed once on cpu:0, the reference device, and status and report give that speed-up.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "loop/compile_ahead.hpp"
#include "loop/multi_worker.hpp"
#include "loop/run_loop.hpp"
#include "report/report_data.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "workspace/results_log.hpp"
#include "workspace/run_state.hpp"

extern char** environ;

namespace ak {
namespace {

using test::git;
using workspace::ResultRow;
using workspace::Status;
namespace fs = std::filesystem;

const auto k_dir = test::source_dir() / "tests/data/loop_kernels";

std::vector<std::string> run_args(const fs::path& ws) {
  return {"run",
          "--workspace",
          ws.string(),
          "--kernel",
          (k_dir / "rmsnorm_steps.cpp").string(),
          "--kernel",
          (k_dir / "reduce_steps.cpp").string(),
          "--kernel",
          (k_dir / "softmax_steps.cpp").string(),
          "--done-pct",
          "1000",  // never "near its ceiling": a CPU's ceiling is too noisy to stop on
          "--max-speedup",
          "1000",  // nor "implausible": on a loaded machine PyTorch's reference can be 20x slower than alone
          "--seed",
          "7",
          "--tag",
          "mw"};
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

fs::path fresh(const std::string& name) {
  auto ws = fs::temp_directory_path() / fmt::format("ak_mw_{}_{}", name, ::getpid());
  (void)util::remove_tree(ws);
  return ws;
}

std::vector<ResultRow> rows_of(const fs::path& ws) {
  auto rows = workspace::ResultsLog(ws / "results.tsv").read();
  return rows ? *rows : std::vector<ResultRow>{};
}

/// Per kernel, its experiments in order as "config status": what must not depend on who ran them.
std::map<std::string, std::vector<std::string>> sequences(const std::vector<ResultRow>& rows) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& r : rows) {
    if (r.status == Status::retimed) continue;  // a best version timed again on the reference device
    out[r.kernel].push_back(r.config + " " + std::string(workspace::status_name(r.status)));
  }
  return out;
}

/// What every run of these kernels records, by construction.
const std::map<std::string, std::vector<std::string>> k_expected = {
    {"rmsnorm_cpu", {"REPEAT=64 baseline", "REPEAT=8 kept", "REPEAT=1 kept"}},
    {"reduce_cpu", {"MODE=0 baseline", "MODE=1 incorrect", "MODE=2 reverted"}},
    {"softmax_cpu", {"REPEAT=8 baseline", "REPEAT=1 kept", "REPEAT=16 reverted"}},
};

/// Unique numbers; every commit exists; kept and baseline commits are on autokernel/<tag>, the others not.
void expect_rows_match_history(const fs::path& ws) {
  std::set<int> numbers;
  for (const auto& r : rows_of(ws)) {
    EXPECT_TRUE(numbers.insert(r.experiment).second) << "experiment " << r.experiment << " recorded twice";
    int code = 0;
    git(ws, {"cat-file", "-e", r.commit + "^{commit}"}, &code);
    EXPECT_EQ(code, 0) << "experiment " << r.experiment << ": its commit is lost";
    git(ws, {"merge-base", "--is-ancestor", r.commit, "autokernel/mw"}, &code);
    EXPECT_EQ(code == 0, r.status == Status::kept || r.status == Status::baseline || r.status == Status::retimed)
        << "experiment " << r.experiment << " (" << workspace::status_name(r.status) << ")";
  }
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<std::string> a = {AK_BINARY};
  a.insert(a.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

/// Live processes whose command line holds every one of `parts`.
std::vector<pid_t> processes_with(const std::vector<std::string>& parts) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto stat = util::read_file(e.path() / "stat").value_or("");
    const auto state = stat.rfind(") ");
    if (stat.empty() || (state != std::string::npos && stat[state + 2] == 'Z')) continue;
    auto cmdline = util::read_file(e.path() / "cmdline").value_or("");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (std::ranges::all_of(parts, [&](const auto& p) { return cmdline.find(p) != std::string::npos; })) {
      out.push_back(std::stoi(name));
    }
  }
  return out;
}

/// Wait until `done()` or `limit`; false on the limit.
template <typename F>
bool wait_for(F done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(MultiWorker, DevicesAreParsedAndBadOnesRefused) {
  auto d = loop::parse_devices("0,2", 3);
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[1].id, "2");
  EXPECT_TRUE((*d)[1].gpu);
  EXPECT_EQ((*d)[1].index, 2);
  d = loop::parse_devices("all", 2);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->size(), 2u);
  d = loop::parse_devices("cpu:3", 0);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ((*d)[2].id, "cpu:2");
  EXPECT_EQ((*d)[2].model, "cpu");
  EXPECT_FALSE((*d)[2].gpu);
  const std::vector<std::tuple<std::string, int, std::string>> bad = {{"1,1", 2, "GPU 1 is named twice"},
                                                                      {"2", 2, "there is no GPU 2"},
                                                                      {"0", 0, "this machine has no GPU"},
                                                                      {"all", 0, "this machine has no GPU"},
                                                                      {"cpu:0", 0, "must be a whole number from 1"},
                                                                      {"cpu:x", 0, "must be a whole number"},
                                                                      {"0,,1", 2, "'' is not a device"},
                                                                      {"gpu0", 2, "'gpu0' is not"}};
  for (const auto& [text, count, why] : bad) {
    d = loop::parse_devices(text, count);
    ASSERT_FALSE(d) << text;
    EXPECT_NE((d.error().message + " " + d.error().hint).find(why), std::string::npos)
        << text << ": " << d.error().message << " | " << d.error().hint;
    EXPECT_FALSE(d.error().hint.empty()) << text;
  }
}

TEST(MultiWorker, BadGpusAreRefusedBeforeAnythingIsWritten) {
  const auto ws = fresh("bad");
  for (const std::string gpus : {"cpu:0", "cpu:-1", "0,0", "7", "x"}) {
    const auto r = test::autokernel(with(run_args(ws), {"--gpus", gpus}));
    EXPECT_EQ(r.exit_code, 2) << gpus << "\n" << r.output;
    EXPECT_NE(r.output.find("autokernel: error: --gpus"), std::string::npos) << gpus << "\n" << r.output;
    EXPECT_NE(r.output.find("hint: "), std::string::npos) << gpus << "\n" << r.output;
    EXPECT_FALSE(fs::exists(ws)) << "--gpus " << gpus << " wrote the workspace";
  }
}

TEST(MultiWorker, TwoCpuWorkersShareTheKernelsAndRecordWhatOneWorkerRecords) {
  const auto one = fresh("one"), two = fresh("two");
  // One worker compiling nothing ahead, each candidate built by its own bench as it is timed ...
  auto r = test::autokernel(with(run_args(one), {"--compile-ahead", "0"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // ... and two, each compiling the proposer's next candidates while one is timed (the default).
  r = test::autokernel(with(run_args(two), {"--gpus", "cpu:2"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The compiles ahead took the host's slots; with --compile-ahead 0 there were none.
  EXPECT_TRUE(fs::exists(loop::compile_slot_dir(two) / "slot-0"));
  EXPECT_FALSE(fs::exists(one / ".autokernel/compile-slots"));
  // Lines are prefixed with their device.
  EXPECT_NE(r.output.find("[cpu:0] [exp"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[cpu:1] [exp"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stopping: every kernel is done"), std::string::npos) << r.output;

  const auto rows_one = rows_of(one), rows_two = rows_of(two);
  EXPECT_EQ(sequences(rows_one), k_expected);
  EXPECT_EQ(sequences(rows_two), sequences(rows_one));
  std::set<std::string> devices;
  for (const auto& row : rows_two) {
    devices.insert(row.device);
    EXPECT_EQ(row.gpu, "cpu");
    // One kernel's experiments come from one worker in one run.
    if (row.status != Status::retimed) {
      EXPECT_EQ(row.device, std::ranges::find(rows_two, row.kernel, &ResultRow::kernel)->device);
    }
  }
  EXPECT_EQ(devices, (std::set<std::string>{"cpu:0", "cpu:1"})) << "the work was not shared";
  for (const auto& row : rows_one) EXPECT_EQ(row.device, "");  // without --gpus, as before
  expect_rows_match_history(two);
  // autokernel/<tag> holds every kernel's best, as a one-worker run's branch does.
  EXPECT_EQ(git(two, {"rev-parse", "--abbrev-ref", "HEAD"}), "autokernel/mw");
  for (const auto& k : {"rmsnorm_cpu", "reduce_cpu", "softmax_cpu"}) {
    const auto file = fs::path("kernels") / k / "kernel.cpp";
    EXPECT_EQ(util::read_file(two / file).value_or("two"), util::read_file(one / file).value_or("one")) << k;
  }
  EXPECT_EQ(git(two, {"status", "--porcelain"}), "");

  // run.json counts the run's experiments, not its re-timings.
  const auto state = workspace::RunState::read(two);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->experiments, 9) << "three per kernel, without the retimed rows";
  // `status` lists the workers; the same command again finds every kernel done and records nothing.
  const auto status = test::autokernel({"status", "--workspace", two.string()});
  EXPECT_NE(status.output.find("\n9 experiments, "), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("worker cpu:0:"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("worker cpu:1:"), std::string::npos) << status.output;

  // The reference device is cpu:0, the first listed: each kernel whose best row cpu:1 measured has its best
  // commit timed once more there, one `retimed` row; a kernel kept on cpu:0 has none. Both devices ran kernels,
  // so at least one is re-timed. Status shows the re-timed speed-up and says so.
  int retimed_kernels = 0;
  for (const std::string k : {"rmsnorm_cpu", "reduce_cpu", "softmax_cpu"}) {
    const auto* best = workspace::best_row(rows_two, k);
    ASSERT_NE(best, nullptr) << k;
    std::vector<ResultRow> retimed;
    for (const auto& row : rows_two) {
      if (row.kernel == k && row.status == Status::retimed) retimed.push_back(row);
    }
    if (best->device == "cpu:0") {
      EXPECT_TRUE(retimed.empty()) << k << " was kept on the reference device and re-timed:\n" << r.output;
      continue;
    }
    EXPECT_EQ(best->device, "cpu:1") << k;
    ASSERT_EQ(retimed.size(), 1u) << k << "\n" << r.output;
    ++retimed_kernels;
    EXPECT_EQ(retimed[0].device, "cpu:0") << k;
    EXPECT_EQ(retimed[0].gpu, "cpu") << k;
    EXPECT_EQ(retimed[0].commit, best->commit) << k;
    EXPECT_EQ(retimed[0].correctness, "PASS") << k;
    EXPECT_EQ(retimed[0].config, best->config) << k;
    EXPECT_GT(retimed[0].speedup_vs_reference, 0) << k;
    EXPECT_GT(retimed[0].experiment, best->experiment) << k;
    const auto line_at = status.output.find("\n" + k + " ");
    ASSERT_NE(line_at, std::string::npos) << status.output;
    const auto line = status.output.substr(line_at + 1, status.output.find('\n', line_at + 1) - line_at - 1);
    EXPECT_NE(line.find(fmt::format("{:.3f}x", retimed[0].speedup_vs_reference)), std::string::npos) << line << "\n"
                                                                                                     << status.output;
    EXPECT_NE(status.output.find(fmt::format("re-timed on the reference device: ")), std::string::npos)
        << status.output;
    EXPECT_NE(status.output.find(k + " on cpu:0"), std::string::npos) << status.output;
    EXPECT_NE(r.output.find(fmt::format("retiming {} on cpu:0", k)), std::string::npos) << r.output;
  }
  EXPECT_GE(retimed_kernels, 1) << r.output;
  r = test::autokernel(with(run_args(two), {"--gpus", "cpu:2"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(rows_of(two).size(), rows_two.size()) << r.output;
  EXPECT_EQ(workspace::RunState::read(two)->experiments, 0);
  if (!HasFailure()) {
    (void)util::remove_tree(one);
    (void)util::remove_tree(two);
  }
}

TEST(MultiWorker, StatusAndReportGiveTheRetimedSpeedUpOfTheBestVersionOnly) {
  // By hand: rmsnorm's best (commit b) measured 2x on cpu:1 and re-timed 3.25x on cpu:0; softmax's best
  // (commit s) has no re-timing, only one of an older version (9x), which must not be taken for it.
  const auto ws = fresh("retimed_rows");
  fs::create_directories(ws);
  const workspace::ResultsLog log(ws / "results.tsv");
  int n = 0;
  auto add = [&](const std::string& kernel, Status status, const std::string& commit, double speedup,
                 const std::string& device) {
    ResultRow r;
    r.experiment = n++;
    r.tag = "mw";
    r.kernel = kernel;
    r.backend = "cpu";
    r.status = status;
    r.correctness = "PASS";
    r.latency_us = 10 / speedup;
    r.speedup_vs_reference = speedup;
    r.throughput = speedup;
    r.throughput_unit = "GB/s";
    r.commit = commit;
    r.device = device;
    r.gpu = "cpu";
    ASSERT_TRUE(log.append(r));
  };
  add("rmsnorm_cpu", Status::baseline, "a", 1.5, "cpu:1");
  add("softmax_cpu", Status::baseline, "o", 1.125, "cpu:0");
  add("softmax_cpu", Status::retimed, "o", 9, "cpu:0");
  add("rmsnorm_cpu", Status::kept, "b", 2, "cpu:1");
  add("softmax_cpu", Status::kept, "s", 1.25, "cpu:1");
  add("rmsnorm_cpu", Status::retimed, "b", 3.25, "cpu:0");
  add("rmsnorm_cpu", Status::reverted, "c", 1, "cpu:1");

  const auto text = loop::status_text(ws);
  ASSERT_TRUE(text) << text.error().message;
  auto line_of = [&](const std::string& k) {
    const auto at = text->find("\n" + k + " ");
    return at == std::string::npos ? std::string() : text->substr(at + 1, text->find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(line_of("rmsnorm_cpu").find("3.250x"), std::string::npos) << *text;
  EXPECT_EQ(line_of("rmsnorm_cpu").find("2.000x"), std::string::npos) << *text;
  EXPECT_NE(line_of("softmax_cpu").find("1.250x"), std::string::npos) << *text;
  EXPECT_EQ(line_of("softmax_cpu").find("9.000x"), std::string::npos) << *text;
  EXPECT_NE(text->find("vs torch as re-timed on the reference device: rmsnorm_cpu on cpu:0\n"), std::string::npos)
      << *text;
  // A re-timing is not an experiment of the loop: rmsnorm had three, the run five (seven rows).
  EXPECT_NE(line_of("rmsnorm_cpu").find(" 3 "), std::string::npos) << *text;
  EXPECT_NE(text->find("\n5 experiments, "), std::string::npos) << *text;

  const auto data = report::collect(ws, "mw", "f32");
  ASSERT_TRUE(data) << data.error().message;
  ASSERT_EQ(data->kernels.size(), 2u);
  const auto& rms = data->kernels[0];
  ASSERT_EQ(rms.name, "rmsnorm_cpu");
  ASSERT_TRUE(rms.best && rms.retimed);
  EXPECT_EQ(rms.best->commit, "b");
  EXPECT_EQ(rms.speedup_vs_reference(), 3.25);
  EXPECT_EQ(rms.failed, 0);
  EXPECT_EQ(rms.experiments, 3);
  const auto& soft = data->kernels[1];
  EXPECT_FALSE(soft.retimed);
  EXPECT_EQ(soft.speedup_vs_reference(), 1.25);
  EXPECT_EQ(soft.experiments, 2);
  EXPECT_EQ(data->experiments, 5);
  // The report's words: five experiments in all, three of rmsnorm.
  const auto out = ws / "report";
  const auto rep = test::autokernel({"report", "--workspace", ws.string(), "--out", out.string(), "--no-plots"});
  ASSERT_EQ(rep.exit_code, 0) << rep.output;
  const auto md = util::read_file(out / "report.md").value_or("");
  EXPECT_NE(md.find("`autokernel/mw`: 5 experiments on 2 kernels"), std::string::npos) << md;
  EXPECT_NE(md.find("backend `cpu`: 3 experiments, 1 kept"), std::string::npos) << md;
  if (!HasFailure()) (void)util::remove_tree(ws);
}

TEST(MultiWorker, KillOfAWorkerAndOfTheParentLosesNoRowAndTheSameCommandResumes) {
  const auto ws = fresh("kill");
  const auto args = with(run_args(ws), {"--gpus", "cpu:2"});
  const pid_t parent = spawn(args);
  ASSERT_GT(parent, 0);
  // kill -9 of one worker (its `run --worker-kernel` process) once the first rows are in.
  ASSERT_TRUE(wait_for([&] { return rows_of(ws).size() >= 2; }, std::chrono::seconds(180)));
  // While it runs, status shows each worker and its kernel.
  const auto status = test::autokernel({"status", "--workspace", ws.string()});
  EXPECT_NE(status.output.find("running (pid"), std::string::npos) << status.output;
  for (const auto* device : {"cpu:0", "cpu:1"}) {
    const auto line_at = status.output.find(fmt::format("worker {}: ", device));
    ASSERT_NE(line_at, std::string::npos) << status.output;
    EXPECT_NE(status.output.substr(line_at, status.output.find('\n', line_at) - line_at).find("_cpu"),
              std::string::npos)
        << "no kernel named for " << device << ": " << status.output;
  }
  // The worker itself, not a watchdog its harness cloned from it (whose command line is the worker's too).
  pid_t worker = -1;
  for (const pid_t p : processes_with({"--worker-kernel", ws.string()})) {
    const auto stat = util::read_file(fmt::format("/proc/{}/stat", p)).value_or("");
    const auto after_name = stat.rfind(") ");
    if (after_name == std::string::npos) continue;
    const auto ppid = std::stoi(stat.substr(stat.find(' ', after_name + 2) + 1));
    const auto parent_cmdline = util::read_file(fmt::format("/proc/{}/cmdline", ppid)).value_or("");
    if (parent_cmdline.find("--worker-kernel") == std::string::npos) worker = p;
  }
  ASSERT_GT(worker, 0);
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  // Then of the parent, alone: its workers must die with it.
  const auto at_kill = rows_of(ws).size();
  bool exited = false;
  wait_for(
      [&] {
        exited = ::waitpid(parent, nullptr, WNOHANG) == parent;
        return exited || rows_of(ws).size() >= at_kill + 2;
      },
      std::chrono::seconds(180));
  if (!exited) {
    ::kill(parent, SIGKILL);
    ::waitpid(parent, nullptr, 0);
  }
  EXPECT_TRUE(wait_for(
      [&] {
        return processes_with({"--worker-kernel", ws.string()}).empty();
      },
      std::chrono::seconds(10)))
      << "a worker outlived its parent";
  const auto before = rows_of(ws);
  ASSERT_LT(before.size(), 9u) << "the run finished before the kills: nothing was tested";

  const auto r = test::autokernel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto after = rows_of(ws);
  // Nothing recorded before the kills is lost or changed; nothing is recorded twice; the run is complete.
  ASSERT_GE(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].experiment, before[i].experiment);
    EXPECT_EQ(after[i].commit, before[i].commit);
    EXPECT_EQ(after[i].status, before[i].status);
  }
  EXPECT_EQ(sequences(after), k_expected) << r.output;
  expect_rows_match_history(ws);
  EXPECT_EQ(git(ws, {"status", "--porcelain"}), "");
  if (!HasFailure()) (void)util::remove_tree(ws);
}

TEST(MultiWorker, CtrlCStopsEveryWorkerAfterItsExperimentAndTheSameCommandResumes) {
  const auto ws = fresh("stop");
  const auto args = with(run_args(ws), {"--gpus", "cpu:2"});
  const pid_t parent = spawn(args);
  ASSERT_GT(parent, 0);
  ASSERT_TRUE(wait_for([&] { return rows_of(ws).size() >= 1; }, std::chrono::seconds(180)));
  ASSERT_EQ(::kill(parent, SIGINT), 0);
  int status = 0;
  ASSERT_TRUE(wait_for([&] { return ::waitpid(parent, &status, WNOHANG) == parent; }, std::chrono::seconds(180)));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // Each worker finished the experiment it was in, and no more: passed on, Ctrl-C reached them (alone, each
  // would have gone on to its kernel's end, six rows).
  const auto stopped = rows_of(ws);
  EXPECT_LE(stopped.size(), 4u);
  EXPECT_TRUE(processes_with({"--worker-kernel", ws.string()}).empty());
  const auto st = test::autokernel({"status", "--workspace", ws.string()});
  EXPECT_NE(st.output.find("stopped: stopped on request"), std::string::npos) << st.output;
  const auto r = test::autokernel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sequences(rows_of(ws)), k_expected) << r.output;
  expect_rows_match_history(ws);
  if (!HasFailure()) (void)util::remove_tree(ws);
}

TEST(MultiWorker, CtrlCWhileRetimingStopsAfterTheOneUnderWayAndTheSameCommandRetimesTheRest) {
  // A one-worker run's rows name no --gpus device, so a --gpus cpu:2 run on its workspace finds every kernel done
  // and re-times all three on cpu:0, one at a time: Ctrl-C comes while the first is under way.
  const auto ws = fresh("stop_retime");
  auto r = test::autokernel(run_args(ws));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto experiments = rows_of(ws);
  ASSERT_EQ(sequences(experiments), k_expected);
  const auto args = with(run_args(ws), {"--gpus", "cpu:2"});
  const pid_t parent = spawn(args);
  ASSERT_GT(parent, 0);
  ASSERT_TRUE(wait_for([&] { return !processes_with({"--retime", ws.string()}).empty(); }, std::chrono::seconds(300)));
  ASSERT_EQ(::kill(parent, SIGINT), 0);
  int status = 0;
  ASSERT_TRUE(wait_for([&] { return ::waitpid(parent, &status, WNOHANG) == parent; }, std::chrono::seconds(300)));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(processes_with({"--worker-kernel", ws.string()}).empty()) << "a worker outlived the stop";
  // What was recorded stays; the re-timing under way ended with its row or without one, and no other began.
  auto retimed_rows = [&] {
    std::vector<ResultRow> out;
    for (const auto& row : rows_of(ws)) {
      if (row.status == Status::retimed) out.push_back(row);
    }
    return out;
  };
  const auto stopped = rows_of(ws);
  ASSERT_GE(stopped.size(), experiments.size());
  for (std::size_t i = 0; i < experiments.size(); ++i) EXPECT_EQ(stopped[i].commit, experiments[i].commit);
  EXPECT_LE(retimed_rows().size(), 1u);
  const auto st = test::autokernel({"status", "--workspace", ws.string()});
  EXPECT_NE(st.output.find("stopped: stopped on request"), std::string::npos) << st.output;
  EXPECT_EQ(git(ws, {"status", "--porcelain"}), "");
  // The same command times what is missing: each kernel's best once on cpu:0, none twice.
  r = test::autokernel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto after = rows_of(ws);
  EXPECT_EQ(sequences(after), k_expected) << r.output;
  for (const std::string k : {"rmsnorm_cpu", "reduce_cpu", "softmax_cpu"}) {
    const auto* best = workspace::best_row(after, k);
    ASSERT_NE(best, nullptr) << k;
    int n = 0;
    for (const auto& row : retimed_rows()) {
      if (row.kernel != k) continue;
      ++n;
      EXPECT_EQ(row.commit, best->commit) << k;
      EXPECT_EQ(row.device, "cpu:0") << k;
    }
    EXPECT_EQ(n, 1) << k << "\n" << r.output;
  }
  expect_rows_match_history(ws);
  if (!HasFailure()) (void)util::remove_tree(ws);
}

TEST(MultiWorker, AWorkerComparesOnlyWithRowsOfItsOwnGpuModel) {
  // Rows another GPU model left (rmsnorm already at its best there): the CPU workers neither compare with
  // them nor take their configurations as tried, so each kernel starts from a baseline of its own model.
  const auto ws = fresh("model");
  fs::create_directories(ws);
  const workspace::ResultsLog log(ws / "results.tsv");
  for (const auto& [config, status] : {std::pair{"REPEAT=64", Status::baseline}, {"REPEAT=1", Status::kept}}) {
    ResultRow r;
    r.experiment = status == Status::baseline ? 0 : 1;
    r.tag = "mw";
    r.kernel = "rmsnorm_cpu";
    r.backend = "cpu";
    r.status = status;
    r.correctness = "PASS";
    r.latency_us = 1;
    r.config = config;
    r.commit = "0000000000000000000000000000000000000000";
    r.device = "3";
    r.gpu = "NVIDIA H100 80GB HBM3";
    ASSERT_TRUE(log.append(r));
  }
  const auto r = test::autokernel(with(run_args(ws), {"--gpus", "cpu:2"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<ResultRow> cpu_rows;
  for (const auto& row : rows_of(ws)) {
    if (row.gpu == "cpu") cpu_rows.push_back(row);
    EXPECT_GE(row.experiment, row.gpu == "cpu" ? 2 : 0) << "a number was taken twice";
  }
  EXPECT_EQ(sequences(cpu_rows), k_expected) << r.output;
  EXPECT_EQ(rows_of(ws).size(), cpu_rows.size() + 2);
  if (!HasFailure()) (void)util::remove_tree(ws);
}

TEST(MultiWorker, SlurmArrayTasksRunWithoutSlurmThenMergeGiveTheSameRows) {
  const auto ws = fresh("slurm");
  auto r = test::autokernel(with(run_args(ws), {"--slurm-array"}));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(rows_of(ws).empty()) << "--slurm-array ran experiments itself";
  const auto script = ws / ".autokernel/slurm/mw.sbatch";
  const auto text = util::read_file(script).value_or("");
  EXPECT_NE(text.find("#SBATCH --array=0-2\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("--gres=gpu"), std::string::npos) << "CPU kernels need no GPU:\n" << text;
  // Slurm's part, by hand: each array task is the script with its SLURM_ARRAY_TASK_ID; two at a time. The
  // tasks' host is named node7 (a `hostname` of the test's own), so this host's re-timing below is another's.
  const auto bin = ws.parent_path() / fmt::format("ak_mw_bin_{}", ::getpid());
  fs::create_directories(bin);
  ASSERT_TRUE(util::write_file_atomic(bin / "hostname", "#!/bin/sh\necho node7\n"));
  fs::permissions(bin / "hostname", fs::perms::owner_all);
  const std::string path = bin.string() + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
  auto task = [&](int i) {
    return util::run_command(
        {"/usr/bin/env", fmt::format("SLURM_ARRAY_TASK_ID={}", i), "PATH=" + path, "bash", script.string()},
        std::chrono::minutes(10));
  };
  std::optional<Expected<util::CommandOutput>> t1;
  std::thread other([&] { t1 = task(1); });
  const auto t0 = task(0);
  other.join();
  const auto t2 = task(2);
  const Expected<util::CommandOutput>* tasks[] = {&t0, &*t1, &t2};
  for (const auto* t : tasks) {
    ASSERT_TRUE(*t);
    EXPECT_EQ((*t)->exit_code, 0) << (*t)->output;
  }
  // Before the merge the main branch has no kept work; after it, it holds every kernel's best.
  EXPECT_NE(util::read_file(ws / "kernels/rmsnorm_cpu/kernel.cpp").value_or("").find("@knob REPEAT=64"),
            std::string::npos);
  r = test::autokernel({"merge", "--workspace", ws.string(), "--tag", "mw"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("merged into autokernel/mw"), std::string::npos) << r.output;
  EXPECT_NE(util::read_file(ws / "kernels/rmsnorm_cpu/kernel.cpp").value_or("").find("@knob REPEAT=1 "),
            std::string::npos);
  const auto rows = rows_of(ws);
  EXPECT_EQ(sequences(rows), k_expected);
  for (const auto& row : rows) EXPECT_EQ(row.device, "node7:cpu");
  expect_rows_match_history(ws);

  // merge --retime cpu: each kernel's best version timed again on this host's CPU, one row each, as `run --gpus`
  // does on its reference device; a second time adds none.
  r = test::autokernel({"merge", "--workspace", ws.string(), "--tag", "mw", "--retime", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto here = util::host_name() + ":cpu";
  const auto retimed = rows_of(ws);
  EXPECT_EQ(sequences(retimed), k_expected);
  for (const std::string k : {"rmsnorm_cpu", "reduce_cpu", "softmax_cpu"}) {
    const auto* best = workspace::best_row(retimed, k);
    ASSERT_NE(best, nullptr) << k;
    const auto* again = workspace::retimed_row(retimed, *best, here);
    ASSERT_NE(again, nullptr) << k << "\n" << r.output;
    EXPECT_EQ(again->gpu, "cpu") << k;
    EXPECT_EQ(again->correctness, "PASS") << k;
    EXPECT_EQ(std::ranges::count(retimed, Status::retimed, &ResultRow::status), 3) << r.output;
  }
  EXPECT_NE(r.output.find(fmt::format("best versions timed on {}, the reference: ", here)), std::string::npos)
      << r.output;
  r = test::autokernel({"merge", "--workspace", ws.string(), "--tag", "mw", "--retime", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(rows_of(ws).size(), retimed.size()) << r.output;
  // A device that is not there is refused before anything is merged or timed.
  r = test::autokernel({"merge", "--workspace", ws.string(), "--tag", "mw", "--retime", "7"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("autokernel: error: --retime 7"), std::string::npos) << r.output;
  EXPECT_EQ(rows_of(ws).size(), retimed.size());
  (void)util::remove_tree(bin);
  if (!HasFailure()) (void)util::remove_tree(ws);
}

}  // namespace
}  // namespace ak
