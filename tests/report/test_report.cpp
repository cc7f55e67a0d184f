// `autokernel report`, run as a user runs it: after a real CPU `autokernel run` (search proposer), and on
// small workspaces made here by hand where a test needs exact numbers (profile shares, verify results).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "catalog/kernel_type.hpp"
#include "workspace/profile_json.hpp"
#include "workspace/results_log.hpp"
#include "report/amdahl.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

namespace fs = std::filesystem;
using test::autokernel;
using test::git;

const fs::path k_rms = test::source_dir() / "tests/data/loop_kernels/rmsnorm_repeat.cpp";
const fs::path k_reduce = test::source_dir() / "tests/data/loop_kernels/reduce_repeat.cpp";

fs::path fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("ak_report_" + name);
  (void)util::remove_tree(dir);
  return dir;
}

std::string read(const fs::path& p) { return *util::read_file(p); }

/// The cells of a Markdown table line "| a | b |" (escaped pipes stay inside their cell).
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (line[i] == '|') {
      out.push_back(cell.substr(cell.find_first_not_of(' ') == std::string::npos ? 0 : cell.find_first_not_of(' ')));
      while (!out.back().empty() && out.back().back() == ' ') out.back().pop_back();
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return out;
}

/// Lines of `md` that are table rows whose first cells are `first` and `second`.
std::vector<std::vector<std::string>> table_rows(const std::string& md, const std::string& first,
                                                 const std::string& second) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(md);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("| ")) continue;
    auto c = cells(line);
    if (c.size() >= 2 && c[0] == first && c[1] == second) out.push_back(c);
  }
  return out;
}

/// A number the report printed ("12.35", "1.234x", "45.6%", "-" for none) against the value results.tsv holds.
void expect_number(const std::string& printed, double expected, const std::string& what) {
  if (expected == 0) {
    EXPECT_EQ(printed, "-") << what;
    return;
  }
  ASSERT_FALSE(printed.empty()) << what;
  const double v = std::stod(printed);
  // The report prints four significant digits.
  EXPECT_NEAR(v, expected, std::max(1e-4, 1e-3 * std::abs(expected))) << what << ": printed " << printed;
}

