#include "suite/merge.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "catalog/kernel_type.hpp"
#include "harness/stage_result.hpp"
#include "suite/baselines.hpp"

namespace ak::suite {
namespace {

using nlohmann::json;

std::string utc_now() {
  const auto t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// A time in microseconds as the row's metric.
double throughput(double us, const std::string& metric, double flops, double bytes) {
  if (us <= 0) return 0;
  return metric == "TFLOP/s" ? flops / us / 1e6 : bytes / us / 1e3;
}

/// One backend's measurement of one configuration, with its status.
json backend_entry(const KernelRun& run, const std::string& label, const std::string& dtype) {
  if (!run.passed()) return {{"status", run.status}, {"message", run.message}};
  const auto t = run.timing(label, dtype);
  if (!t) return {{"status", "not_timed"}, {"message", "the harness reported no timing for it"}};
  json e = {{"status", "passed"},         {"us", t->kernel_us},           {"min_us", t->kernel_min_us},
            {"spread", t->kernel_spread}, {"samples", t->kernel_samples}, {"eager_cpp_us", t->reference_us},
            {"knobs", run.knobs}};
  if (t->flagged()) {
    const auto tj = t->to_json();
    e["implausible"] = tj["implausible"];
    e["remeasured"] = tj.value("remeasured", json(nullptr));
    if (!t->confirmed()) {
      e["status"] = "implausible";  // too fast to believe, and the re-measurement did not confirm it
      e["message"] = "implausibly fast and not confirmed by a device-wide re-measurement";
    }
  }
  return e;
}

/// A baseline measurement with its throughput, or its error; null when it was not measured.
json baseline_entry(const json& measured, const std::string& metric, double flops, double bytes) {
  if (!measured.is_object()) return nullptr;
  json e = measured;
  if (!e.contains("error")) e["throughput"] = throughput(e.value("us", 0.0), metric, flops, bytes);
  return e;
}

double us_of(const json& entry) { return entry.is_object() && !entry.contains("error") ? entry.value("us", 0.0) : 0.0; }

json make_row(const catalog::KernelType& type, const catalog::Shape& shape, const std::string& dtype,
              const std::vector<const KernelRun*>& runs, const std::vector<std::string>& pending,
              const json& baselines) {
  const auto t = std::string(type.name());
  const auto metric = metric_for(t);
  const double flops = type.flops(shape), bytes = type.bytes(shape, *catalog::parse_dtype(dtype));
  json row = {{"type", t},        {"config", shape.label}, {"dims", shape.dims}, {"dtype", dtype},
              {"metric", metric}, {"flops", flops},        {"bytes", bytes},     {"backends", json::object()}};
  const KernelRun* best = nullptr;
  std::string failures;
  for (const auto* run : runs) {
    auto e = backend_entry(*run, shape.label, dtype);
    if (e["status"] == "passed") {
      e["throughput"] = throughput(e["us"].get<double>(), metric, flops, bytes);
      if (!best || e["us"].get<double>() < row["backends"][best->job.backend]["us"].get<double>()) best = run;
    } else {
      failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ", run->job.backend, e.value("message", ""));
    }
    row["backends"][run->job.backend] = e;
  }
  for (const auto& backend : pending) {
    row["backends"][backend] = {{"status", "pending"},
                                {"message", "not run yet (the run stopped before it, or is still going)"}};
  }
  if (!failures.empty()) row["failures"] = failures;
  const auto b = baseline_for(baselines, t, shape.label, dtype);
  for (const char* k : {"eager", "compile", "library"})
    row[k] = baseline_entry(b.value(k, json()), metric, flops, bytes);
  if (b.contains("error")) row["baseline_error"] = b["error"];
  if (b.empty()) row["baseline_error"] = "not measured (the baselines process stopped before it)";

  row["ours"] = nullptr;
  row["pct_of_ceiling"] = nullptr;
  row["speedup"] = {{"eager", nullptr}, {"compile", nullptr}, {"library", nullptr}};
  // What "% of ceiling" is measured against: memory-bound types the copy bandwidth; the others the vendor
  // library at this very shape (fused_mlp: eager, three cuBLAS calls).
  const std::string basis = metric == "GB/s" ? "copy" : t == "fused_mlp" ? "eager" : "library";
  row["ceiling_basis"] =
      basis == "library" && row["library"].is_object() ? row["library"].value("name", "library") : basis;
  if (!best) return row;
  const auto& mine = row["backends"][best->job.backend];
  const double us = mine["us"].get<double>();
  row["ours"] = {{"backend", best->job.backend}, {"us", us}, {"throughput", mine["throughput"]}};
  for (const char* k : {"eager", "compile", "library"}) {
    if (const double base = us_of(row[k]); base > 0) row["speedup"][k] = base / us;  // > 1: ours is faster
  }
  if (basis == "copy") {
    const double copy = baselines.value("ceiling", json::object()).value("copy_gb_s", 0.0);
    if (copy > 0) row["pct_of_ceiling"] = 100.0 * mine["throughput"].get<double>() / copy;
  } else if (const double base = us_of(row[basis]); base > 0) {
    row["pct_of_ceiling"] = 100.0 * base / us;  // the same work, so the ratio of throughputs
  }
  if (const double py = us_of(row["eager"]); py > 0 && mine.value("eager_cpp_us", 0.0) > 0) {
    row["eager_cpp_over_python"] = mine["eager_cpp_us"].get<double>() / py;  // a sanity check: about 1
  }
  return row;
}

/// How often ours beat each baseline, and the geometric mean of the speed-ups, over some rows.
json summarise(const std::vector<json>& rows) {
  json s = {{"rows", rows.size()}, {"ours_ok", 0}};
  for (const char* k : {"eager", "compile", "library"}) {
    int beats = 0, with = 0;
    double log_sum = 0;
    for (const auto& r : rows) {
      if (!r["speedup"][k].is_number()) continue;
      const double x = r["speedup"][k].get<double>();
      ++with;
      beats += x > 1.0;
      log_sum += std::log(x);
    }
    s[k] = {{"beats", beats}, {"of", with}, {"geomean", with ? json(std::exp(log_sum / with)) : json(nullptr)}};
  }
  for (const auto& r : rows) s["ours_ok"] = s["ours_ok"].get<int>() + (r["ours"].is_object() ? 1 : 0);
  return s;
}

json kernel_json(const KernelRun& run) {
  const auto report = run.report.is_object() ? run.report : json::object();  // none when the harness did not run
  json stages = json::array();
  for (const auto& s : report.value("stages", json::array())) {
    if (auto st = harness::StageResult::from_json(s)) stages.push_back(st->to_json());
  }
  return {{"type", run.job.type},
          {"backend", run.job.backend},
          {"path", run.job.path.string()},
          {"knobs", run.knobs},
          {"knob_overrides", run.job.knobs},
          {"status", run.status},
          {"message", run.message},
          {"compile_seconds", report.value("compile_seconds", 0.0)},
          {"bench_seconds", report.value("bench_seconds", 0.0)},
          {"stages", stages},
          {"ceiling_cpp", report.value("ceiling", json::object())},
          {"file_hash", run.file_hash},
          {"report", report}};  // what --resume checks and rebuilds the run from
}

}  // namespace

json plan_settings(const Plan& plan) {
  json configs = json::object();
  for (const auto& [type, shapes] : plan.configs) {
    for (const auto& shape : shapes) configs[type].push_back({{"label", shape.label}, {"dims", shape.dims}});
  }
  return {{"types", plan.types},
          {"dtypes", plan.dtypes},
          {"backends", plan.backends},
          {"configs", configs},
          {"knobs", plan.request.knobs},
          {"quick", plan.request.quick},
          {"compile", plan.request.compile},
          {"kernels_dir", plan.request.kernels_dir.string()},
          {"gpu", plan.gpu}};
}

std::string metric_for(const std::string& type) {
  return type == "matmul" || type == "flash_attention" || type == "fused_mlp" ? "TFLOP/s" : "GB/s";
}

json merge(const Plan& plan, const std::vector<KernelRun>& ours, const json& baselines) {
  json doc = {{"autokernel_suite", 1}, {"date", utc_now()}};
  json device = {{"name", baselines.value("device_name", "")}, {"is_gpu", plan.gpu}};
  for (const auto& run : ours) {
    if (run.report.is_object() && run.report.contains("device") && run.report["device"].contains("spec")) {
      device["spec"] = run.report["device"]["spec"];
      break;
    }
  }
  doc["device"] = device;
  doc["torch"] = baselines.value("torch", "");
  doc["python"] = baselines.value("python", "");
  doc["settings"] = plan_settings(plan);
  doc["settings"]["compile_mode"] = baselines.value("compile_mode", json());
  doc["settings"]["timer"] = baselines.value("timer", json());
  doc["ceiling"] = baselines.value("ceiling", json::object());
  if (baselines.contains("died")) doc["baselines_died"] = baselines["died"];
  doc["baselines"] = baselines;  // the child's result as it came: what --resume reuses
  doc["kernels"] = json::array();
  for (const auto& run : ours) doc["kernels"].push_back(kernel_json(run));

  std::vector<const KernelJob*> pending;
  for (const auto& job : plan.jobs) {
    const bool ran = std::any_of(ours.begin(), ours.end(), [&](const KernelRun& r) {
      return r.job.type == job.type && r.job.backend == job.backend;
    });
    if (!ran) pending.push_back(&job);
  }
  for (const auto* job : pending) doc["pending"].push_back(job->type + " " + job->backend);

  std::vector<json> all;
  doc["rows"] = json::array();
  doc["summary"] = {{"types", json::object()}};
  for (const auto& type_name : plan.types) {
    const auto* type = *catalog::find_type(type_name);
    std::vector<const KernelRun*> runs;
    for (const auto& run : ours) {
      if (run.job.type == type_name) runs.push_back(&run);
    }
    std::vector<std::string> pending_backends;
    for (const auto* job : pending) {
      if (job->type == type_name) pending_backends.push_back(job->backend);
    }
    std::vector<json> rows;
    for (const auto& shape : plan.configs.at(type_name)) {
      for (const auto& dtype : plan.dtypes)
        rows.push_back(make_row(*type, shape, dtype, runs, pending_backends, baselines));
    }
    doc["summary"]["types"][type_name] = summarise(rows);
    for (auto& r : rows) {
      doc["rows"].push_back(r);
      all.push_back(std::move(r));
    }
  }
  doc["summary"]["overall"] = summarise(all);
  return doc;
}

}  // namespace ak::suite
