// Compiling ahead (loop/compile_ahead): the search proposer foresees its own next proposals without changing
// them; the pool builds what it is asked for into the build cache under the key the cpu backend's own build
// uses (so a bench finds it built), each once; a newer list replaces what has not started; a candidate about
// to be timed waits for its compile under way; a cuda one waits for its architecture; no more compiles run at
// once than there are slots; and a run compiles its other kernels' starters while its first baseline is timed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "backends/backend.hpp"
#include "loop/compile_ahead.hpp"
#include "loop/proposer.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "workspace/results_log.hpp"

namespace ak {
namespace {

namespace fs = std::filesystem;

fs::path fresh(const std::string& name) {
  auto dir = fs::temp_directory_path() / fmt::format("ak_ahead_{}_{}", name, ::getpid());
  (void)util::remove_tree(dir);
  fs::create_directories(dir);
  return dir;
}

backends::Candidate starter(const std::string& type) {
  auto c = backends::load_candidate(test::starter(type, "cpu.cpp"), "");
  if (!c) throw std::runtime_error(c.error().message);
  return *c;
}

/// `c` with its knobs set to `values`, as the search proposer writes it.
backends::Candidate with(const backends::Candidate& c, const std::map<std::string, std::string>& values) {
  auto out = backends::parse_candidate(c.path, backends::with_knob_defaults(c.source, values), "");
  if (!out) throw std::runtime_error(out.error().message);
  return *out;
}

int built_libraries(const fs::path& cache) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache / "build", ec)) n += e.path().extension() == ".so";
  return n;
}

TEST(SearchLookahead, ForeseesTheNextProposalsWhenNoneIsKeptAndChangesNone) {
  const auto best = starter("reduce");  // one knob of four values: three neighbours, then random restarts
  auto state_of = [&] {
    loop::KernelState s{"reduce_cpu", best, {}, {}, "", "kernels/reduce_cpu/kernel.cpp"};
    s.tried_configs.insert(backends::config_string(best.knob_values));
    return s;
  };
  auto looking = loop::make_search_proposer(11), plain = loop::make_search_proposer(11);
  auto state = state_of(), plain_state = state_of();
  const auto ahead = looking->lookahead(state, 3);
  ASSERT_EQ(ahead.size(), 3u);
  EXPECT_TRUE(looking->lookahead(state, 0).empty());
  for (std::size_t i = 0; i < ahead.size(); ++i) {
    const auto p = looking->propose(state), q = plain->propose(plain_state);
    ASSERT_TRUE(p && q) << i;
    EXPECT_EQ(p->config, ahead[i].config) << i;
    EXPECT_EQ(p->source, ahead[i].source) << i;
    // Looking ahead left the proposer's own walk as it was: a proposer that never looked makes the same.
    EXPECT_EQ(p->config, q->config) << i;
    state.tried_configs.insert(p->config);  // not kept: tried, the best unchanged
    plain_state.tried_configs.insert(q->config);
  }
  std::set<std::string> configs;
  for (const auto& p : ahead) configs.insert(p.config);
  EXPECT_EQ(configs.size(), 3u) << "a configuration foreseen twice";
}

