#include "harness/bench.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "backends/candidate.hpp"
#include "backends/backend.hpp"
#include "harness/model_shapes.hpp"
#include "harness/worker.hpp"
#include "util/process.hpp"

namespace ak::harness {

namespace {
/// The line of a dead worker's stderr that says why: its own "autokernel: error:" line (an exception:
/// a device-side assert, a CUDA error), else the last non-empty line, cut to 400 characters.
std::string stderr_reason(const std::string& tail) {
  constexpr std::string_view k_own = "autokernel: error: ";
  std::string last;
  std::size_t pos = 0;
  while (pos < tail.size()) {
    const auto end = std::min(tail.find('\n', pos), tail.size());
    const auto line = tail.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with(k_own)) return line.substr(k_own.size(), 400);
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return last.substr(0, 400);
}
}  // namespace

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::passed:
      return "passed";
    case Outcome::incorrect:
      return "incorrect";
    case Outcome::compile_failed:
      return "compile_failed";
    case Outcome::crashed:
      return "crashed";
    case Outcome::timed_out:
      return "timed_out";
    case Outcome::error:
      return "error";
  }
  return "?";
}

nlohmann::json BenchReport::to_json() const {
  nlohmann::json timings_json = nlohmann::json::array();
  for (const auto& t : timings) timings_json.push_back(t.to_json());
  nlohmann::json stages_json = nlohmann::json::array();
  for (const auto& s : stages) stages_json.push_back(s.to_json());
  nlohmann::json j = {{"kernel", kernel},
                      {"kernel_type", type},
                      {"backend", backend},
                      {"outcome", outcome_name(outcome)},
                      {"correctness", passed() ? "PASS" : "FAIL"},
                      {"failed_stage", failed_stage},
                      {"failed_case", failed_case},
                      {"message", message},
                      {"hint", hint},
                      {"device", device},
                      {"ceiling", ceiling},
                      {"stages", stages_json},
                      {"timings", timings_json},
                      {"compile_seconds", compile_s},
                      {"bench_seconds", total_s},
                      {"implausible", flagged()},
                      {"confirmed", confirmed()},
                      {"plausibility", plausibility_note()}};
  return j;
}

std::string BenchReport::plausibility_note() const {
  if (!flagged()) return "";
  const auto& p = *primary();
  std::string reasons;
  for (const auto& r : p.implausible) reasons += (reasons.empty() ? "" : ", ") + r;
  const auto m = p.remeasured.value_or(Remeasured{});
  return fmt::format("implausible ({}); re-measured with device-wide synchronisation: {:.2f} us, {:.2f}x: {}", reasons,
                     m.kernel_us, m.speedup_vs_reference,
                     confirmed()          ? "confirmed"
                     : !m.failure.empty() ? m.failure
                                          : "NOT confirmed");
}

