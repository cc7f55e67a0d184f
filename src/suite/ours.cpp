#include "suite/ours.hpp"

#include "backends/candidate.hpp"
#include "harness/bench.hpp"
#include "util/fs.hpp"

namespace ak::suite {
namespace {

/// One line per worker event worth seeing while a suite runs (it takes minutes).
std::string progress_line(const std::string& who, const nlohmann::json& ev) {
  const auto kind = ev.value("event", "");
  if (kind == "compiled") return fmt::format("{}: built in {:.1f} s", who, ev.value("seconds", 0.0));
  if (kind == "stage") {
    const auto status = ev.value("status", "");
    return fmt::format("{}: stage {} {} {}{}", who, ev.value("stage", 0), ev.value("name", ""),
                       status == "pass"   ? "PASS"
                       : status == "skip" ? "SKIP"
                                          : "FAIL",
                       status == "fail" ? " (" + ev.value("failed_case", "") + "): " + ev.value("message", "") : "");
  }
  if (kind == "timing") {
    const auto t = harness::TimingResult::from_json(ev);
    if (!t) return "";  // the report says so
    return fmt::format("{}: {} {}: {:.2f} us{}", who, config_label(t->shape, t->dims), t->dtype, t->kernel_us,
                       t->timed_failure.empty() ? "" : " WRONG: " + t->timed_failure);
  }
  return "";
}

std::string failure_message(const harness::BenchReport& rep) {
  std::string where;
  if (rep.outcome != harness::Outcome::compile_failed && rep.failed_stage > 0) {
    where = rep.failed_stage == 6 ? " while timed" : fmt::format(" at stage {}", rep.failed_stage);
    if (!rep.failed_case.empty()) where += " (" + rep.failed_case + ")";
  }
  return fmt::format("{}{}: {}", harness::outcome_name(rep.outcome), where, rep.message);
}

}  // namespace

std::optional<harness::TimingResult> KernelRun::timing(const std::string& label, const std::string& dtype) const {
  if (!report.is_object()) return std::nullopt;
  for (const auto& j : report.value("timings", nlohmann::json::array())) {
    auto t = harness::TimingResult::from_json(j);
    if (t && t->shape == label && t->dtype == dtype) return std::move(*t);
  }
  return std::nullopt;
}

KernelRun run_kernel(const Plan& plan, const KernelJob& job, const std::function<void(const std::string&)>& print) {
  KernelRun run{job, "error", "", {}, nlohmann::json::object(), ""};
  const auto who = job.type + " " + job.backend;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(job.path, ec)) {
    run.status = "missing";
    run.message = "no kernel file " + job.path.string();
    print(who + ": " + run.message);
    return run;
  }
  // A file that does not parse, or is a kernel of another type, is this kernel's failure, not bad input.
  auto candidate = backends::load_candidate(job.path, job.backend, job.knobs);
  if (!candidate || candidate->type != job.type) {
    run.message = candidate ? fmt::format("{} declares type {}, not {}", job.path.string(), candidate->type, job.type)
                            : candidate.error().message;
    print(who + ": FAILED: " + run.message);
    return run;
  }
  run.knobs = candidate->knob_values;
  run.file_hash = util::content_hash(candidate->source);
  harness::BenchRequest req;
  req.kernel_path = job.path.string();
  req.backend = job.backend;
  req.knobs = job.knobs;
  req.quick = plan.request.quick;
  req.timing_shapes = plan.configs.at(job.type);
  req.timing_dtypes = plan.dtypes;
  req.max_speedup = plan.request.max_speedup;
  req.case_timeout = plan.request.case_timeout;
  auto rep = harness::run_bench(req, [&](const nlohmann::json& ev) {
    if (auto line = progress_line(who, ev); !line.empty()) print(line);
  });
  if (!rep) {
    run.message = rep.error().message;  // e.g. a model.json beside the kernel that does not parse
  } else {
    run.report = rep->to_json();
    if (rep->passed()) {
      run.status = "passed";
    } else {
      run.status = std::string(harness::outcome_name(rep->outcome));
      run.message = failure_message(*rep);
    }
  }
  if (!run.passed()) print(who + ": FAILED: " + run.message);
  return run;
}

}  // namespace ak::suite
