#include "loop/run_loop.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <thread>

#include <fmt/ranges.h>

#include "backends/candidate.hpp"
#include "loop/compile_ahead.hpp"
#include "workspace/run_state.hpp"
#include "loop/experiment.hpp"
#include "workspace/workspace.hpp"
#include "util/fs.hpp"

namespace ak::loop {

using workspace::advances;
using workspace::counts_as_experiment;
using workspace::counts_as_revert;
using workspace::is_code_failure;
using workspace::ResultRow;
using workspace::ResultsLog;
using workspace::run_in_progress;
using workspace::RunState;
using workspace::Status;
using workspace::status_name;
using workspace::unix_now;
using workspace::Workspace;
using workspace::WorkspaceKernel;
namespace {

std::atomic<bool> g_stop{false};

struct KernelProgress {
  const ResultRow* baseline = nullptr;
  const ResultRow* best = nullptr;
  int experiments = 0;
  int consecutive_reverts = 0;
  int starter_failures = 0;  ///< baseline attempts the harness judged and failed (not ones it could not run)
  double seconds = 0;
  std::set<std::string> tried;
  bool exhausted = false;  ///< the proposer has nothing left (this invocation)
};

std::map<std::string, KernelProgress> progress_from(const std::vector<ResultRow>& rows) {
  std::map<std::string, KernelProgress> p;
  for (const auto& r : rows) {
    if (!counts_as_experiment(r.status)) continue;  // a re-timing: not the loop's business
    auto& k = p[r.kernel];
    ++k.experiments;
    k.seconds += r.seconds;
    if (!r.config.empty()) k.tried.insert(r.config);
    if (!k.baseline && is_code_failure(r.status)) {
      ++k.starter_failures;
    }
    if (advances(r)) {
      if (r.status == Status::baseline) k.baseline = &r;
      k.best = &r;
      k.consecutive_reverts = 0;
    } else if (counts_as_revert(r.status)) {
      ++k.consecutive_reverts;
    }
  }
  return p;
}

/// Why a kernel is finished, or "" if it is not.
std::string done_reason(const KernelProgress& k, const RunOptions& o) {
  // Twice: once may be the machine's doing (a worker killed from outside, a timeout under load).
  if (!k.baseline && k.starter_failures >= 2) return "its starter fails the harness";
  if (!k.best) return "";
  if (k.exhausted) return "the proposer has nothing left to try";
  if (k.consecutive_reverts >= o.max_consecutive_reverts) {
    return fmt::format("{} experiments in a row without a gain", k.consecutive_reverts);
  }
  if (k.best->pct_of_ceiling >= o.done_pct_of_ceiling)
    return fmt::format("{:.0f}% of its ceiling", k.best->pct_of_ceiling);
  if (o.kernel_budget_s > 0 && k.seconds >= o.kernel_budget_s) return "its time budget is spent";
  if (o.target_speedup > 0 && k.best->latency_us > 0 &&
      k.baseline->latency_us / k.best->latency_us >= o.target_speedup) {
    return "target speed-up reached";
  }
  return "";
}

/// Amdahl: expected gain = share of the model's time x headroom to the ceiling. The share comes from the
/// profile (extract's model.json); without one every kernel has an equal share. Kernels not yet measured
/// go first, the heaviest of them first.
double priority(const KernelProgress& k, double share) {
  if (!k.best) return 2.0 + share;
  return share * std::max(0.05, 1.0 - k.best->pct_of_ceiling / 100.0);
}

/// Sleep `seconds`, waking early on a stop request (Ctrl-C).
void wait_unless_stopped(double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_stop && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

void request_stop() { g_stop = true; }

bool stop_requested() { return g_stop; }

Expected<OpenedRun> open_run(const RunOptions& o, const std::function<void(const std::string&)>& print) {
  // Everything that can be refused is refused before the workspace is created or touched: a typo must
  // not leave a repository, commits or a lock behind.
  std::error_code ec;
  if (o.add_kernels.empty() && !std::filesystem::is_directory(o.workspace / "kernels", ec)) {
    return fail(fmt::format("no kernels in {}", (std::filesystem::absolute(o.workspace) / "kernels").string()),
                "add some with --kernel FILE (e.g. --kernel kernels/rmsnorm/cpu.cpp), or check the --workspace path");
  }
  // A --kernel that does not load, or of a type and backend the workspace holds in another version.
  if (auto c = Workspace::check_new_kernels(o.workspace, o.add_kernels); !c) return std::unexpected(c.error());
  if (auto proposer = make_proposer(o.proposer, o.proposer_options); !proposer) {
    return std::unexpected(proposer.error());
  }

  const bool worker = !o.worker_kernel.empty();
  auto opened = worker ? Workspace::open_worker(o.workspace, o.tag, {o.worker_kernel, o.device, o.device_model}, print)
                       : Workspace::open(o.workspace, o.tag, print);
  if (!opened) return std::unexpected(opened.error());
  auto& ws = **opened;
  if (!worker) ws.set_device(o.device);
  for (const auto& f : o.add_kernels) {
    if (worker) break;  // the parent added them before it made the worktrees
    if (auto name = ws.add_kernel(f); !name) return std::unexpected(name.error());
  }
  auto kernels = ws.kernels();
  if (kernels.empty()) {
    return fail(fmt::format("no kernels in {}", (ws.dir() / "kernels").string()),
                "add some with --kernel FILE (e.g. --kernel kernels/rmsnorm/cpu.cpp)");
  }
  const auto only = worker ? std::vector<std::string>{o.worker_kernel} : o.only_kernels;
  if (!only.empty()) {
    std::vector<std::string> known;
    for (const auto& k : kernels) known.push_back(k.name);
    for (const auto& want : only) {
      if (std::ranges::find(known, want) == known.end()) {
        return fail(fmt::format("no kernel '{}' in {}", want, ws.dir().string()),
                    fmt::format("its kernels: {}", fmt::join(known, ", ")));
      }
    }
    std::erase_if(kernels, [&](const auto& k) { return std::ranges::find(only, k.name) == only.end(); });
  }
  for (const auto& k : kernels) {
    if (auto r = ws.repo().discard(k.file.string()); !r) return std::unexpected(r.error());  // a torn edit
  }
  return OpenedRun{std::move(*opened), std::move(kernels)};
}

std::vector<std::string> kernel_order(const std::vector<WorkspaceKernel>& kernels, const std::vector<ResultRow>& rows,
                                      const RunOptions& o) {
  auto progress = progress_from(rows);
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& k : kernels) {
    auto& p = progress[k.name];
    const double share = k.model_share > 0 ? k.model_share : 1.0 / static_cast<double>(kernels.size());
    const double pr = done_reason(p, o).empty() ? priority(p, share) - 1e-6 * p.experiments : -1.0;
    ranked.emplace_back(pr, k.name);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (const auto& [pr, name] : ranked) out.push_back(name);
  return out;
}

Expected<void> run_loop(const RunOptions& o, const std::function<void(const std::string&)>& print) {
  g_stop = false;
  auto run = open_run(o, print);
  if (!run) return std::unexpected(run.error());
  auto& ws = *run->ws;
  const auto& kernels = run->kernels;
  auto popts = o.proposer_options;
  // A resumed search does not retrace its steps. A worker counts its own kernel's rows only: the other
  // workers' come at times no seed should depend on.
  popts.seed = o.seed + ws.rows().size();
  if (!o.worker_kernel.empty()) {
    popts.seed = o.seed + static_cast<uint64_t>(std::ranges::count_if(ws.rows(), [&](const ResultRow& r) {
                   return r.kernel == o.worker_kernel && counts_as_experiment(r.status);
                 }));
  }
  auto proposer = make_proposer(o.proposer, popts);
  if (!proposer) return std::unexpected(proposer.error());
  // The proposer's next candidates compiled while one is timed, on threads of this process; the host's
  // compiles ahead, all workers' together, hold one of its core-many slots each.
  std::unique_ptr<CompileAhead> ahead;
  if (o.compile_ahead > 0) {
    ahead = std::make_unique<CompileAhead>(o.compile_ahead, compile_slot_dir(o.workspace), compile_slot_count());
  }
  BenchSettings settings{o.dtype, o.case_timeout_s, o.min_gain, o.max_speedup, {}};
  if (ahead) settings.on_build_arch = [&](const std::string& arch) { ahead->set_cuda_arch(arch); };
  // Before `proposal` (none: the kernel as it is, its baseline) is timed: the starters of the other kernels still
  // without a baseline, in the order they will be timed (baselines come first: priority()), then what the proposer
  // gives after this one, should it not be kept, are compiled meanwhile; a compile of the one about to be timed
  // already under way is waited for. Baselines ahead: a model's six CUDA starters took ~33 s each on an H100
  // host, mostly nvcc, one after another, where the host's cores could compile them side by side.
  auto compile_ahead = [&](const WorkspaceKernel& k, const backends::Candidate& current, const KernelState& state,
                           const Proposal* proposal) {
    if (!ahead) return;
    // The path its bench builds it as: the build cache's key holds the folder beside it.
    auto built_as = [&](const WorkspaceKernel& w) { return std::filesystem::absolute(ws.dir() / w.file); };
    const auto file = built_as(k);
    std::vector<backends::Candidate> next;
    auto progress = progress_from(ws.rows());
    for (const auto& name : kernel_order(kernels, ws.rows(), o)) {
      const auto other = std::ranges::find(kernels, name, &WorkspaceKernel::name);
      if (name == k.name || progress[name].best || !done_reason(progress[name], o).empty()) continue;
      auto starter = backends::load_candidate(built_as(*other), "");
      if (starter) next.push_back(std::move(*starter));
    }
    auto after = state;
    if (proposal) after.tried_configs.insert(proposal->config);
    for (const auto& p : (*proposer)->lookahead(after, o.compile_ahead)) {
      if (auto c = backends::parse_candidate(file, p.source, current.backend); c) next.push_back(std::move(*c));
    }
    ahead->want(next);
    auto timed_next = proposal ? backends::parse_candidate(file, proposal->source, current.backend)
                               : backends::parse_candidate(file, current.source, current.backend);
    if (timed_next) (void)ahead->ready(*timed_next);
  };

  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, bool> exhausted;
  int ran = 0;
  int proposer_failures = 0;  // in a row, any kernel: an outage of the endpoint or the agent
  RunState run_state = RunState::starting(o.tag, o.budget_s, o.max_experiments);
  auto record_state = [&](const std::string& current) -> Expected<void> {
    run_state.updated_at = unix_now();
    run_state.experiments = ran;
    run_state.current_kernel = current;  // set only while an experiment is going on
    run_state.current_since = run_state.updated_at;
    auto progress = progress_from(ws.rows());
    for (const auto& k : kernels) {
      auto& p = progress[k.name];
      p.exhausted = exhausted[k.name];
      run_state.done[k.name] = done_reason(p, o);
    }
    return run_state.write(ws.dir());
  };
  auto finish = [&](const std::string& how, const std::string& why) -> Expected<void> {
    run_state.state = how;
    run_state.stop_reason = why;
    return record_state("");
  };
  if (auto w = record_state(""); !w) return w;
  print(fmt::format("run {} in {}: {} kernels, proposer {}, {} experiments so far", o.tag, ws.dir().string(),
                    kernels.size(), o.proposer, ws.rows().size()));

  while (!g_stop) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (o.budget_s > 0 && elapsed >= o.budget_s) {  // this invocation's time: a resumed run gets it whole
      print("stopping: the time budget is spent");
      if (auto w = finish("finished", "the time budget is spent"); !w) return w;
      break;
    }
    if (o.max_experiments > 0 && ran >= o.max_experiments) {
      print(fmt::format("stopping: {} experiments done", ran));
      if (auto w = finish("finished", fmt::format("{} experiments done", ran)); !w) return w;
      break;
    }
    auto progress = progress_from(ws.rows());
    for (auto& [name, p] : progress) p.exhausted = exhausted[name];
    const WorkspaceKernel* pick = nullptr;
    double best_priority = -1;
    for (const auto& k : kernels) {
      auto& p = progress[k.name];
      if (!done_reason(p, o).empty()) continue;
      const double share = k.model_share > 0 ? k.model_share : 1.0 / static_cast<double>(kernels.size());
      const double pr = priority(p, share) - 1e-6 * p.experiments;  // ties: the kernel with fewer experiments
      if (pr > best_priority) {
        best_priority = pr;
        pick = &k;
      }
    }
    if (!pick) {
      print("stopping: every kernel is done");
      for (const auto& k : kernels) print(fmt::format("  {}: {}", k.name, done_reason(progress[k.name], o)));
      if (auto w = finish("finished", "every kernel is done"); !w) return w;
      break;
    }
    if (auto w = record_state(pick->name); !w) return w;
    const auto& p = progress[pick->name];
    Expected<ResultRow> row = fail("no experiment");
    auto current = backends::load_candidate(ws.dir() / pick->file, "");
    auto state_of = [&] {
      KernelState state{pick->name, *current, {}, p.tried, ws.dir(), pick->file};
      state.tried_configs.insert(backends::config_string(current->knob_values));
      return state;
    };
    if (!p.best) {
      // The kernel's first experiment: the starter as it is, the baseline everything is compared with (a starter
      // that does not load is run_baseline's to report).
      if (current) compile_ahead(*pick, *current, state_of(), nullptr);
      row = run_baseline(ws, *pick, settings);
    } else {
      if (!current) return std::unexpected(current.error());
      auto state = state_of();
      for (const auto& r : ws.rows()) {
        if (r.kernel == pick->name) state.history.push_back(r);
      }
      auto proposal = (*proposer)->propose(state);
      if (!proposal) {
        exhausted[pick->name] = true;
        continue;
      }
      // No usable candidate (a hung agent, a reply without code) is one failed experiment, no commit.
      if (!proposal->failure) compile_ahead(*pick, *current, state, &*proposal);
      row = proposal->failure
                ? ws.record_failure(*pick, proposal->description, *proposal->failure)
                : run_experiment(ws, *pick, proposal->source, proposal->description, proposal->config, settings);
    }
    if (!row) {
      (void)finish("failed", row.error().message);
      return std::unexpected(row.error());
    }
    ++ran;
    if (auto w = record_state(""); !w) return w;
    if (row->status == Status::proposer_failed) {
      ++proposer_failures;
      if (proposer_failures >= o.max_proposer_failures) {
        const auto why = fmt::format("the proposer failed {} times in a row (last: {})", proposer_failures,
                                     row->description.substr(0, 200));
        (void)finish("stopped", why);
        return fail(why, fmt::format("fix the {} proposer, then `autokernel run` again: it resumes here, and no "
                                     "kernel was marked done by the outage",
                                     o.proposer));
      }
      const double wait =
          std::min(o.max_proposer_backoff_s, o.proposer_backoff_s * std::pow(2.0, proposer_failures - 1));
      print(fmt::format("[exp {:>3}] {:<22} proposer_failed ({} in a row, stop at {}): waiting {:.1f} s | {}",
                        row->experiment, pick->name, proposer_failures, o.max_proposer_failures, wait,
                        row->description.substr(0, 100)));
      wait_unless_stopped(wait);
      continue;
    }
    proposer_failures = 0;
    // The live status line: where this kernel stands and how fast the run goes.
    const auto now = progress_from(ws.rows())[pick->name];
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double per_exp = total / ran;
    std::string eta;
    if (o.budget_s > 0) {
      eta = fmt::format(" | {:.0f} s left", std::max(0.0, o.budget_s - total));
    } else if (o.max_experiments > 0) {
      eta = fmt::format(" | ETA {:.0f} s", per_exp * (o.max_experiments - ran));
    }
    print(fmt::format("[exp {:>3}] {:<22} {:<15} {:>10.2f} us {:>6.3f}x torch | best {:>6.3f}x{} | {:.1f} s/exp{} | {}",
                      row->experiment, pick->name, status_name(row->status), row->latency_us, row->speedup_vs_reference,
                      now.best ? now.best->speedup_vs_reference : 0.0,
                      now.best && now.baseline
                          ? fmt::format(" ({:.2f}x baseline)", now.baseline->latency_us / now.best->latency_us)
                          : "",
                      per_exp, eta, row->description.substr(0, 80)));
  }
  if (g_stop) {
    print("stopped on request; `autokernel run` again resumes here");
    if (auto w = finish("stopped", "stopped on request"); !w) return w;
  }
  return {};
}

namespace {

/// 3725 -> "1h02m", 125 -> "2m05s", 9 -> "9s".
std::string duration_text(double seconds) {
  const long t = std::lround(std::max(0.0, seconds));
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, t % 3600 / 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

}  // namespace

Expected<std::string> status_text(const std::filesystem::path& workspace_in) {
  const auto workspace = std::filesystem::absolute(workspace_in);
  std::error_code ec;
  if (!std::filesystem::exists(workspace, ec)) {
    return fail(fmt::format("no workspace at {}", workspace.string()),
                "start one with `autokernel run --workspace DIR --kernel FILE`");
  }
  ResultsLog log(workspace / "results.tsv");
  auto all_rows = log.read();
  if (!all_rows) return std::unexpected(all_rows.error());
  const auto state = RunState::read(workspace);
  const bool running = run_in_progress(workspace);
  const double now = unix_now();
  // The run the state file describes, else every row.
  std::vector<ResultRow> rows;
  for (const auto& r : *all_rows) {
    if (!state || r.tag == state->tag) rows.push_back(r);
  }

  std::string out;
  if (state) {
    const double end = running ? now : state->updated_at;
    std::string how = running                     ? fmt::format("running (pid {})", state->pid)
                      : state->state == "running" ? "interrupted (`autokernel run` resumes it)"
                                                  : fmt::format("{}: {}", state->state, state->stop_reason);
    out += fmt::format("run {} in {}: {}, {} in this invocation\n", state->tag, workspace.string(), how,
                       duration_text(end - state->started_at));
    if (running && !state->current_kernel.empty()) {
      out += fmt::format("now: {}, experiment {} for {}\n", state->current_kernel, state->experiments + 1,
                         duration_text(now - state->current_since));
    }
    const double elapsed = end - state->started_at;
    std::string pace = elapsed > 0 && state->experiments > 0
                           ? fmt::format("{:.0f} experiments/hour", state->experiments * 3600.0 / elapsed)
                           : std::string("no experiment finished yet");
    std::string left;
    if (state->budget_s > 0) {
      left = fmt::format(" | budget {}: {} left", duration_text(state->budget_s),
                         duration_text(state->budget_s - elapsed));
    } else if (state->max_experiments > 0 && state->experiments > 0) {
      const int remaining = std::max(0, state->max_experiments - state->experiments);
      left = fmt::format(" | {} experiments left, about {}", remaining,
                         duration_text(elapsed / state->experiments * remaining));
    }
    out += fmt::format("{} experiments this invocation, {}{}\n", state->experiments, pace, left);
    // `run --gpus`: each worker, and what its own loop (its run.json, in its kernel's worktree) is doing.
    for (const auto& w : state->workers) {
      int rows_of_device = 0;
      for (const auto& r : rows) rows_of_device += r.device == w.device;
      std::string what = w.kernel.empty() || !running ? std::string("idle") : w.kernel;
      if (running && !w.kernel.empty()) {
        if (const auto ks = RunState::read(Workspace::worktree_dir(workspace, w.kernel)); ks) {
          what += fmt::format(", {} experiments on it this invocation", ks->experiments);
          if (!ks->current_kernel.empty()) {
            what += fmt::format(", experiment {} running for {}", ks->experiments + 1,
                                duration_text(now - ks->current_since));
          }
        }
      }
      out += fmt::format("worker {}: {} | {} kernels finished, {} rows from this device\n", w.device, what,
                         w.kernels_done, rows_of_device);
    }
  } else {
    out +=
        fmt::format("{}: {}\n", workspace.string(), running ? "a run is going on" : "no run recorded its state here");
  }
  if (rows.empty()) return out + "no experiments yet\n";

  out += fmt::format("{:<22} {:<9} {:>5} {:>5} {:>7} {:>12} {:>12} {:>9} {:>9}\n", "kernel", "state", "exps", "kept",
                     "implaus", "baseline_us", "best_us", "vs torch", "vs start");
  double seconds = 0;
  int experiments = 0;  // re-timings are rows, not experiments
  std::vector<std::string> reasons, retimed_on;
  for (const auto& [name, p] : progress_from(rows)) {
    int kept = 0, flagged = 0;
    for (const auto& r : rows) {
      if (r.kernel != name) continue;
      kept += r.status == Status::kept;
      flagged += r.status == Status::implausible;
    }
    std::string kstate = "waiting";
    const bool on_a_worker =
        state && std::ranges::any_of(state->workers, [&](const auto& w) { return w.kernel == name; });
    if (state && (state->current_kernel == name || on_a_worker) && running) {
      kstate = "working";
    } else if (state && state->done.contains(name) && !state->done.at(name).empty()) {
      kstate = "done";
      reasons.push_back(fmt::format("  {}: {}", name, state->done.at(name)));
    }
    // `run --gpus`: the speed-up of the best version as the reference device timed it, where it did.
    const ResultRow* retimed = p.best ? workspace::retimed_row(rows, *p.best) : nullptr;
    if (retimed) retimed_on.push_back(fmt::format("{} on {}", name, retimed->device));
    out += fmt::format("{:<22} {:<9} {:>5} {:>5} {:>7} {:>12.2f} {:>12.2f} {:>8.3f}x {:>8.3f}x\n", name, kstate,
                       p.experiments, kept, flagged, p.baseline ? p.baseline->latency_us : 0.0,
                       p.best ? p.best->latency_us : 0.0,
                       retimed  ? retimed->speedup_vs_reference
                       : p.best ? p.best->speedup_vs_reference
                                : 0.0,
                       p.best && p.baseline ? p.baseline->latency_us / p.best->latency_us : 0.0);
    seconds += p.seconds;
    experiments += p.experiments;
  }
  for (const auto& r : reasons) out += r + "\n";
  if (!retimed_on.empty()) {
    out += fmt::format("vs torch as re-timed on the reference device: {}\n", fmt::join(retimed_on, ", "));
  }
  out += fmt::format("{} experiments, {} in experiments, {:.0f} experiments/hour", experiments, duration_text(seconds),
                     seconds > 0 ? experiments * 3600.0 / seconds : 0.0);
  return out;
}

}  // namespace ak::loop
