#include "loop/run_loop.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>

#include "backends/candidate.hpp"
#include "loop/workspace.hpp"
#include "util/fs.hpp"

namespace ak::loop {
namespace {

std::atomic<bool> g_stop{false};

struct KernelProgress {
  const ResultRow* baseline = nullptr;
  const ResultRow* best = nullptr;
  int experiments = 0;
  int consecutive_reverts = 0;
  double seconds = 0;
  std::set<std::string> tried;
  bool exhausted = false;  ///< the proposer has nothing left (this invocation)
};

std::map<std::string, KernelProgress> progress_from(const std::vector<ResultRow>& rows) {
  std::map<std::string, KernelProgress> p;
  for (const auto& r : rows) {
    auto& k = p[r.kernel];
    ++k.experiments;
    k.seconds += r.seconds;
    if (!r.config.empty()) k.tried.insert(r.config);
    if (r.status == "baseline" && r.correctness == "PASS") {
      k.baseline = &r;
      k.best = &r;
      k.consecutive_reverts = 0;
    } else if (r.status == "kept") {
      k.best = &r;
      k.consecutive_reverts = 0;
    } else if (r.status != "baseline") {
      ++k.consecutive_reverts;
    }
  }
  return p;
}

/// Why a kernel is finished, or "" if it is not.
std::string done_reason(const KernelProgress& k, const RunOptions& o) {
  if (k.experiments > 0 && !k.baseline) return "its starter fails the harness";
  if (!k.best) return "";
  if (k.exhausted) return "the proposer has nothing left to try";
  if (k.consecutive_reverts >= o.max_consecutive_reverts) {
    return fmt::format("{} experiments in a row without a gain", k.consecutive_reverts);
  }
  if (k.best->pct_of_ceiling >= o.done_pct_of_ceiling) return fmt::format("{:.0f}% of its ceiling", k.best->pct_of_ceiling);
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

}  // namespace

void request_stop() { g_stop = true; }

Expected<void> run_loop(const RunOptions& o, const std::function<void(const std::string&)>& print) {
  g_stop = false;
  auto opened = Workspace::open(o.workspace, o.tag, print);
  if (!opened) return std::unexpected(opened.error());
  auto& ws = **opened;
  for (const auto& f : o.add_kernels) {
    if (auto name = ws.add_kernel(f); !name) return std::unexpected(name.error());
  }
  const auto kernels = ws.kernels();
  if (kernels.empty()) {
    return fail(fmt::format("no kernels in {}", (ws.dir() / "kernels").string()),
                "add some with --kernel FILE (e.g. --kernel kernels/rmsnorm/cpu.cpp)");
  }
  for (const auto& k : kernels) {
    if (auto r = ws.repo().discard(k.file.string()); !r) return std::unexpected(r.error());  // a torn edit
  }
  auto popts = o.proposer_options;
  popts.seed = o.seed + ws.rows().size();
  auto proposer = make_proposer(o.proposer, popts);
  if (!proposer) return std::unexpected(proposer.error());
  const BenchSettings settings{o.dtype, o.case_timeout_s, o.min_gain};

  const auto start = std::chrono::steady_clock::now();
  double spent_before = 0;
  for (const auto& r : ws.rows()) spent_before += r.seconds;
  std::map<std::string, bool> exhausted;
  int ran = 0;
  print(fmt::format("run {} in {}: {} kernels, proposer {}, {} experiments so far", o.tag, ws.dir().string(),
                    kernels.size(), o.proposer, ws.rows().size()));

  while (!g_stop) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (o.budget_s > 0 && spent_before + elapsed >= o.budget_s) {
      print("stopping: the time budget is spent");
      break;
    }
    if (o.max_experiments > 0 && ran >= o.max_experiments) {
      print(fmt::format("stopping: {} experiments done", ran));
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
      break;
    }
    const auto& p = progress[pick->name];
    Expected<ResultRow> row = fail("no experiment");
    if (!p.best) {
      // The kernel's first experiment: the starter as it is, the baseline everything is compared with.
      row = ws.run_baseline(*pick, settings);
    } else {
      auto current = backends::load_candidate(ws.dir() / pick->file, "");
      if (!current) return std::unexpected(current.error());
      KernelState state{pick->name, *current, {}, p.tried, ws.dir(), pick->file};
      state.tried_configs.insert(backends::config_string(current->knob_values));
      for (const auto& r : ws.rows()) {
        if (r.kernel == pick->name) state.history.push_back(r);
      }
      auto proposal = (*proposer)->propose(state);
      if (!proposal) {
        exhausted[pick->name] = true;
        continue;
      }
      // No usable candidate (a hung agent, a reply without code) is one failed experiment, no commit.
      row = proposal->failure ? ws.record_failure(*pick, proposal->description, *proposal->failure)
                              : ws.run_experiment(*pick, proposal->source, proposal->description, proposal->config, settings);
    }
    if (!row) return std::unexpected(row.error());
    ++ran;
    // The live status line: where this kernel stands and how fast the run goes.
    const auto now = progress_from(ws.rows())[pick->name];
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double per_exp = total / ran;
    std::string eta;
    if (o.budget_s > 0) {
      eta = fmt::format(" | {:.0f} s left", std::max(0.0, o.budget_s - spent_before - total));
    } else if (o.max_experiments > 0) {
      eta = fmt::format(" | ETA {:.0f} s", per_exp * (o.max_experiments - ran));
    }
    print(fmt::format("[exp {:>3}] {:<22} {:<15} {:>10.2f} us {:>6.3f}x torch | best {:>6.3f}x{} | {:.1f} s/exp{} | {}",
                      row->experiment, pick->name, row->status, row->latency_us, row->speedup_vs_reference,
                      now.best ? now.best->speedup_vs_reference : 0.0,
                      now.best && now.baseline ? fmt::format(" ({:.2f}x baseline)", now.baseline->latency_us / now.best->latency_us) : "",
                      per_exp, eta, row->description.substr(0, 80)));
  }
  if (g_stop) print("stopped on request; `autokernel run` again resumes here");
  return {};
}

Expected<std::string> status_text(const std::filesystem::path& workspace) {
  ResultsLog log(std::filesystem::absolute(workspace) / "results.tsv");
  auto rows = log.read();
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return fmt::format("no experiments yet in {}", workspace.string());
  std::string out = fmt::format("{:<24} {:>5} {:>5} {:>12} {:>12} {:>9} {:>10}\n", "kernel", "exps", "kept", "baseline_us",
                                "best_us", "vs torch", "vs start");
  double seconds = 0;
  for (const auto& [name, p] : progress_from(*rows)) {
    int kept = 0;
    for (const auto& r : *rows) kept += r.kernel == name && r.status == "kept";
    out += fmt::format("{:<24} {:>5} {:>5} {:>12.2f} {:>12.2f} {:>8.3f}x {:>9.3f}x\n", name, p.experiments, kept,
                       p.baseline ? p.baseline->latency_us : 0.0, p.best ? p.best->latency_us : 0.0,
                       p.best ? p.best->speedup_vs_reference : 0.0,
                       p.best && p.baseline ? p.baseline->latency_us / p.best->latency_us : 0.0);
    seconds += p.seconds;
  }
  out += fmt::format("{} experiments, {:.0f} s, {:.0f} experiments/hour", rows->size(), seconds,
                     seconds > 0 ? rows->size() * 3600.0 / seconds : 0.0);
  return out;
}

}  // namespace ak::loop