bool is_png(const fs::path& p) {
  const auto text = read(p);
  return text.size() > 8 && text.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

/// Parsed by Python's XML parser (the SVG is XML; no XML library is linked into the C++ side).
bool svg_parses(const fs::path& p) {
  auto r = util::run_command({"/usr/bin/env", "python3", "-c",
                              "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
                              "sys.exit(0 if r.tag.endswith('svg') else 1)",
                              p.string()},
                             std::chrono::minutes(1));
  return r && r->exit_code == 0;
}

/// Every src= and href= of the page points inside it (#fragment) or is a data: URI, and nothing is loaded
/// from elsewhere by other means (stylesheet links, scripts, CSS url()).
void expect_self_contained(const std::string& html) {
  const std::regex ref(R"re(\b(?:src|href)\s*=\s*["']([^"']*)["'])re", std::regex::icase);
  int refs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it) {
    const auto target = (*it)[1].str();
    EXPECT_TRUE(target.starts_with("#") || target.starts_with("data:")) << "external reference: " << target;
    ++refs;
  }
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("url(http"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

bool has_matplotlib() {
  auto r = util::run_command({"/usr/bin/env", "python3", "-c", "import matplotlib"}, std::chrono::minutes(1));
  return r && r->exit_code == 0;
}

TEST(Report, AfterARealRunItDescribesEveryExperimentAndWhatTheKeptVersionChanged) {
  const auto ws = fresh_dir("run");
  const auto run = autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms.string(), "--kernel",
                               // --max-reverts 16: no kernel is given up on (by timing noise) before the 12 rows.
                               k_reduce.string(), "--max-experiments", "12", "--max-reverts", "16", "--tag", "night"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto r = autokernel({"report", "--workspace", ws.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = ws / "report";
  ASSERT_TRUE(fs::exists(out / "report.md"));
  ASSERT_TRUE(fs::exists(out / "report.html"));
  const auto md = read(out / "report.md");
  const auto html = read(out / "report.html");
  const auto rows = *workspace::ResultsLog(ws / "results.tsv").read();
  ASSERT_EQ(rows.size(), 12u);

  // One table row per results.tsv row, with its numbers.
  for (const auto& row : rows) {
    const auto found = table_rows(md, std::to_string(row.experiment), std::string(workspace::status_name(row.status)));
    ASSERT_EQ(found.size(), 1u) << "experiment " << row.experiment << " (" << row.status << ")\n" << md;
    const auto& c = found[0];
    ASSERT_EQ(c.size(), 10u);
    const auto what = fmt::format("experiment {}", row.experiment);
    expect_number(c[2], row.throughput, what + " throughput");
    expect_number(c[3], row.latency_us, what + " latency");
    expect_number(c[5], row.pct_of_ceiling, what + " % of ceiling");
    expect_number(c[6], row.speedup_vs_reference, what + " speed-up");
    EXPECT_EQ(c[7], row.config);
    EXPECT_TRUE(row.commit.starts_with(c[9])) << c[9];
  }

  // Kept and reverted counts per kernel agree with results.tsv.
  std::map<std::string, std::pair<int, int>> counts;
  for (const auto& row : rows) {
    counts[row.kernel].first += row.status == workspace::Status::kept;
    counts[row.kernel].second += row.status == workspace::Status::reverted;
  }
  int kept_total = 0;
  for (const auto& [kernel, kr] : counts) {
    const auto found = table_rows(md, kernel, "cpu");
    ASSERT_EQ(found.size(), 1u) << kernel;
    EXPECT_EQ(found[0][3], std::to_string(kr.first)) << kernel << " kept";
    EXPECT_EQ(found[0][4], std::to_string(kr.second)) << kernel << " reverted";
    EXPECT_NE(md.find(fmt::format("{} kept, {} reverted", kr.first, kr.second)), std::string::npos) << kernel;
    kept_total += kr.first;
  }
  ASSERT_GE(kept_total, 1) << "the search found no gain: nothing to diff";

  // The diff of each kept kernel is its real change: each knob default the kept configuration moved (REPEAT
  // from 8, say), exactly as git shows it.
  for (const auto& [kernel, kr] : counts) {
    if (kr.first == 0) continue;
    const workspace::ResultRow *base = nullptr, *best = nullptr;
    for (const auto& row : rows) {
      if (row.kernel != kernel) continue;
      if (row.status == workspace::Status::baseline) base = &row;
      if (row.status == workspace::Status::kept) best = &row;
    }
    ASSERT_TRUE(base && best);
    const auto diff = git(ws, {"diff", base->commit, best->commit, "--", "kernels/" + kernel + "/"});
    ASSERT_FALSE(diff.empty());
    EXPECT_NE(md.find(diff), std::string::npos) << kernel << ": the report's diff is not git's:\n" << diff;
    auto knobs = [](const std::string& config) {  // "A=1,B=2" -> {A: "A=1", B: "B=2"}
      std::map<std::string, std::string> out;
      for (std::size_t at = 0; at < config.size();) {
        const auto end = std::min(config.find(',', at), config.size());
        const auto kv = config.substr(at, end - at);
        out[kv.substr(0, kv.find('='))] = kv;
        at = end + 1;
      }
      return out;
    };
    const auto before = knobs(base->config);
    int moved = 0;
    for (const auto& [name, kv] : knobs(best->config)) {
      if (!before.contains(name) || before.at(name) == kv) continue;
      ++moved;
      EXPECT_NE(diff.find("-// @knob " + before.at(name)), std::string::npos) << name << "\n" << diff;
      EXPECT_NE(md.find("+// @knob " + kv), std::string::npos) << kv;
    }
    EXPECT_GE(moved, 1) << base->config << " -> " << best->config;
  }

  // No profile and no verify yet: both are said, and the prediction is Amdahl's over equal shares.
  EXPECT_NE(md.find("There is no profile yet"), std::string::npos);
  EXPECT_NE(md.find("**Measured: not measured.**"), std::string::npos);
  double time = 0;
  for (const auto& [kernel, kr] : counts) {
    double best = 0;
    for (const auto& row : rows) {
      if (row.kernel == kernel && row.correctness == "PASS" &&
          (row.status == workspace::Status::baseline || row.status == workspace::Status::kept)) {
        best = row.speedup_vs_reference;
      }
    }
    time += (1.0 / counts.size()) / std::max(1.0, best);
  }
  EXPECT_NE(md.find(fmt::format("**Predicted: {:.3f}x**", 1.0 / time)), std::string::npos) << md.substr(0, 2000);

  // The page stands alone, with its plots inlined.
  expect_self_contained(html);
  if (!has_matplotlib()) GTEST_SKIP() << "matplotlib is not installed: the plots are not drawn";
  for (const auto* plot : {"roofline_cpu", "rmsnorm_cpu_progress", "reduce_cpu_progress"}) {
    EXPECT_TRUE(is_png(out / "plots" / (std::string(plot) + ".png"))) << plot;
    EXPECT_TRUE(svg_parses(out / "plots" / (std::string(plot) + ".svg"))) << plot;
    EXPECT_NE(md.find(fmt::format("(plots/{}.png)", plot)), std::string::npos) << plot;
  }
  int svgs = 0;
  for (auto at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++svgs;
  EXPECT_EQ(svgs, 3);
  EXPECT_NE(r.output.find("wrote 6 plots"), std::string::npos) << r.output;
}

/// A workspace made by hand: each kernel a starter commit, a baseline row and optionally one kept edit.
struct HandKernel {
  std::string name;    ///< e.g. rmsnorm_cpu
  fs::path source;     ///< its starter
  double speedup = 1;  ///< the kept version's speed-up vs PyTorch eager
  bool keep_an_edit = true;
};

void make_workspace(const fs::path& ws, const std::vector<HandKernel>& kernels) {
  fs::create_directories(ws);
  git(ws, {"init", "-q"});
  git(ws, {"config", "user.email", "t@localhost"});
  git(ws, {"config", "user.name", "t"});
  git(ws, {"checkout", "-q", "-b", "autokernel/hand"});
  const workspace::ResultsLog log(ws / "results.tsv");
  int exp = 0;
  for (const auto& k : kernels) {
    const auto rel = fs::path("kernels") / k.name / "kernel.cpp";
    fs::create_directories(ws / rel.parent_path());
    fs::copy_file(k.source, ws / rel, fs::copy_options::overwrite_existing);
    git(ws, {"add", rel.string()});
    git(ws, {"commit", "-q", "-m", "add " + k.name});
    workspace::ResultRow row{exp++,
                             "hand",
                             k.name,
                             "cpu",
                             workspace::Status::baseline,
                             "PASS",
                             2.0,
                             "GB/s",
                             100.0,
                             0.01,
                             20.0,
                             0.5,
                             "REPEAT=8,UNROLL=1",
                             "baseline",
                             git(ws, {"rev-parse", "HEAD"}),
                             3.0,
                             "",
                             ""};
    ASSERT_TRUE(log.append(row));
    if (!k.keep_an_edit) continue;
    auto text = read(ws / rel);
    text.replace(text.find("@knob REPEAT=8"), 14, "@knob REPEAT=2");
    std::ofstream(ws / rel) << text;
    git(ws, {"commit", "-q", "-am", "exp: REPEAT=2"});
    row.experiment = exp++;
    row.status = workspace::Status::kept;
    row.throughput = 2.0 * k.speedup / 0.5;
    row.latency_us = 100.0 * 0.5 / k.speedup;
    row.pct_of_ceiling = 20.0 * k.speedup / 0.5;
    row.speedup_vs_reference = k.speedup;
    row.config = "REPEAT=2,UNROLL=1";
    row.description = "compute | fewer times";  // a pipe: must not break the Markdown table
    row.commit = git(ws, {"rev-parse", "HEAD"});
    ASSERT_TRUE(log.append(row));
    // A crash: committed, measured nothing, reset.
    std::ofstream(ws / rel, std::ios::app) << "// crashes\n";
    git(ws, {"commit", "-q", "-am", "exp: crash"});
    const auto crashed = git(ws, {"rev-parse", "HEAD"});
    git(ws, {"reset", "-q", "--hard", "HEAD~1"});
    ASSERT_TRUE(log.append({exp++, "hand", k.name, "cpu", workspace::Status::crashed, "FAIL", 0, "", 0, 0, 0, 0,
                            "REPEAT=1,UNROLL=1", "an idea [crashed in stage 2]", crashed, 1.0, "", ""}));
  }
}

/// A profile.json as `autokernel profile` writes it (workspace/profile_json), with these rows and shares.
void write_profile(const fs::path& ws, const std::vector<std::pair<std::string, double>>& rows,
                   const std::string& basis = "cpu", double total_us = 0, const nlohmann::json& meta = {}) {
  workspace::ModelProfile p;
  p.basis = basis;
  p.total_us = total_us;
  p.meta = meta;
  for (const auto& [name, share] : rows) {
    workspace::KernelUse k;
    k.name = name;
    k.supported = true;
    k.share = share;
    p.kernels.push_back(k);
  }
  std::ofstream(ws / "profile.json") << p.to_json().dump();
}

TEST(Report, ProfileSharesAndAVerifyResultPlugIntoTheSummary) {
  const auto ws = fresh_dir("profile");
  make_workspace(ws, {{"rmsnorm_cpu", k_rms, 2.0}, {"reduce_cpu", k_reduce, 0.5}});
  write_profile(ws, {{"rmsnorm_cpu", 0.3}, {"reduce", 0.2}});
  std::ofstream(ws / "verify.json")
      << R"({"passed": true, "times_ms": {"eager": 11.0, "autokernel": 10.0, "compiled": 10.5}})";
  const auto r = autokernel({"report", "--workspace", ws.string(), "--no-plots"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto md = read(ws / "report/report.md");
  // 50% other ops unchanged, rmsnorm 30% at 2x, reduce (by its type's name) 20% kept eager (0.5x < 1).
  EXPECT_NE(md.find(fmt::format("**Predicted: {:.3f}x**", 1.0 / (0.5 + 0.3 / 2.0 + 0.2))), std::string::npos) << md;
  EXPECT_NE(md.find("50.0% of the time is in other ops"), std::string::npos);
  EXPECT_NE(md.find("slower than PyTorch eager"), std::string::npos);
  EXPECT_NE(md.find("**Measured: 1.100x**"), std::string::npos) << md;
  EXPECT_NE(md.find("outputs match"), std::string::npos);
  EXPECT_NE(md.find("torch.compile 10.500 ms, 1.050x of it"), std::string::npos) << md;
  EXPECT_NE(md.find("compute \\| fewer times"), std::string::npos);
  EXPECT_NE(md.find("**No plots**: plots were turned off"), std::string::npos);
  // 1.100x measured against 1.176x predicted: 6.5% below, more than 5%, and nothing in the files says why.
  EXPECT_NE(md.find("**The measurement is 6.5% below the prediction**"), std::string::npos) << md;
  EXPECT_NE(md.find("at the profile's hottest shape of its type"), std::string::npos) << md;

  // What verify.json and profile.json show about the gap: a host-bound step, calls left to PyTorch by
  // shape, and a predicted type that took no call; an unsupported op's row is no reason (the prediction
  // counts it as other time).
  write_profile(ws, {{"rmsnorm_cpu", 0.3}, {"reduce", 0.2}}, "gpu", 4000, {{"step_wall_ms", 9.5}});
  std::ofstream(ws / "verify.json") << R"({"passed": true, "times_ms": {"eager": 10.5, "autokernel": 10.0},
      "faster_in_pytorch": {"rms_norm": ["float32[1,32,64] float32[64]"], "softmax": []},
      "uncovered": [{"name": "rmsnorm", "share": 0.3, "why": "no call fit it"},
                    {"name": "aten::mul", "share": 0.1, "why": "no kernel type covers it"}]})";
  const auto gap = autokernel({"report", "--workspace", ws.string(), "--no-plots"});
  ASSERT_EQ(gap.exit_code, 0) << gap.output;
  const auto why = read(ws / "report/report.md");
  EXPECT_NE(why.find("host-bound: a step took 9.50 ms of wall time for 4.00 ms of GPU time"), std::string::npos) << why;
  EXPECT_NE(why.find("left some calls of rms_norm to PyTorch"), std::string::npos) << why;
  EXPECT_NE(why.find("rmsnorm (30.0% of the time) took no call in the model: no call fit it"), std::string::npos);
  EXPECT_EQ(why.find("aten::mul"), std::string::npos) << why;
  EXPECT_EQ(why.find("hottest shape of its type"), std::string::npos) << "the general reason only without others";
  // Within 5%: they agree.
  std::ofstream(ws / "verify.json") << R"({"passed": true, "times_ms": {"eager": 11.5, "autokernel": 10.0}})";
  ASSERT_EQ(autokernel({"report", "--workspace", ws.string(), "--no-plots"}).exit_code, 0);
  EXPECT_NE(read(ws / "report/report.md").find("**Prediction and measurement agree** within 5%"), std::string::npos);

  // A verify cut short (a time limit, a kill) leaves what it had measured, marked partial: no measured result.
  std::ofstream(ws / "verify.json") << R"({"partial": "verify stopped", "times_ms": {"eager": 11.0}})";
  const auto partial = autokernel({"report", "--workspace", ws.string(), "--no-plots"});
  ASSERT_EQ(partial.exit_code, 0) << partial.output;
  EXPECT_NE(read(ws / "report/report.md").find("**Measured: not measured.**"), std::string::npos);

  // A malformed profile is bad input, said in one line.
  write_profile(ws, {{"rmsnorm_cpu", 3}});
  const auto bad = autokernel({"report", "--workspace", ws.string(), "--no-plots"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("autokernel: error: "), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("not a fraction of the model's time"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("hint: run autokernel profile again"), std::string::npos) << bad.output;
}

TEST(Report, WithoutMatplotlibTheReportIsStillWrittenAndSaysHowToInstallIt) {
  const auto ws = fresh_dir("nomatplotlib");
  make_workspace(ws, {{"rmsnorm_cpu", k_rms, 2.0}});
  // A matplotlib that cannot be imported, ahead of any real one on the path.
  const auto fake = fresh_dir("fake_site");
  fs::create_directories(fake / "matplotlib");
  std::ofstream(fake / "matplotlib/__init__.py") << "raise ImportError('no matplotlib here')\n";
  const auto r = [&] {
    const test::ScopedEnv path("PYTHONPATH", fake.string());
    return autokernel({"report", "--workspace", ws.string(), "--out", (ws / "morning").string()});
  }();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("no plots: matplotlib is not installed"), std::string::npos) << r.output;
  const auto md = read(ws / "morning/report.md");
  EXPECT_NE(md.find("**No plots**: matplotlib is not installed"), std::string::npos) << md;
  EXPECT_NE(md.find("pip install matplotlib"), std::string::npos);
  EXPECT_EQ(md.find("(plots/"), std::string::npos) << "links to plots that were not drawn";
  expect_self_contained(read(ws / "morning/report.html"));
  // Still the whole report: the kernel's rows, its counts and its diff (the kept edit, not the crash).
  EXPECT_EQ(table_rows(md, "1", "kept").size(), 1u);
  const auto crashed = table_rows(md, "2", "crashed");
  ASSERT_EQ(crashed.size(), 1u);
  EXPECT_EQ(crashed[0][2], "-");  // measured nothing
  EXPECT_EQ(crashed[0][3], "-");
  const auto overview = table_rows(md, "rmsnorm_cpu", "cpu");
  ASSERT_EQ(overview.size(), 1u);
  EXPECT_EQ(overview[0][3], "1");  // kept
  EXPECT_EQ(overview[0][4], "0");  // reverted
  EXPECT_EQ(overview[0][5], "1");  // failed
  EXPECT_NE(md.find("1 failed (1 crashed)"), std::string::npos);
  EXPECT_NE(md.find("+// @knob REPEAT=2"), std::string::npos);
  EXPECT_EQ(md.find("+// crashes"), std::string::npos);
  // Exactly git's diff, to its last character: this hunk ends in a blank context line, a single space.
  const auto rows = *workspace::ResultsLog(ws / "results.tsv").read();
  const auto diff = git(ws, {"diff", rows[0].commit, rows[1].commit, "--", "kernels/rmsnorm_cpu/"});
  EXPECT_TRUE(diff.ends_with("\n ")) << diff;
  EXPECT_NE(md.find(diff + "\n```"), std::string::npos) << diff;
}

TEST(Report, AFolderThatIsNotAWorkspaceIsBadInput) {
  const auto dir = fresh_dir("plain");
  fs::create_directories(dir);
  std::ofstream(dir / "notes.txt") << "not a workspace\n";
  auto r = autokernel({"report", "--workspace", dir.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(
      r.output.find("autokernel: error: " + dir.string() + " is not an autokernel workspace (it has no results.tsv)"),
      std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("hint: point --workspace at the folder `autokernel run` used"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir / "report"));

  r = autokernel({"report", "--workspace", (dir / "absent").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("autokernel: error: no such folder"), std::string::npos) << r.output;
}

TEST(Report, AnUnknownTagListsTheKnownOnes) {
  const auto ws = fresh_dir("tag");
  make_workspace(ws, {{"rmsnorm_cpu", k_rms, 2.0, false}});
  const auto r = autokernel({"report", "--workspace", ws.string(), "--tag", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no experiments tagged 'nope'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hint: tags there: hand"), std::string::npos) << r.output;
}

// results.tsv does not record the dtype: without --dtype the report takes the one the loop timed in,
// the model's dtype from extract's model.json beside the kernel (a compute-bound row's FLOPs cannot tell).
TEST(Report, WithoutDtypeTheRooflineUsesTheDtypeTheRunTimedIn) {
  const auto ws = fresh_dir("dtype");
  fs::create_directories(ws / "kernels/matmul_cpu");
  git(ws, {"init", "-q"});
  git(ws, {"config", "user.email", "t@localhost"});
  git(ws, {"config", "user.name", "t"});
  git(ws, {"checkout", "-q", "-b", "autokernel/hand"});
  fs::copy_file(test::starter("matmul", "cpu.cpp"), ws / "kernels/matmul_cpu/kernel.cpp");
  std::ofstream(ws / "kernels/matmul_cpu/model.json")
      << R"({"type": "matmul", "dtype": "bf16", "share": 0.5, "shapes": [{"label": "model_1", "dims": [64, 64, 64]}]})";
  git(ws, {"add", "-A"});
  git(ws, {"commit", "-q", "-m", "add matmul_cpu"});
  const auto* type = *catalog::find_type("matmul");
  const auto shape = type->bench_shapes().front();
  const double latency_us = 1000.0;
  const double tflops = std::round(type->flops(shape) / (latency_us * 1e-6) / 1e12 * 1e4) / 1e4;
  ASSERT_TRUE(workspace::ResultsLog(ws / "results.tsv")
                  .append({0, "hand", "matmul_cpu", "cpu", workspace::Status::baseline, "PASS", tflops, "TFLOP/s",
                           latency_us, 0.01, 10.0, 1.0, "", "baseline", git(ws, {"rev-parse", "HEAD"}), 1.0, "", ""}));
  const auto placed_in = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"report", "--workspace", ws.string(), "--no-plots"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = autokernel(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const auto rows = table_rows(read(ws / "report/report.md"), "matmul_cpu",
                                 fmt::format("{} ({}, bf16)", shape.label, catalog::shape_string(shape.dims)));
    const auto f16 = table_rows(read(ws / "report/report.md"), "matmul_cpu",
                                fmt::format("{} ({}, f16)", shape.label, catalog::shape_string(shape.dims)));
    return std::make_pair(rows.size(), f16.size());
  };
  EXPECT_EQ(placed_in({}), std::make_pair(std::size_t{1}, std::size_t{0}));
  EXPECT_EQ(placed_in({"--dtype", "f16"}), std::make_pair(std::size_t{0}, std::size_t{1}));
  // Without model.json the loop timed in f16, and so does the report.
  fs::remove(ws / "kernels/matmul_cpu/model.json");
  EXPECT_EQ(placed_in({}), std::make_pair(std::size_t{0}, std::size_t{1}));
}

TEST(Amdahl, EqualSharesWithoutAProfileAndSlowerKernelsCountAsUnchanged) {
  const auto p = report::predict({{"a_cpu", 4.0}, {"b_cpu", 0.8}}, {{"a_cpu", "a"}, {"b_cpu", "b"}}, std::nullopt);
  EXPECT_FALSE(p.from_profile);
  EXPECT_DOUBLE_EQ(p.other_share, 0.0);
  ASSERT_EQ(p.kernels.size(), 2u);
  EXPECT_DOUBLE_EQ(p.kernels[0].share, 0.5);
  EXPECT_DOUBLE_EQ(p.kernels[1].speedup, 1.0);
  EXPECT_DOUBLE_EQ(p.speedup, 1.0 / (0.5 / 4.0 + 0.5));
}

TEST(Amdahl, ATypeShareIsSplitAmongItsKernelsAndUnknownKernelsGetNone) {
  report::Profile prof;
  prof.share_by_name = {{"rmsnorm", 0.4}, {"softmax_cuda", 0.1}};
  const auto p =
      report::predict({{"rmsnorm_cuda", 2.0}, {"rmsnorm_triton", 2.0}, {"matmul_cuda", 3.0}},
                      {{"rmsnorm_cuda", "rmsnorm"}, {"rmsnorm_triton", "rmsnorm"}, {"matmul_cuda", "matmul"}}, prof);
  std::map<std::string, double> share;
  for (const auto& k : p.kernels) share[k.name] = k.share;
  EXPECT_DOUBLE_EQ(share["rmsnorm_cuda"], 0.2);
  EXPECT_DOUBLE_EQ(share["rmsnorm_triton"], 0.2);
  EXPECT_DOUBLE_EQ(share["matmul_cuda"], 0.0);
  EXPECT_NEAR(p.other_share, 0.6, 1e-12);
  EXPECT_NEAR(p.speedup, 1.0 / (0.6 + 0.4 / 2.0), 1e-12);
}

}  // namespace
}  // namespace ak
