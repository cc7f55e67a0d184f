#include "loop/experiment.hpp"

#include <optional>

#include "backends/candidate.hpp"
#include "catalog/shape.hpp"
#include "loop/keep_rule.hpp"
#include "util/fs.hpp"
#include "workspace/model_json.hpp"

namespace ak::loop {

using workspace::ResultRow;
using workspace::Status;
using workspace::Workspace;
using workspace::WorkspaceKernel;

namespace {

ResultRow row_from(const harness::BenchReport& rep, const std::string& tag, int experiment, const std::string& kernel,
                   Status status, const std::string& config, const std::string& description,
                   const std::string& commit) {
  ResultRow r;
  r.experiment = experiment;
  r.tag = tag;
  r.kernel = kernel;
  r.backend = rep.backend;
  r.status = status;
  r.correctness = rep.passed() ? "PASS" : "FAIL";
  if (const auto* p = rep.primary()) {
    r.throughput = p->memory_bound() ? p->gb_s : p->tflops;
    r.throughput_unit = p->memory_bound() ? "GB/s" : "TFLOP/s";
    r.latency_us = p->kernel_us;
    r.spread = p->kernel_spread;
    r.pct_of_ceiling = p->pct_of_ceiling;
    r.speedup_vs_reference = p->speedup_vs_reference;
  }
  r.config = config;
  r.description = rep.passed() ? description : description + " [" + rep.message.substr(0, 200) + "]";
  if (status == Status::implausible) r.description += " [" + rep.plausibility_note() + "]";
  r.commit = commit;
  r.seconds = rep.total_s;
  if (rep.device.is_object()) r.gpu = rep.device.value("name", "");  // a worker's Workspace sets its own model
  return r;
}

harness::BenchReport bench(const std::filesystem::path& file, const BenchSettings& s) {
  harness::BenchRequest req;
  req.kernel_path = file.string();
  req.timing_dtype = s.dtype.empty() ? workspace::timing_dtype_of(file) : s.dtype;
  req.max_timing_shapes = 1;  // the loop compares one shape; `autokernel bench` gives the full picture
  req.case_timeout = std::chrono::seconds(s.case_timeout_s);
  req.max_speedup = s.max_speedup;
  // The worker names the architecture it builds for before it compiles: passed on then, the compiles ahead start
  // beside this one instead of after it (on an H100 host, ~33 s of nvcc a Hopper starter).
  auto on_event = [&](const nlohmann::json& ev) {
    if (s.on_build_arch && ev.value("event", "") == "device" && ev.value("build_arch", "") != "") {
      s.on_build_arch(ev.value("build_arch", ""));
    }
  };
  auto rep = harness::run_bench(req, on_event);
  if (!rep) {
    // The file parsed when the experiment began; an error now is the candidate's own (a bad knob line).
    harness::BenchReport bad;
    bad.outcome = harness::Outcome::error;
    bad.message = rep.error().message;
    return bad;
  }
  return *rep;
}

/// The error to stop with when the bench failed because the disk is full (a compile or a cache write).
std::optional<Error> disk_full_error(const harness::BenchReport& rep) {
  if (rep.passed() || !util::says_disk_full(rep.message)) return std::nullopt;
  return Error{fmt::format("the disk is full: {}", rep.message.substr(0, 300)),
               "free some disk space, then `autokernel run` again: it resumes here"};
}

}  // namespace

Expected<ResultRow> run_baseline(Workspace& ws, const WorkspaceKernel& k, const BenchSettings& s) {
  auto head = ws.repo().rev_parse("HEAD");
  if (!head) return std::unexpected(head.error());
  auto c = backends::load_candidate(ws.dir() / k.file, "");
  if (!c) return std::unexpected(c.error());
  const auto rep = bench(ws.dir() / k.file, s);
  if (auto full = disk_full_error(rep); full) return std::unexpected(*full);
  if (rep.outcome == harness::Outcome::error) {
    // The harness could not run the starter at all (a dtype it does not know, a backend missing here): bad
    // input or a broken setup, not the kernel's failure. No row, so the kernel is not marked done by it.
    return fail(fmt::format("{}: the harness could not run its starter: {}", k.name, rep.message),
                rep.hint.empty() ? "fix the setup, then `autokernel run` again: nothing was recorded" : rep.hint);
  }
  // Say which shape the loop compares at: the model's heaviest when extract recorded it.
  std::string timed;
  if (const auto* p = rep.primary()) {
    timed = fmt::format(", timed at {} {} {}", p->shape, catalog::shape_string(p->dims), p->dtype);
  }
  auto number = ws.take_experiment_number();
  if (!number) return std::unexpected(number.error());
  auto row = row_from(rep, ws.tag(), *number, k.name, rep.passed() ? Status::baseline : status_of_failure(rep.outcome),
                      backends::config_string(c->knob_values), "baseline: the starter as extracted" + timed, *head);
  if (auto a = ws.append(row); !a) return std::unexpected(a.error());
  return row;
}

Expected<ResultRow> run_retime(Workspace& ws, const WorkspaceKernel& k, const std::string& commit,
                               const std::string& description, const BenchSettings& s) {
  // The version timed must be the best's: the worktree's file as that commit has it.
  const auto at_commit = ws.repo().show(commit, k.file.generic_string());  // git's output, its end trimmed
  auto here = util::read_file(ws.dir() / k.file);
  while (here && !here->empty() && (here->back() == '\n' || here->back() == ' ')) here->pop_back();
  if (!at_commit || !here || *at_commit != *here) {
    return fail(fmt::format("{}: its file in {} is not its best version ({})", k.name, ws.dir().string(), commit),
                "`autokernel merge` or `autokernel run` with the same --tag first");
  }
  auto c = backends::load_candidate(ws.dir() / k.file, "");
  if (!c) return std::unexpected(c.error());
  const auto rep = bench(ws.dir() / k.file, s);
  if (auto full = disk_full_error(rep); full) return std::unexpected(*full);
  if (!rep.passed()) {
    return fail(fmt::format("{}: its best version did not pass on the reference device: {}", k.name,
                            rep.message.substr(0, 300)),
                "nothing was recorded; `autokernel run` again with the same options retries it");
  }
  auto number = ws.take_experiment_number();
  if (!number) return std::unexpected(number.error());
  auto row = row_from(rep, ws.tag(), *number, k.name, Status::retimed, backends::config_string(c->knob_values),
                      description, commit);
  if (auto a = ws.append(row); !a) return std::unexpected(a.error());
  return row;
}

Expected<ResultRow> run_experiment(Workspace& ws, const WorkspaceKernel& k, const std::string& source,
                                   const std::string& description, const std::string& config, const BenchSettings& s) {
  const ResultRow* best_row = ws.best(k.name);
  if (!best_row) return fail(fmt::format("{} has no baseline yet", k.name));
  const double best_us = best_row->latency_us, best_spread = best_row->spread;
  const auto number = ws.take_experiment_number();
  if (!number) return std::unexpected(number.error());
  const int experiment = *number;
  // An experiment that cannot be recorded (git or a full disk failing under it) leaves the workspace as it
  // was: the file as it was before, by its bytes rather than through git, which may be what is failing.
  const auto before = util::read_file(ws.dir() / k.file);
  auto put_back = [&] {
    if (before) (void)util::write_file_atomic(ws.dir() / k.file, *before);
  };
  if (auto w = util::write_file_atomic(ws.dir() / k.file, source); !w) {
    put_back();
    return std::unexpected(w.error());
  }
  auto commit = ws.repo().commit({k.file.string()}, fmt::format("exp {}: {}: {}", experiment, k.name, description));
  if (!commit) {
    (void)ws.repo().unstage(k.file.string());
    put_back();
    return std::unexpected(commit.error().context(fmt::format("experiment {} was not recorded", experiment)));
  }
  const auto rep = bench(ws.dir() / k.file, s);
  if (auto full = disk_full_error(rep); full) {
    // A compiler or the worker ran out of disk: the machine failed, not the candidate. No row.
    (void)ws.repo().reset_hard("HEAD~1");
    return std::unexpected(full->context(fmt::format("experiment {} was not recorded", experiment)));
  }
  const Status status = judge(rep, best_us, best_spread, s.min_gain);
  auto row = row_from(rep, ws.tag(), experiment, k.name, status, config, description, *commit);
  if (status != Status::kept) {
    if (auto r = ws.repo().reset_hard("HEAD~1"); !r) return std::unexpected(r.error());
  }
  if (auto a = ws.append(row); !a) {
    if (status == Status::kept) (void)ws.repo().reset_hard("HEAD~1");  // no row, no kept commit
    return std::unexpected(a.error());
  }
  return row;
}

}  // namespace ak::loop
