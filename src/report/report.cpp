#include "report/report.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "report/amdahl.hpp"
#include "report/document.hpp"
#include "report/plots.hpp"
#include "report/report_data.hpp"
#include "util/fs.hpp"

namespace ak::report {
namespace {

namespace fs = std::filesystem;

/// Four significant digits, at most four decimals; "-" for a value never measured.
std::string num(double v) {
  if (v == 0 || !std::isfinite(v)) return "-";
  const int decimals = std::clamp(3 - static_cast<int>(std::floor(std::log10(std::abs(v)))), 0, 4);
  return fmt::format("{:.{}f}", v, decimals);
}

std::string times(double v) { return v > 0 ? num(v) + "x" : "-"; }
std::string pct(double v) { return v > 0 ? num(v) + "%" : "-"; }

std::string device_of(const KernelSummary& k) { return k.device_is_cpu() ? "cpu" : "gpu"; }

/// File-name-safe stem for a plot.
std::string stem(const std::string& s) {
  std::string out = s;
  for (auto& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  }
  return out;
}

nlohmann::json plot_spec(const RunData& data, const std::map<std::string, Roofs>& roofs) {
  nlohmann::json plots = nlohmann::json::array();
  for (const auto& [device, r] : roofs) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& k : data.kernels) {
      if (device_of(k) != device || !k.best || !k.placement.intensity) continue;
      nlohmann::json p = {{"name", k.name}, {"intensity", *k.placement.intensity}, {"gflops", k.gflops(*k.best)}};
      if (k.baseline && k.baseline->commit != k.best->commit) p["baseline_gflops"] = k.gflops(*k.baseline);
      points.push_back(p);
    }
    plots.push_back({{"kind", "roofline"},
                     {"out", "roofline_" + device},
                     {"title", fmt::format("roofline ({}): run {}", device, data.tag)},
                     {"bandwidth_gb_s", r.bandwidth_gb_s},
                     {"compute_gflops", r.compute_gflops},
                     {"points", points}});
  }
  for (const auto& k : data.kernels) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& r : k.rows) {
      if (!workspace::counts_as_experiment(r.status)) continue;  // a re-timing is no step of the progress
      points.push_back({{"experiment", r.experiment},
                        {"throughput", r.throughput_unit == k.unit ? r.throughput : 0.0},
                        {"status", workspace::status_name(r.status)}});
    }
    plots.push_back({{"kind", "progress"},
                     {"out", stem(k.name) + "_progress"},
                     {"title", fmt::format("{}: throughput over experiments", k.name)},
                     {"unit", k.unit.empty() ? "GB/s" : k.unit},
                     {"reference", k.reference_throughput},
                     {"ceiling", k.ceiling_throughput},
                     {"points", points}});
  }
  return {{"plots", plots}};
}

/// A figure if both its files were drawn, else nothing (the report says once why plots are missing).
void add_figure(Document& doc, const fs::path& out, const std::string& plot_stem, const std::string& caption) {
  const fs::path png = fs::path("plots") / (plot_stem + ".png"), svg = fs::path("plots") / (plot_stem + ".svg");
  std::error_code ec;
  if (fs::exists(out / png, ec) && fs::exists(out / svg, ec)) doc.blocks.push_back(Figure{caption, png, svg});
}