TEST(CompileAhead, BuildsWhatIsWantedOnceUnderTheKeyTheBackendBuildsWith) {
  const auto dir = fresh("cache");
  const test::ScopedEnv cache("AUTOKERNEL_CACHE", (dir / "cache").string());
  const auto base = starter("reduce");
  const auto a = with(base, {{"LANES", "1"}}), b = with(base, {{"LANES", "2"}}), c = with(base, {{"LANES", "8"}});
  {
    loop::CompileAhead ahead(2, dir / "slots", 2);
    ahead.want({a, b});
    ahead.drain();
    EXPECT_EQ(ahead.compiled(), 2);
    EXPECT_EQ(built_libraries(dir / "cache"), 2);
    EXPECT_TRUE(ahead.ready(a));
    EXPECT_FALSE(ahead.ready(c)) << "never asked for";
    ahead.want({b, a});  // built already: not again
    ahead.drain();
    EXPECT_EQ(ahead.compiled(), 2);
  }
  // The cpu backend's own build, as the bench's worker runs it, finds them: no new library.
  auto cpu = backends::make_backend("cpu");
  ASSERT_TRUE(cpu);
  for (const auto* cand : {&a, &b}) {
    auto so = (*cpu)->build(*cand);
    ASSERT_TRUE(so) << so.error().message;
  }
  EXPECT_EQ(built_libraries(dir / "cache"), 2) << "the pool built under another key than the backend's";
  ASSERT_TRUE((*cpu)->build(c));
  EXPECT_EQ(built_libraries(dir / "cache"), 3);
  if (!HasFailure()) (void)util::remove_tree(dir);
}

/// A stand-in compiler: each build waits until released, and the builds are counted.
struct GatedBuild {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> started;  // knob configurations, in the order they began
  int running = 0, most_at_once = 0;
  bool open = false;  // when false, builds wait

