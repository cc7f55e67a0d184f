#include "loop/run_loop.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>

#include "backends/candidate.hpp"
#include "harness/bench.hpp"
#include "loop/git_repo.hpp"
#include "loop/proposer.hpp"
#include "loop/results_log.hpp"
#include "util/fs.hpp"

namespace ak::loop {
namespace {

std::atomic<bool> g_stop{false};

constexpr const char* k_results_file = "results.tsv";
constexpr const char* k_lock_file = "run.lock";

/// Holds an exclusive lock on the workspace for the life of a run: two runs in one workspace would
/// interleave their commits.
class WorkspaceLock {
 public:
  static Expected<WorkspaceLock> acquire(const std::filesystem::path& ws) {
    const auto path = ws / k_lock_file;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return fail(fmt::format("cannot open {}", path.string()));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return fail(fmt::format("another autokernel run is using {}", ws.string()),
                  "wait for it to finish, or use another --workspace");
    }
    return WorkspaceLock(fd);
  }
  WorkspaceLock(WorkspaceLock&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
  ~WorkspaceLock() {
    if (m_fd >= 0) ::close(m_fd);
  }

 private:
  explicit WorkspaceLock(int fd) : m_fd(fd) {}
  int m_fd;
};

struct Kernel {
  std::string name;
  std::filesystem::path file;  ///< relative to the workspace
  std::string backend;
};

/// Kernels in the workspace: kernels/<name>/kernel.{cu,py,cpp}.
std::vector<Kernel> list_kernels(const std::filesystem::path& ws) {
  std::vector<Kernel> out;
  std::error_code ec;
  if (!std::filesystem::exists(ws / "kernels", ec)) return out;
  for (const auto& dir : std::filesystem::directory_iterator(ws / "kernels", ec)) {
    for (const auto* f : {"kernel.cu", "kernel.py", "kernel.cpp"}) {
      if (std::filesystem::exists(dir.path() / f, ec)) {
        auto b = backends::backend_for_extension(f);
        out.push_back({dir.path().filename().string(), std::filesystem::path("kernels") / dir.path().filename() / f, *b});
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Kernel& a, const Kernel& b) { return a.name < b.name; });
  return out;
}

/// Copy a candidate file into the workspace as kernels/<type>_<backend>/kernel.<ext>.
Expected<std::string> add_kernel(const std::filesystem::path& ws, const std::string& file, GitRepo& repo) {
  auto c = backends::load_candidate(file, "");
  if (!c) return std::unexpected(c.error());
  const auto name = c->type + "_" + c->backend;
  const auto rel = std::filesystem::path("kernels") / name / ("kernel" + c->path.extension().string());
  std::error_code ec;
  if (std::filesystem::exists(ws / rel, ec)) return name;  // already there: resuming
  std::filesystem::create_directories((ws / rel).parent_path(), ec);
  if (auto w = util::write_file_atomic(ws / rel, c->source); !w) return std::unexpected(w.error());
  if (auto r = repo.commit({rel.string()}, fmt::format("add kernel {} from {}", name, file)); !r) {
    return std::unexpected(r.error());
  }
  return name;
}

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

/// Amdahl: expected gain = share of the model's time x headroom to the ceiling. Without a profile every
/// kernel has an equal share; a kernel not yet measured goes first.
double priority(const KernelProgress& k) {
  if (!k.best) return 2.0;
  return std::max(0.05, 1.0 - k.best->pct_of_ceiling / 100.0);
}

ResultRow row_from(const harness::BenchReport& rep, const RunOptions& o, int experiment, const std::string& kernel,
                   const std::string& status, const std::string& config, const std::string& description,
                   const std::string& commit) {
  ResultRow r;
  r.experiment = experiment;
  r.tag = o.tag;
  r.kernel = kernel;
  r.backend = rep.backend;
  r.status = status;
  r.correctness = rep.passed() ? "PASS" : "FAIL";
  const auto p = rep.primary();
  if (!p.empty()) {
    const bool memory = p.value("bound", "") == "memory";
    r.throughput = memory ? p.value("gb_s", 0.0) : p.value("tflops", 0.0);
    r.throughput_unit = memory ? "GB/s" : "TFLOP/s";
    r.latency_us = p.value("kernel_us", 0.0);
    r.spread = p.value("kernel_spread", 0.0);
    r.pct_of_ceiling = p.value("pct_of_ceiling", 0.0);
    r.speedup_vs_reference = p.value("speedup_vs_reference", 0.0);
  }
  r.config = config;
  r.description = rep.passed() ? description : description + " [" + rep.message.substr(0, 200) + "]";
  r.commit = commit;
  r.seconds = rep.total_s;
  return r;
}

harness::BenchReport bench(const std::filesystem::path& file, const RunOptions& o) {
  harness::BenchRequest req;
  req.kernel_path = file.string();
  req.timing_dtype = o.dtype;
  req.max_timing_shapes = 1;  // the loop compares one shape; `autokernel bench` gives the full picture
  req.case_timeout = std::chrono::seconds(o.case_timeout_s);
  auto rep = harness::run_bench(req, nullptr);
  if (!rep) {
    // The file parsed when the experiment began; an error now is a candidate's own (e.g. a bad knob line).
    harness::BenchReport bad;
    bad.outcome = harness::Outcome::error;
    bad.message = rep.error().message;
    return bad;
  }
  return *rep;
}

}  // namespace

void request_stop() { g_stop = true; }

Expected<void> run_loop(const RunOptions& o, const std::function<void(const std::string&)>& print) {
  g_stop = false;
  const auto ws = std::filesystem::absolute(o.workspace);
  GitRepo repo(ws);
  if (auto r = repo.init(); !r) return std::unexpected(r.error().context("preparing the workspace"));
  auto lock = WorkspaceLock::acquire(ws);
  if (!lock) return std::unexpected(lock.error());
  if (!std::filesystem::exists(ws / ".gitignore")) {
    if (auto w = util::write_file_atomic(ws / ".gitignore", "results.tsv\nrun.lock\n.autokernel/\n"); !w) return std::unexpected(w.error());
    if (auto c = repo.commit({".gitignore"}, "ignore the run's own files"); !c) return std::unexpected(c.error());
  }
  if (auto r = repo.checkout_branch("autokernel/" + o.tag); !r) return std::unexpected(r.error());

  ResultsLog log(ws / k_results_file);
  auto all_rows = log.read();
  if (!all_rows) return std::unexpected(all_rows.error());
  std::vector<ResultRow> rows;
  for (const auto& r : *all_rows) {
    if (r.tag == o.tag) rows.push_back(r);
  }
  // Resume: an experiment killed before its row was written left its commit at HEAD: revert it.
  if (auto head = repo.rev_parse("HEAD"); head) {
    auto msg = repo.head_subject();
    const bool is_experiment = msg && msg->starts_with("exp ");
    const bool recorded = std::any_of(rows.begin(), rows.end(), [&](const ResultRow& r) { return r.commit == *head; });
    if (is_experiment && !recorded) {
      print(fmt::format("resuming: the last experiment ({}) was interrupted; reverting it", msg->substr(0, 60)));
      if (auto r = repo.reset_hard("HEAD~1"); !r) return std::unexpected(r.error());
    }
  }
  for (const auto& f : o.add_kernels) {
    auto name = add_kernel(ws, f, repo);
    if (!name) return std::unexpected(name.error());
  }
  const auto kernels = list_kernels(ws);
  if (kernels.empty()) {
    return fail(fmt::format("no kernels in {}", (ws / "kernels").string()),
                "add some with --kernel FILE (e.g. --kernel kernels/rmsnorm/cpu.cpp)");
  }
  for (const auto& k : kernels) {
    if (auto r = repo.discard(k.file.string()); !r) return std::unexpected(r.error());
  }
  auto popts = o.proposer_options;
  popts.seed = o.seed + rows.size();
  auto proposer = make_proposer(o.proposer, popts);
  if (!proposer) return std::unexpected(proposer.error());

  int next = 0;
  for (const auto& r : *all_rows) next = std::max(next, r.experiment + 1);
  const auto start = std::chrono::steady_clock::now();
  double spent_before = 0;
  for (const auto& r : rows) spent_before += r.seconds;
  std::map<std::string, bool> exhausted;
  int ran = 0;
  print(fmt::format("run {} in {}: {} kernels, proposer {}, {} experiments so far", o.tag, ws.string(), kernels.size(),
                    o.proposer, rows.size()));

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
    auto progress = progress_from(rows);
    for (auto& [name, p] : progress) p.exhausted = exhausted[name];
    const Kernel* pick = nullptr;
    double best_priority = -1;
    for (const auto& k : kernels) {
      auto& p = progress[k.name];
      if (!done_reason(p, o).empty()) continue;
      const double pr = priority(p) - 1e-6 * p.experiments;  // ties: the kernel with fewer experiments
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
    auto& p = progress[pick->name];
    const auto path = ws / pick->file;
    auto current = backends::load_candidate(path, "");
    if (!current) return std::unexpected(current.error());
    const int experiment = next++;
    ResultRow row;
    if (!p.best) {
      // The kernel's first experiment: the starter as it is, the baseline everything is compared with.
      auto head = repo.rev_parse("HEAD");
      if (!head) return std::unexpected(head.error());
      const auto rep = bench(path, o);
      row = row_from(rep, o, experiment, pick->name, rep.passed() ? "baseline" : std::string(harness::outcome_name(rep.outcome)),
                     backends::config_string(current->knob_values), "baseline: the starter as extracted", *head);
    } else {
      KernelState state{pick->name, *current, {}, p.tried, ws, pick->file};
      state.tried_configs.insert(backends::config_string(current->knob_values));
      for (const auto& r : rows) {
        if (r.kernel == pick->name) state.history.push_back(r);
      }
      auto proposal = (*proposer)->propose(state);
      if (!proposal) {
        exhausted[pick->name] = true;
        --next;
        continue;
      }
      if (proposal->failure) {
        // No usable candidate (a hung agent, a reply without code): one failed experiment, no commit.
        if (auto r = repo.discard(pick->file.string()); !r) return std::unexpected(r.error());
        auto head = repo.rev_parse("HEAD");
        ResultRow failed;
        failed.experiment = experiment;
        failed.tag = o.tag;
        failed.kernel = pick->name;
        failed.backend = pick->backend;
        failed.status = "proposer_failed";
        failed.correctness = "FAIL";
        failed.description = proposal->description + " [" + proposal->failure->substr(0, 200) + "]";
        failed.commit = head ? *head : "";
        if (auto a = log.append(failed); !a) return std::unexpected(a.error());
        rows.push_back(failed);
        ++ran;
        print(fmt::format("[exp {:>3}] {:<22} proposer_failed: {}", experiment, pick->name, failed.description.substr(0, 120)));
        continue;
      }
      if (auto w = util::write_file_atomic(path, proposal->source); !w) return std::unexpected(w.error());
      auto commit = repo.commit({pick->file.string()}, fmt::format("exp {}: {}: {}", experiment, pick->name, proposal->description));
      if (!commit) return std::unexpected(commit.error());
      const auto rep = bench(path, o);
      const double best_us = p.best->latency_us;
      const double new_us = rep.primary().value("kernel_us", 0.0);
      // Keep only a gain beyond the noise of both measurements and beyond min_gain.
      const double threshold = std::max(o.min_gain, 0.5 * (p.best->spread + rep.primary().value("kernel_spread", 0.0)));
      const bool faster = rep.passed() && new_us > 0 && new_us < best_us * (1.0 - threshold);
      std::string status = faster ? "kept" : rep.passed() ? "reverted" : std::string(harness::outcome_name(rep.outcome));
      row = row_from(rep, o, experiment, pick->name, status, proposal->config, proposal->description, *commit);
      if (!faster) {
        if (auto r = repo.reset_hard("HEAD~1"); !r) return std::unexpected(r.error());
      }
    }
    if (auto a = log.append(row); !a) return std::unexpected(a.error());
    rows.push_back(row);
    ++ran;
    // The live status line: where this kernel stands and how fast the run goes.
    const auto prog = progress_from(rows)[pick->name];
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double per_exp = total / ran;
    std::string eta;
    if (o.budget_s > 0) {
      eta = fmt::format(" | {:.0f} s left", std::max(0.0, o.budget_s - spent_before - total));
    } else if (o.max_experiments > 0) {
      eta = fmt::format(" | ETA {:.0f} s", per_exp * (o.max_experiments - ran));
    }
    print(fmt::format("[exp {:>3}] {:<22} {:<14} {:>10.2f} us {:>6.3f}x torch | best {:>6.3f}x{} | {:.1f} s/exp{} | {}",
                      experiment, pick->name, row.status, row.latency_us, row.speedup_vs_reference,
                      prog.best ? prog.best->speedup_vs_reference : 0.0,
                      prog.best && prog.baseline ? fmt::format(" ({:.2f}x baseline)", prog.baseline->latency_us / prog.best->latency_us) : "",
                      per_exp, eta, row.description.substr(0, 80)));
  }
  if (g_stop) print("stopped on request; `autokernel run` again resumes here");
  return {};
}

Expected<std::string> status_text(const std::filesystem::path& workspace) {
  ResultsLog log(std::filesystem::absolute(workspace) / k_results_file);
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
