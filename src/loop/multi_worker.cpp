#include "loop/multi_worker.hpp"

#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/ranges.h>

#include "loop/experiment.hpp"
#include "util/process.hpp"
#include "workspace/run_state.hpp"

namespace ak::loop {

using workspace::ResultsLog;
using workspace::RunState;
using workspace::unix_now;
using workspace::Workspace;

namespace {

/// "12" -> 12; anything but digits -> -1.
int parse_index(const std::string& s) {
  if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoi(s);
}

std::string gpu_list_hint(int gpu_count) {
  if (gpu_count == 0) return "this machine has no GPU: use --gpus cpu:N for N CPU workers (CPU kernels)";
  return fmt::format("this machine has {} GPU{} (0 to {}); e.g. --gpus all, --gpus 0,1 or --gpus cpu:2", gpu_count,
                     gpu_count == 1 ? "" : "s", gpu_count - 1);
}

}  // namespace

Expected<std::vector<Device>> parse_devices(const std::string& text, int gpu_count) {
  std::vector<Device> out;
  if (text.starts_with("cpu:")) {
    const int n = parse_index(text.substr(4));
    if (n < 1 || n > 1024) {
      return fail(fmt::format("--gpus {}: the number of CPU workers must be a whole number from 1", text),
                  "e.g. --gpus cpu:2 for two CPU workers");
    }
    for (int i = 0; i < n; ++i) out.push_back({fmt::format("cpu:{}", i), false, i, "cpu"});
    return out;
  }
  if (text == "all") {
    if (gpu_count == 0) return fail("--gpus all: this machine has no GPU", gpu_list_hint(0));
    for (int i = 0; i < gpu_count; ++i) out.push_back({std::to_string(i), true, i, ""});
    return out;
  }
  std::set<int> seen;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const int i = parse_index(item);
    if (i < 0) {
      return fail(fmt::format("--gpus {}: '{}' is not a device", text, item),
                  "give GPU indices (0,1,...), all, or cpu:N for N CPU workers");
    }
    if (!seen.insert(i).second) {
      return fail(fmt::format("--gpus {}: GPU {} is named twice", text, i), "name each GPU once");
    }
    if (i >= gpu_count) {
      return fail(fmt::format("--gpus {}: there is no GPU {} on this machine", text, i), gpu_list_hint(gpu_count));
    }
    out.push_back({std::to_string(i), true, i, ""});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

namespace {

/// How a worker ended, in words, with the error line it printed if any.
std::string worker_failure(const util::ProcessResult& r) {
  std::string how = r.signaled    ? fmt::format("was killed by signal {}", r.signal)
                    : r.timed_out ? std::string("was stopped")
                                  : fmt::format("exited with code {}", r.exit_code);
  const auto at = r.stderr_tail.rfind("autokernel: error: ");
  if (at != std::string::npos) {
    const auto end = r.stderr_tail.find('\n', at);
    how += ": " + r.stderr_tail.substr(at + 19, end == std::string::npos ? std::string::npos : end - at - 19);
  }
  return how;
}

/// Worker process `argv` pinned to `dev` (CUDA_VISIBLE_DEVICES), its lines prefixed with the device; its pid,
/// from its first line, goes to `on_pid`.
Expected<util::ProcessResult> run_worker_process(const Device& dev, const std::vector<std::string>& argv,
                                                 const std::function<void(const std::string&)>& print,
                                                 const std::function<void(long)>& on_pid) {
  util::ProcessOptions po;
  // A worker is quiet while an experiment or an agent runs: its own loop and harness watch those.
  po.quiet_limit = std::chrono::hours(24 * 365);
  po.total_limit = std::chrono::hours(24 * 365);
  if (dev.gpu) po.extra_env.push_back(fmt::format("CUDA_VISIBLE_DEVICES={}", dev.index));
  return util::run_process(argv, po, [&](const std::string& line) {
    if (line.starts_with(k_worker_pid_prefix)) {
      on_pid(std::atol(line.c_str() + std::string_view(k_worker_pid_prefix).size()));
      return;
    }
    print(fmt::format("[{}] {}", dev.id, line));
  });
}

/// Each of `kernels` whose best row of `tag` another device than `ref` measured, and that has no retimed row
/// of `ref` yet, benched again at its best commit by a worker pinned to `ref` (worker_argv with --worker-kernel
/// and --retime). One at a time; none started after a stop request. `launch` runs one worker and `on_kernel`
/// hears of each kernel as it starts ("" when it ended). Returns the failures.
std::vector<std::string> retime_on_reference(
    const std::vector<std::string>& kernels, const std::vector<workspace::ResultRow>& rows, const std::string& tag,
    const Device& ref, const std::vector<std::string>& worker_argv,
    const std::function<Expected<util::ProcessResult>(const std::vector<std::string>&)>& launch,
    const std::function<void(const std::string&)>& on_kernel, const std::function<void(const std::string&)>& print) {
  std::vector<std::string> errors;
  for (const auto& k : kernels) {
    if (stop_requested()) break;  // what is missing is timed by the same command run again
    const auto* best = workspace::best_row(rows, k, tag);
    if (!best || best->device == ref.id || workspace::retimed_row(rows, *best, ref.id)) continue;
    print(fmt::format("retiming {} on {}, the reference device: its best version (experiment {}) was timed on {}", k,
                      ref.id, best->experiment, best->device.empty() ? "no --gpus device" : best->device));
    on_kernel(k);
    auto argv = worker_argv;
    argv.insert(argv.end(),
                {"--worker-kernel", k, "--device", ref.id, "--device-model", ref.model, "--retime", best->commit});
    const auto r = launch(argv);
    on_kernel("");
    if (!r) {
      errors.push_back(fmt::format("re-timing {} on {}: {}", k, ref.id, r.error().message));
    } else if (r->exit_code != 0 || r->signaled || r->timed_out) {
      errors.push_back(fmt::format("re-timing {} on {}: its worker {}", k, ref.id, worker_failure(*r)));
    }
  }
  return errors;
}

}  // namespace

Expected<void> run_workers(const RunOptions& o, const std::vector<Device>& devices,
                           const std::vector<std::string>& worker_argv,
                           const std::function<void(const std::string&)>& print_line) {
  auto run = open_run(o, print_line);  // the parent holds the workspace's lock for the whole run
  if (!run) return std::unexpected(run.error());
  auto& ws = *run->ws;
  std::vector<std::string> queue = kernel_order(run->kernels, ws.rows(), o);
  const ResultsLog log(ws.dir() / "results.tsv");
  // The experiments in results.tsv: its rows but re-timings.
  auto experiments_in = [&] {
    const auto rows = log.read().value_or(std::vector<workspace::ResultRow>{});
    return std::ranges::count_if(rows, [](const auto& r) { return workspace::counts_as_experiment(r.status); });
  };
  const auto experiments_before = experiments_in();

  std::mutex mu;  // the queue, the state, git in the main work tree, and the terminal
  auto print = [&](const std::string& line) {
    const std::lock_guard lock(mu);
    print_line(line);
  };
  RunState state = RunState::starting(o.tag, o.budget_s, o.max_experiments);
  for (const auto& d : devices) state.workers.push_back({d.id, "", 0});
  // Called with `mu` held.
  auto record = [&]() {
    state.updated_at = unix_now();
    state.experiments = static_cast<int>(std::max<std::ptrdiff_t>(0, experiments_in() - experiments_before));
    (void)state.write(ws.dir());  // what status shows; the run goes on without it
  };
  {
    const std::lock_guard lock(mu);
    record();
  }
  std::vector<std::string> ids;
  for (const auto& d : devices) ids.push_back(d.id);
  print(fmt::format("run {} in {}: {} kernels on {} workers ({}), proposer {}", o.tag, ws.dir().string(), queue.size(),
                    devices.size(), fmt::join(ids, ", "), o.proposer));

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> errors;
  std::vector<long> pids(devices.size(), 0);
  std::vector<bool> told_to_stop(devices.size(), false);
  bool budget_spent = false;
  std::atomic<int> finished{0};
  // Worker process `argv` on devices[i], pinned to it, its lines prefixed with the device.
  auto launch = [&](std::size_t i, const std::vector<std::string>& argv) {
    return run_worker_process(devices[i], argv, print, [&](long pid) {
      const std::lock_guard lock(mu);
      pids[i] = pid;
      told_to_stop[i] = false;
    });
  };
  auto work = [&](std::size_t i) {
    const auto& dev = devices[i];
    while (true) {
      std::string kernel;
      double budget_left = 0;
      {
        const std::lock_guard lock(mu);
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (o.budget_s > 0 && elapsed >= o.budget_s) budget_spent = true;
        if (stop_requested() || budget_spent || queue.empty()) break;
        budget_left = o.budget_s - elapsed;
        kernel = queue.front();
        queue.erase(queue.begin());
        state.workers[i].kernel = kernel;
        record();
      }
      auto argv = worker_argv;
      argv.insert(argv.end(), {"--worker-kernel", kernel, "--device", dev.id, "--device-model", dev.model});
      if (o.budget_s > 0) argv.insert(argv.end(), {"--budget", fmt::format("{:.0f}s", std::max(1.0, budget_left))});
      auto r = launch(i, argv);
      const std::lock_guard lock(mu);
      pids[i] = 0;
      state.workers[i].kernel = "";
      if (!r) {
        errors.push_back(fmt::format("{} on {}: {}", kernel, dev.id, r.error().message));
      } else if (r->exit_code != 0 || r->signaled || r->timed_out) {
        errors.push_back(fmt::format("{} on {}: its worker {}", kernel, dev.id, worker_failure(*r)));
      } else if (auto m = ws.repo().merge(Workspace::worker_branch(o.tag, kernel),
                                          fmt::format("merge {}: its experiments on {}", kernel, dev.id));
                 !m) {
        errors.push_back(fmt::format("{} on {}: {}", kernel, dev.id, m.error().message));
      } else {
        ++state.workers[i].kernels_done;
      }
      record();
    }
  };
  // Run `jobs` on threads of their own while this one passes Ctrl-C on: it reaches the parent only (each
  // worker has a process group of its own), so each worker is told, and stops after its current experiment
  // or re-timing, as a run alone does.
  auto run_passing_on_ctrl_c = [&](const std::vector<std::function<void()>>& jobs) {
    finished = 0;
    std::vector<std::thread> threads;
    for (const auto& job : jobs) {
      threads.emplace_back([&, job] {
        job();
        ++finished;
      });
    }
    while (finished < static_cast<int>(jobs.size())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (!stop_requested()) continue;
      const std::lock_guard lock(mu);
      for (std::size_t i = 0; i < devices.size(); ++i) {
        if (pids[i] > 0 && !told_to_stop[i]) {
          ::kill(static_cast<pid_t>(pids[i]), SIGINT);
          told_to_stop[i] = true;
        }
      }
    }
    for (auto& t : threads) t.join();
  };
  std::vector<std::function<void()>> jobs;
  for (std::size_t i = 0; i < devices.size(); ++i) jobs.emplace_back([&, i] { work(i); });
  run_passing_on_ctrl_c(jobs);

  // Each kernel's own run.json (in its worktree) says whether it is done and why.
  for (const auto& k : run->kernels) {
    const auto ks = RunState::read(Workspace::worktree_dir(ws.dir(), k.name));
    state.done[k.name] = ks && ks->done.contains(k.name) ? ks->done.at(k.name) : "";
  }
  // Each done kernel's best version, timed again on the reference device (the first listed) where another
  // device measured it: GPUs of one model still differ, and the number reported is the reference's.
  if (errors.empty() && !stop_requested() && !budget_spent) {
    std::vector<std::string> done;
    for (const auto& k : run->kernels) {
      if (!state.done[k.name].empty()) done.push_back(k.name);
    }
    const auto rows = log.read().value_or(std::vector<workspace::ResultRow>{});
    run_passing_on_ctrl_c({[&] {
      auto failed = retime_on_reference(
          done, rows, o.tag, devices.front(), worker_argv,
          [&](const auto& argv) {
            auto r = launch(0, argv);
            const std::lock_guard lock(mu);
            pids[0] = 0;  // gone: never signalled again (its pid may be another process's by now)
            return r;
          },
          [&](const std::string& kernel) {
            const std::lock_guard lock(mu);
            state.workers[0].kernel = kernel;
            record();
          },
          print);
      const std::lock_guard lock(mu);
      errors.insert(errors.end(), failed.begin(), failed.end());
    }});
  }
  std::string why = "every kernel is done";
  if (!errors.empty()) {
    why = fmt::format("{} worker{} failed", errors.size(), errors.size() == 1 ? "" : "s");
  } else if (stop_requested()) {
    why = "stopped on request";
  } else if (budget_spent) {
    why = "the time budget is spent";
  } else if (std::ranges::any_of(state.done, [](const auto& d) { return d.second.empty(); })) {
    why = "every kernel was handed out";  // some stopped at their experiment limit
  }
  state.state = !errors.empty() ? "failed" : stop_requested() ? "stopped" : "finished";
  state.stop_reason = why;
  record();
  print(fmt::format("stopping: {}", why));
  for (const auto& [name, reason] : state.done)
    print(fmt::format("  {}: {}", name, reason.empty() ? "not done" : reason));
  if (!errors.empty()) {
    for (const auto& e : errors) print("  failed: " + e);
    return fail(
        fmt::format("{}{}", errors.front(), errors.size() > 1 ? fmt::format(" (and {} more)", errors.size() - 1) : ""),
        "`autokernel run` again with the same options resumes: finished kernels stay finished, and an "
        "interrupted experiment is reverted");
  }
  if (stop_requested()) print("stopped on request; `autokernel run` again resumes here");
  return {};
}

Expected<void> retime_best(const RunOptions& o, const std::function<void(const std::string&)>& print) {
  auto run = open_run(o, print);  // the worker's view: its kernel's worktree, at its branch's best version
  if (!run) return std::unexpected(run.error());
  if (stop_requested()) {  // Ctrl-C passed on before the bench began: the same command times it later
    print(fmt::format("stopped on request before re-timing {}", o.worker_kernel));
    return {};
  }
  const BenchSettings settings{o.dtype, o.case_timeout_s, o.min_gain, o.max_speedup, {}};
  const auto& k = run->kernels.front();
  auto row = run_retime(
      *run->ws, k, o.retime_commit,
      fmt::format("retimed on the reference device {}: the best version {}", o.device, o.retime_commit.substr(0, 12)),
      settings);
  if (!row) return std::unexpected(row.error());
  print(fmt::format("[exp {:>3}] {:<22} retimed    {:>10.2f} us {:>7.3f}x torch | the best version, on the reference",
                    row->experiment, k.name, row->latency_us, row->speedup_vs_reference));
  return {};
}

Expected<std::vector<std::string>> merge_worker_branches(const std::filesystem::path& workspace, const std::string& tag,
                                                         const std::function<void(const std::string&)>& print) {
  auto opened = Workspace::open(workspace, tag, print);  // the lock: no `run` goes on in the main work tree
  if (!opened) return std::unexpected(opened.error());
  auto& ws = **opened;
  std::vector<std::string> merged;
  for (const auto& k : ws.kernels()) {
    const auto branch = Workspace::worker_branch(tag, k.name);
    if (!ws.repo().has_branch(branch)) continue;
    {
      // Its worker's view, opened and closed: its lock (no task still on it) and the revert of an experiment
      // a killed task left unrecorded, so only recorded work is merged.
      auto w = Workspace::open_worker(ws.dir(), tag, {k.name, "", ""}, print);
      if (!w) return std::unexpected(w.error().context(fmt::format("merging {}", k.name)));
    }
    if (auto m = ws.repo().merge(branch, fmt::format("merge {}: its experiments", k.name)); !m) {
      return std::unexpected(m.error().context(fmt::format("merging {}", k.name)));
    }
    merged.push_back(k.name);
  }
  if (merged.empty()) {
    return fail(fmt::format("no kernel of run {} in {} has a worker branch to merge", tag, ws.dir().string()),
                "run the workers first (`autokernel run --slurm-array`, then sbatch), with the same --tag");
  }
  return merged;
}

Expected<std::vector<std::string>> retime_bests(const std::filesystem::path& workspace, const std::string& tag,
                                                const Device& ref, const std::vector<std::string>& worker_argv,
                                                const std::function<void(const std::string&)>& print) {
  auto opened = Workspace::open(workspace, tag, print);  // the lock: no `run` or other merge meanwhile
  if (!opened) return std::unexpected(opened.error());
  const auto& ws = **opened;
  const ResultsLog log(ws.dir() / "results.tsv");
  auto rows = log.read();
  if (!rows) return std::unexpected(rows.error());
  std::vector<std::string> kernels;
  for (const auto& k : ws.kernels()) kernels.push_back(k.name);
  const auto errors = retime_on_reference(
      kernels, *rows, tag, ref, worker_argv,
      [&](const auto& argv) { return run_worker_process(ref, argv, print, [](long) {}); }, [](const auto&) {}, print);
  if (!errors.empty()) {
    return fail(
        fmt::format("{}{}", errors.front(), errors.size() > 1 ? fmt::format(" (and {} more)", errors.size() - 1) : ""),
        "`autokernel merge --retime` again times what is missing");
  }
  rows = log.read();
  if (!rows) return std::unexpected(rows.error());
  std::vector<std::string> timed;
  for (const auto& k : kernels) {
    const auto* best = workspace::best_row(*rows, k, tag);
    if (best && best->device != ref.id && workspace::retimed_row(*rows, *best, ref.id)) timed.push_back(k);
  }
  return timed;
}

}  // namespace ak::loop
