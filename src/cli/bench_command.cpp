// `autokernel bench --kernel DIR|FILE`: one candidate through the five stages and the timer.
// Prints progress as it goes, then a table and `key: value` lines (or one JSON document with --json).
#include <cstdio>

#include "cli/commands.hpp"
#include "catalog/shape.hpp"
#include "harness/bench.hpp"

namespace ak::cli {
namespace {

struct BenchArgs {
  std::string kernel, backend, dtype = "f16";
  std::vector<std::string> knobs;
  bool quick = false, json = false, no_timing = false;
  int case_timeout_s = 60;
  int timing_shapes = 0;
  double max_speedup = 10;
};

void print_progress(const nlohmann::json& ev, std::FILE* out) {
  const auto kind = ev.value("event", "");
  if (kind == "device") {
    std::string spec;
    if (ev.contains("spec")) {
      spec = fmt::format(" [{}{}: {:.0f} GB/s, bf16 {:.0f} TFLOP/s]", ev["spec"].value("name", ""),
                         ev["spec"].value("estimated", false) ? ", estimated" : "",
                         ev["spec"].value("bandwidth_gb_s", 0.0), ev["spec"].value("tflops_bf16", 0.0));
    }
    fmt::print(out, "device: {}{}\n", ev.value("name", ""), spec);
  } else if (kind == "compiled") {
    fmt::print(out, "build: {:.1f} s\n", ev.value("seconds", 0.0));
  } else if (kind == "stage") {
    fmt::print(out, "stage {} {:<12} {:<4} {:>3} cases{} {:6.1f} s{}\n", ev.value("stage", 0), ev.value("name", ""),
               ev.value("status", "") == "pass"   ? "PASS"
               : ev.value("status", "") == "skip" ? "SKIP"
                                                  : "FAIL",
               ev.value("cases", 0),
               ev.value("skipped", 0) ? fmt::format(" ({} skipped: too large here)", ev.value("skipped", 0)) : "",
               ev.value("seconds", 0.0), ev.value("status", "") == "fail" ? "  <- " + ev.value("failed_case", "") : "");
    if (ev.value("status", "") == "fail") fmt::print(out, "  {}\n", ev.value("message", ""));
  } else if (kind == "ceiling") {
    fmt::print(out, "measured ceiling: copy {:.0f} GB/s, matmul {:.1f} TFLOP/s ({})\n", ev.value("copy_gb_s", 0.0),
               ev.value("matmul_tflops", 0.0), ev.value("matmul_what", ""));
    fmt::print(out, "{:<24} {:<5} {:>11} {:>11} {:>8} {:>8} {:>8} {:>9} {}\n", "timing shape", "dtype", "kernel_us",
               "torch_us", "speedup", "GB/s", "TFLOP/s", "%ceiling", "bound");
  } else if (kind == "timing") {
    const auto t = harness::TimingResult::from_json(ev);
    if (!t) return;  // the parent's report says so
    fmt::print(out, "{:<24} {:<5} {:>11.2f} {:>11.2f} {:>7.3f}x {:>8.0f} {:>8.2f} {:>8.1f}% {}\n",
               t->shape + " " + catalog::shape_string(t->dims), t->dtype, t->kernel_us, t->reference_us,
               t->speedup_vs_reference, t->gb_s, t->tflops, t->pct_of_ceiling, t->bound);
    if (t->flagged()) {
      const auto m = t->remeasured.value_or(harness::Remeasured{});
      fmt::print(out, "  implausible, re-measured with device-wide synchronisation: {:.2f} us, {:.3f}x: {}\n",
                 m.kernel_us, m.speedup_vs_reference, m.confirmed ? "confirmed" : "NOT confirmed");
    }
  }
  std::fflush(out);
}

void print_summary(const harness::BenchReport& rep, std::FILE* out) {
  fmt::print(out, "---\n");
  fmt::print(out, "kernel: {}\nkernel_type: {}\nbackend: {}\n", rep.kernel, rep.type, rep.backend);
  fmt::print(out, "outcome: {}\ncorrectness: {}\n", harness::outcome_name(rep.outcome), rep.passed() ? "PASS" : "FAIL");
  if (!rep.passed()) {
    fmt::print(out, "failed_stage: {}\nfailed_case: {}\nmessage: {}\n", rep.failed_stage, rep.failed_case, rep.message);
  }
  if (const auto* p = rep.primary()) {
    fmt::print(out, "shape: {}\ndtype: {}\n", p->shape, p->dtype);
    fmt::print(out, "latency_us: {:.3f}\nreference_latency_us: {:.3f}\nspeedup_vs_reference: {:.3f}\n", p->kernel_us,
               p->reference_us, p->speedup_vs_reference);
    fmt::print(out, "throughput_tflops: {:.3f}\nbandwidth_gb_s: {:.1f}\nbound: {}\npct_of_ceiling: {:.1f}\n", p->tflops,
               p->gb_s, p->bound, p->pct_of_ceiling);
    if (p->pct_of_peak) fmt::print(out, "pct_of_peak: {:.1f}\n", *p->pct_of_peak);
    fmt::print(out, "implausible: {}\n", rep.flagged() ? "true" : "false");
    if (rep.flagged()) fmt::print(out, "confirmed: {}\nplausibility: {}\n", rep.confirmed(), rep.plausibility_note());
  }
  fmt::print(out, "compile_seconds: {:.2f}\nbench_seconds: {:.2f}\n", rep.compile_s, rep.total_s);
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "check one candidate through the five stages, then time it");
  auto a = std::make_shared<BenchArgs>();
  cmd->add_option("--kernel", a->kernel, "candidate file, or a directory holding one")->required();
  cmd->add_option("--backend", a->backend, "cuda | triton | cpu (default: from the file extension)");
  cmd->add_option("--knob", a->knobs, "NAME=value: set a declared knob (repeatable)");
  cmd->add_option("--dtype", a->dtype, "dtype to time: f16, bf16, f32")->check(timing_dtype())->capture_default_str();
  cmd->add_flag("--quick", a->quick, "stages 1-2 only, one timing shape");
  cmd->add_option("--timing-shapes", a->timing_shapes, "time only the first N benchmark shapes (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-timing", a->no_timing, "check only");
  cmd->add_option("--max-speedup", a->max_speedup, "flag and re-measure a speed-up over PyTorch above this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print one JSON document on stdout (progress goes to stderr)");
  cmd->add_option("--case-timeout", a->case_timeout_s, "seconds without progress before a case counts as hung")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return [a] {
    harness::BenchRequest req;
    req.kernel_path = a->kernel;
    req.backend = a->backend;
    req.knobs = parse_assignments(a->knobs);
    req.quick = a->quick;
    req.timing = !a->no_timing;
    req.timing_dtype = a->dtype;
    req.max_timing_shapes = a->timing_shapes;
    req.max_speedup = a->max_speedup;
    req.case_timeout = std::chrono::seconds(a->case_timeout_s);
    std::FILE* progress_out = a->json ? stderr : stdout;
    auto rep =
        value_or_throw(harness::run_bench(req, [&](const nlohmann::json& ev) { print_progress(ev, progress_out); }));
    if (rep.outcome == harness::Outcome::error) {
      throw Fatal(Error{rep.message, rep.hint});
    }
    if (a->json) {
      fmt::print("{}\n", rep.to_json().dump(2));
    } else {
      print_summary(rep, stdout);
    }
    if (rep.outcome == harness::Outcome::compile_failed) {
      fmt::print(stderr, "autokernel: error: {} does not compile: {}\n", rep.kernel, rep.message);
    } else if (!rep.passed()) {
      fmt::print(stderr, "autokernel: candidate rejected ({}): {}\n", harness::outcome_name(rep.outcome), rep.message);
    }
    return rep.passed() ? k_exit_ok : k_exit_rejected;
  };
}

}  // namespace ak::cli