void add_end_to_end(Document& doc, const Prediction& pred, const std::optional<Measured>& measured,
                    const std::optional<Profile>& profile, const std::map<std::string, std::string>& type_of,
                    const fs::path& profile_path, const fs::path& verify_path) {
  doc.blocks.push_back(Heading{1, "End to end"});
  if (pred.from_profile) {
    doc.blocks.push_back(Paragraph{
        fmt::format("**Predicted: {:.3f}x** faster end to end (Amdahl's law over the shares of model time in `{}`; "
                    "{:.1f}% of the time is in other ops and stays as it is).",
                    pred.speedup, profile_path.filename().string(), 100 * pred.other_share)});
  } else {
    doc.blocks.push_back(Paragraph{fmt::format(
        "**Predicted: {:.3f}x** if the model's time were all in these kernels, in equal shares. There is no "
        "profile yet (`{}`), so this is an upper bound, not a forecast; once `autokernel profile` writes the "
        "shares of model time there, this report weighs each kernel by its own share.",
        pred.speedup, profile_path.filename().string())});
  }
  Table t{{"kernel", "share of model time", "speed-up vs PyTorch eager", "share after", "note"},
          {},
          {false, true, true, true}};
  for (const auto& k : pred.kernels) {
    t.rows.push_back(
        {k.name, pct(100 * k.share), times(k.speedup), k.share > 0 ? pct(100 * k.share / k.speedup) : "-", k.note});
  }
  if (pred.from_profile)
    t.rows.push_back({"other ops", pct(100 * pred.other_share), times(1), pct(100 * pred.other_share), ""});
  doc.blocks.push_back(t);
  if (!measured) {
    doc.blocks.push_back(Paragraph{fmt::format(
        "**Measured: not measured.** `autokernel verify` plugs the kept kernels into the model and times it; "
        "its result (`{}`) is not there yet.",
        verify_path.filename().string())});
    return;
  }
  std::string detail;
  if (measured->eager_ms && measured->optimized_ms) {
    detail =
        fmt::format(" ({:.3f} ms eager, {:.3f} ms with the kept kernels", *measured->eager_ms, *measured->optimized_ms);
    if (measured->compiled_ms) {
      detail += fmt::format("; torch.compile {:.3f} ms, {:.3f}x of it", *measured->compiled_ms,
                            *measured->compiled_ms / *measured->optimized_ms);
    }
    detail += ")";
  }
  std::string match;
  if (measured->outputs_match) {
    match = *measured->outputs_match
                ? " The model's outputs match the original's."
                : " **The model's outputs do not match the original's**: do not ship these kernels.";
  }
  doc.blocks.push_back(Paragraph{
      fmt::format("**Measured: {:.3f}x** end to end by `autokernel verify`{}.{}", measured->speedup, detail, match)});
  const double ratio = measured->speedup / pred.speedup;
  const auto why = explain_gap(pred, *measured, profile, type_of);
  if (why.empty()) {
    doc.blocks.push_back(Paragraph{
        fmt::format("**Prediction and measurement agree** within 5% (measured / predicted = {:.3f}).", ratio)});
    return;
  }
  doc.blocks.push_back(
      Paragraph{fmt::format("**The measurement is {:.1f}% {} the prediction** (measured / predicted "
                            "= {:.3f}). What the profile and verify show about why:",
                            100 * std::abs(ratio - 1), ratio < 1 ? "below" : "above", ratio)});
  doc.blocks.push_back(BulletList{why});
}

void add_kernels_overview(Document& doc, const RunData& data) {
  doc.blocks.push_back(Heading{1, "Kernels"});
  Table t{{"kernel", "backend", "experiments", "kept", "reverted", "failed", "starter us", "best us", "vs starter",
           "vs PyTorch", "% of ceiling"},
          {},
          {false, false, true, true, true, true, true, true, true, true, true}};
  std::vector<std::string> retimed;
  for (const auto& k : data.kernels) {
    if (k.retimed) retimed.push_back(fmt::format("{} (on {})", k.name, k.retimed->device));
    t.rows.push_back({k.name, k.backend, std::to_string(k.experiments), std::to_string(k.kept),
                      std::to_string(k.reverted), std::to_string(k.failed),
                      k.baseline ? num(k.baseline->latency_us) : "-", k.best ? num(k.best->latency_us) : "-",
                      times(k.speedup_vs_start()), k.best ? times(k.speedup_vs_reference()) : "-",
                      k.best ? pct(k.best->pct_of_ceiling) : "-"});
  }
  doc.blocks.push_back(t);
  if (!retimed.empty()) {
    doc.blocks.push_back(
        Paragraph{fmt::format("vs PyTorch as re-timed on the reference device: {}.", fmt::join(retimed, ", "))});
  }
}