Expected<BenchReport> run_bench(const BenchRequest& r, const std::function<void(const nlohmann::json&)>& progress) {
  const char* worker_env = std::getenv("AUTOKERNEL_BINARY");  // tests run the real binary's worker
  std::vector<std::string> argv = {worker_env && *worker_env ? std::string(worker_env) : util::self_executable(),
                                   "worker", "--kernel", r.kernel_path};
  if (!r.backend.empty()) argv.insert(argv.end(), {"--backend", r.backend});
  for (const auto& [k, v] : r.knobs) argv.insert(argv.end(), {"--knob", k + "=" + v});
  if (r.quick) argv.push_back("--quick");
  if (!r.timing) argv.push_back("--no-timing");
  argv.insert(argv.end(), {"--dtype", r.timing_dtype});
  argv.insert(argv.end(), {"--max-speedup", fmt::format("{}", r.max_speedup)});
  if (r.max_timing_shapes > 0) argv.insert(argv.end(), {"--timing-shapes", std::to_string(r.max_timing_shapes)});
  for (const auto& s : r.timing_shapes) {
    argv.insert(argv.end(), {"--timing-shape", s.label + "=" + catalog::shape_string(s.dims)});
  }
  for (const auto& d : r.timing_dtypes) argv.insert(argv.end(), {"--timing-dtype", d});

  BenchReport rep;
  rep.kernel = r.kernel_path;
  // Bad input is told apart from a bad candidate before any process starts.
  auto candidate = backends::load_candidate(r.kernel_path, r.backend, r.knobs);
  if (!candidate) return std::unexpected(candidate.error());
  if (auto type = catalog::find_type(candidate->type); !type) {
    return std::unexpected(type.error().context(candidate->path.string()));
  }
  if (auto backend = backends::make_backend(candidate->backend); !backend) return std::unexpected(backend.error());
  // The model's own shapes: given, or from the model.json `autokernel extract` put beside the kernel.
  auto model_shapes = r.model_shapes;
  if (model_shapes.empty()) {
    auto from_file = read_model_shapes(candidate->path);
    if (!from_file) return std::unexpected(from_file.error());
    if (*from_file && (*from_file)->type == candidate->type)
      model_shapes.assign((*from_file)->shapes.begin(), (*from_file)->shapes.end());
  }
  for (const auto& s : model_shapes) {
    argv.insert(argv.end(), {"--model-shape", s.label + "=" + catalog::shape_string(s.dims)});
  }
  rep.type = candidate->type;
  rep.backend = candidate->backend;
  bool done = false, compiling = false;
  std::string last_case;
  int last_stage = 0;
  util::ProcessOptions po;
  po.quiet_limit = r.compile_timeout;
  // A CPU kernel's worker runs in a PID namespace where the system gives one, so even a grandchild it
  // started with setsid dies with it. Not a GPU kernel's: CUDA fails inside one (error 304, H100/H200).
  po.pid_namespace = candidate->backend == "cpu";

  auto on_line = [&](const std::string& line) {
    if (!line.starts_with(k_event_prefix)) return;  // the candidate's own output
    nlohmann::json ev;
    try {
      ev = nlohmann::json::parse(line.substr(k_event_prefix.size()));
    } catch (const std::exception&) {
      return;
    }
    const auto kind = ev.value("event", "");
    if (kind == "device") {
      rep.device = ev;
      po.quiet_limit = r.case_timeout;
    } else if (kind == "compile_start") {
      compiling = true;
      po.quiet_limit = r.compile_timeout;
    } else if (kind == "compiled") {
      compiling = false;
      rep.compile_s = ev.value("seconds", 0.0);
      po.quiet_limit = r.case_timeout;
    } else if (kind == "case_start") {
      last_case = ev.value("case", "");
      last_stage = ev["stage"].is_number() ? ev["stage"].get<int>() : 6;
    } else if (kind == "stage") {
      auto st = StageResult::from_json(ev);
      if (!st) {
        rep.outcome = Outcome::error;
        rep.message = st.error().message;
        return;
      }
      rep.stages.push_back(*st);
      if (st->failed()) {
        rep.outcome = Outcome::incorrect;
        rep.failed_stage = st->stage;
        rep.failed_case = st->failed_case;
        rep.message = st->message;
      }
    } else if (kind == "ceiling") {
      rep.ceiling = ev;
      // Measuring the ceiling the first time takes a few seconds with no case running.
    } else if (kind == "timing") {
      auto t = TimingResult::from_json(ev);
      if (!t) {
        rep.outcome = Outcome::error;
        rep.message = t.error().message;
        return;
      }
      if (!t->timed_failure.empty() && rep.outcome != Outcome::incorrect) {
        rep.outcome = Outcome::incorrect;
        rep.failed_stage = 6;
        rep.failed_case = "timing " + t->shape;
        rep.message = t->timed_failure;
      }
      rep.timings.push_back(std::move(*t));
    } else if (kind == "error") {
      rep.outcome = ev.value("kind", "") == "compile" ? Outcome::compile_failed : Outcome::error;
      rep.message = ev.value("message", "");
      rep.hint = ev.value("hint", "");
    } else if (kind == "done") {
      done = true;
    }
    if (progress) progress(ev);
  };
  // Use a long quiet limit while compiling and the case limit otherwise: the limit is re-read on each poll.
  auto result = util::run_process(argv, po, on_line);
  if (!result) return std::unexpected(result.error());
  rep.total_s = result->elapsed_s;
  rep.candidate_stderr = result->stderr_tail;
  const auto where = last_case.empty() ? std::string(compiling ? "while compiling" : "before the first case")
                                       : fmt::format("at stage {} case {}", last_stage, last_case);
  if (result->timed_out) {
    rep.outcome = Outcome::timed_out;
    rep.failed_stage = last_stage;
    rep.failed_case = last_case;
    rep.message = fmt::format("no progress for {} s {}: killed (a hang)",
                              (compiling ? r.compile_timeout : r.case_timeout).count(), where);
  } else if (result->signaled || !done) {
    rep.outcome = Outcome::crashed;
    rep.failed_stage = last_stage;
    rep.failed_case = last_case;
    rep.message = result->signaled ? fmt::format("the worker died of signal {} ({}) {}", result->signal,
                                                 ::strsignal(result->signal), where)
                                   : fmt::format("the worker exited with code {} {}", result->exit_code, where);
    if (const auto why = stderr_reason(result->stderr_tail); !why.empty()) rep.message += ": " + why;
  } else if (rep.outcome == Outcome::error && rep.message.empty()) {
    rep.outcome = Outcome::passed;
  }
  return rep;
}

}  // namespace ak::harness