  loop::CompileAhead::Build build() {
    return [this](const backends::Candidate& c) -> Expected<void> {
      std::unique_lock lock(mu);
      started.push_back(backends::config_string(c.knob_values));
      most_at_once = std::max(most_at_once, ++running);
      cv.notify_all();
      cv.wait(lock, [&] { return open; });
      --running;
      return {};
    };
  }
  void wait_started(std::size_t n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return started.size() >= n; });
  }
  void release() {
    const std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(CompileAhead, ANewerListReplacesWhatHasNotStarted) {
  const auto dir = fresh("replace");
  const auto base = starter("reduce");
  GatedBuild gate;
  loop::CompileAhead ahead(1, dir / "slots", 4, gate.build());
  ahead.want({with(base, {{"LANES", "1"}}), with(base, {{"LANES", "2"}}), with(base, {{"LANES", "4"}})});
  gate.wait_started(1);  // LANES=1 under way on the one thread; 2 and 4 wait
  ahead.want({with(base, {{"LANES", "8"}})});
  gate.release();
  ahead.drain();
  EXPECT_EQ(gate.started, (std::vector<std::string>{"LANES=1", "LANES=8"}));
  EXPECT_EQ(ahead.compiled(), 2);
  (void)util::remove_tree(dir);
}

TEST(CompileAhead, ACandidateAboutToBeTimedWaitsForItsCompileUnderWay) {
  const auto dir = fresh("ready");
  const auto base = starter("reduce");
  const auto a = with(base, {{"LANES", "1"}}), b = with(base, {{"LANES", "2"}});
  GatedBuild gate;
  loop::CompileAhead ahead(1, dir / "slots", 4, gate.build());
  ahead.want({a, b});
  gate.wait_started(1);
  std::atomic<bool> returned{false}, was_ahead{false};
  std::thread timer([&] {
    was_ahead = ahead.ready(a);
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(returned) << "ready() returned while its compile was still under way";
  EXPECT_FALSE(ahead.ready(b)) << "not started: dropped, its bench compiles it";
  gate.release();
  timer.join();
  EXPECT_TRUE(was_ahead);
  ahead.drain();
  EXPECT_EQ(gate.started, std::vector<std::string>{"LANES=1"});
  (void)util::remove_tree(dir);
}

TEST(CompileAhead, NoMoreCompilesAtOnceThanSlotsHoweverManyThreads) {
  const auto dir = fresh("slots");
  const auto base = starter("reduce");
  GatedBuild gate;
  std::vector<backends::Candidate> many;
  for (const auto* lanes : {"1", "2", "4", "8"}) many.push_back(with(base, {{"LANES", lanes}}));
  {
    // Two objects, as two workers of one host would have, four threads each, sharing two slots.
    loop::CompileAhead one(4, dir / "slots", 2, gate.build()), two(4, dir / "slots", 2, gate.build());
    one.want(many);
    two.want(many);
    gate.wait_started(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a third, were one to start
    {
      const std::lock_guard lock(gate.mu);
      EXPECT_EQ(gate.running, 2);
    }
    gate.release();
    one.drain();
    two.drain();
    EXPECT_EQ(one.compiled() + two.compiled(), 8);
  }
  EXPECT_EQ(gate.most_at_once, 2);
  (void)util::remove_tree(dir);
}

TEST(CompileAhead, ACudaCandidateWaitsForItsArchitecture) {
  const auto dir = fresh("arch");
  auto cuda = backends::load_candidate(test::starter("reduce", "cuda.cu"), "");
  ASSERT_TRUE(cuda) << cuda.error().message;
  const auto cpu = starter("reduce");
  GatedBuild gate;
  gate.release();
  loop::CompileAhead ahead(1, dir / "slots", 2, gate.build());
  // Before the bench's worker has said which architecture: the cpu one is built, the cuda one waits ...
  ahead.want({*cuda, cpu});
  ahead.drain();
  EXPECT_EQ(ahead.compiled(), 1);
  EXPECT_EQ(gate.started, std::vector<std::string>{"LANES=4"});
  // ... and is built once the architecture is known, with no new want().
  ahead.set_cuda_arch("90a");
  ahead.drain();
  EXPECT_EQ(ahead.compiled(), 2);
  EXPECT_TRUE(ahead.ready(*cuda));
  // Wanted before the architecture and then not any more (a newer list): never built.
  loop::CompileAhead later(1, dir / "slots", 2, gate.build());
  later.want({*cuda});
  later.want({});
  later.set_cuda_arch("90a");
  later.drain();
  EXPECT_EQ(later.compiled(), 0);
  (void)util::remove_tree(dir);
}

/// A library the cpu backend builds for the workspace kernel `name` as its bench would: whether it was in the build
/// cache at `cache` before (compiled ahead) or had to be built now.
bool was_built_ahead(const fs::path& ws, const std::string& name, const fs::path& cache) {
  std::set<fs::path> before;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache / "build", ec)) before.insert(e.path());
  auto c = backends::load_candidate(fs::absolute(ws / "kernels" / name / "kernel.cpp"), "");
  auto cpu = backends::make_backend("cpu");
  if (!c || !cpu) throw std::runtime_error("the workspace kernel does not load");
  auto so = (*cpu)->build(*c);
  if (!so) throw std::runtime_error(so.error().message);
  return before.contains(*so);
}

TEST(CompileAhead, TheOtherKernelsStartersAreCompiledWhileTheFirstBaselineIsTimed) {
  const auto data = test::source_dir() / "tests/data/loop_kernels";
  for (const auto* threads : {"2", "0"}) {
    const auto dir = fresh(fmt::format("baselines_{}", threads));
    const test::ScopedEnv cache("AUTOKERNEL_CACHE", (dir / "cache").string());  // the run's and was_built_ahead's
    // One experiment: the first kernel's baseline. Nothing else of the run is timed.
    auto r = test::autokernel(
        {"run", "--workspace", (dir / "ws").string(), "--kernel", (data / "rmsnorm_repeat.cpp").string(), "--kernel",
         (data / "reduce_repeat.cpp").string(), "--max-experiments", "1", "--compile-ahead", threads});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto rows = workspace::ResultsLog(dir / "ws/results.tsv").read();
    ASSERT_TRUE(rows && rows->size() == 1u) << r.output;
    const std::string other = rows->front().kernel == "rmsnorm_cpu" ? "reduce_cpu" : "rmsnorm_cpu";
    // With compiles ahead, the kernel timed next (the other one's baseline) was built meanwhile; without, not.
    EXPECT_EQ(was_built_ahead(dir / "ws", other, dir / "cache"), std::string(threads) != "0") << threads;
    (void)util::remove_tree(dir);
  }
}

}  // namespace
}  // namespace ak