void add_roofline(Document& doc, const RunData& data, const std::map<std::string, Roofs>& roofs, const fs::path& out) {
  doc.blocks.push_back(Heading{1, "Roofline"});
  doc.blocks.push_back(Paragraph{
      "Each kernel's best version at its arithmetic intensity (FLOP per byte at the shape it was timed at) and its "
      "achieved FLOP/s, under the memory roof (bandwidth x intensity) and the compute roof; the hollow square is "
      "the starter. The distance to the roof is the headroom left."});
  for (const auto& [device, r] : roofs) {
    add_figure(doc, out, "roofline_" + device, fmt::format("Roofline of the {} kernels", device));
    doc.blocks.push_back(Paragraph{fmt::format("Roofs ({}): memory {} GB/s, compute {} GFLOP/s; from {}.", device,
                                               num(r.bandwidth_gb_s), num(r.compute_gflops), r.source)});
  }
  Table t{{"kernel", "timed at", "intensity [FLOP/B]", "achieved [GFLOP/s]", "throughput", "% of ceiling"},
          {},
          {false, false, true, true, true, true}};
  for (const auto& k : data.kernels) {
    if (!k.best) continue;
    t.rows.push_back({k.name, k.placement.intensity ? k.placement.shape : k.placement.note,
                      k.placement.intensity ? num(*k.placement.intensity) : "-", num(k.gflops(*k.best)),
                      fmt::format("{} {}", num(k.best->throughput), k.best->throughput_unit),
                      pct(k.best->pct_of_ceiling)});
  }
  doc.blocks.push_back(t);
}

void add_kernel(Document& doc, const KernelSummary& k, const fs::path& out) {
  doc.blocks.push_back(Heading{1, k.name});
  std::vector<std::string> failures;
  for (const auto& [status, n] : k.count_by_status) {
    if (status != "baseline" && status != "kept" && status != "reverted" && status != "retimed")
      failures.push_back(fmt::format("{} {}", n, status));
  }
  std::string failed_detail;
  for (const auto& f : failures) failed_detail += (failed_detail.empty() ? " (" : ", ") + f;
  if (!failed_detail.empty()) failed_detail += ")";
  doc.blocks.push_back(
      Paragraph{fmt::format("Type `{}`, backend `{}`: {} experiments, {} kept, {} reverted, {} failed{}.", k.type,
                            k.backend, k.experiments, k.kept, k.reverted, k.failed, failed_detail)});
  if (!k.best) {
    doc.blocks.push_back(
        Paragraph{"**The starter never passed the harness**: nothing was measured. Its row below says why."});
  } else {
    doc.blocks.push_back(Paragraph{fmt::format(
        "Best: experiment {}, {} {} in {} us: {} the starter, {} PyTorch eager ({} {}), {} of the measured ceiling "
        "({} {}).",
        k.best->experiment, num(k.best->throughput), k.unit, num(k.best->latency_us), times(k.speedup_vs_start()),
        times(k.speedup_vs_reference()), num(k.reference_throughput), k.unit, pct(k.best->pct_of_ceiling),
        num(k.ceiling_throughput), k.unit)});
    if (k.retimed) {
      doc.blocks.push_back(Paragraph{
          fmt::format("Its speed-up over PyTorch is the reference device's ({}, experiment {}); device {} measured {}.",
                      k.retimed->device, k.retimed->experiment, k.best->device, times(k.best->speedup_vs_reference))});
    }
  }
  add_figure(doc, out, stem(k.name) + "_progress",
             fmt::format("{}: throughput per experiment (kept, reverted and failed marked apart), PyTorch eager and "
                         "the ceiling as lines",
                         k.name));

  doc.blocks.push_back(Heading{2, "Experiments"});
  Table t{{"exp", "status", fmt::format("throughput [{}]", k.unit.empty() ? "-" : k.unit), "latency us", "spread",
           "% of ceiling", "vs PyTorch", "config", "description", "commit"},
          {},
          {true, false, true, true, true, true, true, false, false, false}};
  for (const auto& r : k.rows) {
    t.rows.push_back({std::to_string(r.experiment), std::string(workspace::status_name(r.status)), num(r.throughput),
                      num(r.latency_us), r.spread > 0 ? fmt::format("{:.1f}%", 100 * r.spread) : "-",
                      pct(r.pct_of_ceiling), times(r.speedup_vs_reference), r.config, r.description,
                      r.commit.substr(0, 8)});
  }
  doc.blocks.push_back(t);

  doc.blocks.push_back(Heading{2, "What the kept version changed"});
  if (!k.diff.empty()) {
    doc.blocks.push_back(Paragraph{fmt::format("`{}`", k.diff_command)});
    doc.blocks.push_back(CodeBlock{"diff", k.diff});
  } else if (!k.diff_problem.empty()) {
    doc.blocks.push_back(Paragraph{fmt::format("No diff to show: {} (`{}`).", k.diff_problem, k.diff_command)});
  } else {
    doc.blocks.push_back(Paragraph{"Nothing was kept: the starter is still the best version."});
  }
}

}  // namespace

Expected<ReportFiles> write_report(const ReportOptions& o) {
  auto data = collect(o.workspace, o.tag, o.dtype);
  if (!data) return std::unexpected(data.error());
  const auto profile_path = o.profile.empty() ? data->workspace / "profile.json" : o.profile;
  const auto verify_path = o.verify.empty() ? data->workspace / "verify.json" : o.verify;
  auto profile = read_profile(profile_path);
  if (!profile) return std::unexpected(profile.error());
  auto measured = read_verify(verify_path);
  if (!measured) return std::unexpected(measured.error());

  const auto out = fs::absolute(o.out.empty() ? data->workspace / "report" : o.out);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", out.string(), ec.message()));
  ReportFiles files;
  files.markdown = out / "report.md";
  files.html = out / "report.html";

  std::map<std::string, Roofs> roofs;  // per device kind, from that device's rows
  for (const auto& device : {"cpu", "gpu"}) {
    std::vector<workspace::ResultRow> rows;
    for (const auto& k : data->kernels) {
      if (device_of(k) == device) rows.insert(rows.end(), k.rows.begin(), k.rows.end());
    }
    if (!rows.empty()) roofs[device] = roofs_for(rows, device == std::string("cpu") ? "cpu" : "");
  }

  // Old plots would be shown for kernels this run no longer has: the plots folder is drawn afresh.
  if (auto rm = util::remove_tree(out / "plots"); !rm) return std::unexpected(rm.error());
  if (o.plots) {
    auto drawn = draw_plots(plot_spec(*data, roofs), out / "plots");
    files.plots = drawn.files;
    files.plots_problem = drawn.problem;
  } else {
    files.plots_problem = "plots were turned off (--no-plots)";
  }

  Document doc;
  doc.title = fmt::format("autokernel report: run `{}`", data->tag);
  doc.blocks.push_back(Paragraph{fmt::format(
      "Workspace `{}`, branch `autokernel/{}`: {} experiments on {} kernels, {:.0f} s of experiments ({:.0f} per "
      "hour).{}",
      data->workspace.string(), data->tag, data->experiments, data->kernels.size(), data->seconds,
      data->seconds > 0 ? data->experiments * 3600.0 / data->seconds : 0.0,
      data->other_tags.empty()
          ? std::string()
          : fmt::format(" Other runs in this workspace (`--tag`): {}.", fmt::join(data->other_tags, ", ")))});
  if (!files.plots_problem.empty())
    doc.blocks.push_back(Paragraph{fmt::format("**No plots**: {}.", files.plots_problem)});

  std::map<std::string, double> speedups;
  std::map<std::string, std::string> types;
  for (const auto& k : data->kernels) {
    speedups[k.name] = k.speedup_vs_reference();
    types[k.name] = k.type;
  }
  add_end_to_end(doc, predict(speedups, types, *profile), *measured, *profile, types, profile_path, verify_path);
  add_kernels_overview(doc, *data);
  add_roofline(doc, *data, roofs, out);
  for (const auto& k : data->kernels) add_kernel(doc, k, out);

  if (auto w = util::write_file_atomic(files.markdown, to_markdown(doc)); !w) return std::unexpected(w.error());
  if (auto w = util::write_file_atomic(files.html, to_html(doc, out)); !w) return std::unexpected(w.error());
  return files;
}

}  // namespace ak::report
