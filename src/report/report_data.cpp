#include "report/report_data.hpp"

#include <algorithm>
#include <set>

#include "backends/candidate.hpp"
#include "catalog/kernel_type.hpp"
#include "workspace/git_repo.hpp"
#include "workspace/model_json.hpp"
#include "workspace/workspace.hpp"

namespace ak::report {
namespace {

namespace fs = std::filesystem;

/// A kept version's diff longer than this is cut (an agent may rewrite the whole file); the command to
/// see all of it is printed beside it.
constexpr std::size_t k_max_diff_lines = 400;

std::string cut_lines(const std::string& text, std::size_t max_lines) {
  std::size_t pos = 0, lines = 0;
  while (lines < max_lines) {
    pos = text.find('\n', pos);
    if (pos == std::string::npos) return text;
    ++pos;
    ++lines;
  }
  const auto rest = static_cast<std::size_t>(std::count(text.begin() + static_cast<long>(pos), text.end(), '\n')) + 1;
  return text.substr(0, pos) + fmt::format("... ({} more lines)", rest);
}

/// The kernel's type from its file's `@autokernel type=` line; from its name (rmsnorm_cuda) if the file is gone.
std::string type_of(const Expected<fs::path>& file, const std::string& name) {
  if (file) {
    if (auto c = backends::load_candidate(*file, ""); c) return c->type;
  }
  const auto cut = name.rfind('_');
  return cut == std::string::npos ? name : name.substr(0, cut);
}

/// The dtype the loop timed the kernel in when the run named none (see workspace::timing_dtype_of).
std::string timing_dtype(const Expected<fs::path>& file) { return file ? workspace::timing_dtype_of(*file) : "f16"; }

KernelSummary summarise(const fs::path& ws, workspace::GitRepo& repo, const std::string& name,
                        std::vector<workspace::ResultRow> rows, const std::string& dtype) {
  KernelSummary k;
  k.name = name;
  const auto file = backends::resolve_kernel_path(ws / "kernels" / name, "");  // gone: the name decides
  k.type = type_of(file, name);
  k.backend = rows.front().backend;
  k.rows = std::move(rows);
  std::vector<double> references, ceilings;
  for (const auto& r : k.rows) {
    ++k.count_by_status[std::string(workspace::status_name(r.status))];
    k.experiments += workspace::counts_as_experiment(r.status) ? 1 : 0;
    if (r.status == workspace::Status::kept) {
      ++k.kept;
    } else if (r.status == workspace::Status::reverted) {
      ++k.reverted;
    } else if (r.status != workspace::Status::baseline && r.status != workspace::Status::hand_reverted &&
               r.status != workspace::Status::retimed) {
      ++k.failed;
    }
    if (workspace::advances(r)) {
      if (r.status == workspace::Status::baseline && !k.baseline) k.baseline = r;
      k.best = r;
    }
    if (k.unit.empty() && !r.throughput_unit.empty() && r.throughput > 0) k.unit = r.throughput_unit;
  }
  if (k.best && !k.best->throughput_unit.empty()) k.unit = k.best->throughput_unit;
  if (k.best) {
    if (const auto* r = workspace::retimed_row(k.rows, *k.best); r) k.retimed = *r;
  }
  for (const auto& r : k.rows) {
    if (r.throughput_unit != k.unit || r.throughput <= 0) continue;
    if (r.speedup_vs_reference > 0) references.push_back(r.throughput / r.speedup_vs_reference);
    if (const double c = ceiling_of(r); c > 0) ceilings.push_back(c);
  }
  k.reference_throughput = median(references);
  k.ceiling_throughput = median(ceilings);

  if (k.best) {
    if (auto type = catalog::find_type(k.type); !type) {
      k.placement.note = type.error().message;
    } else if (auto d = catalog::parse_dtype(dtype.empty() ? timing_dtype(file) : dtype); !d) {
      k.placement.note = d.error().message;
    } else {
      k.placement = place(**type, *k.best, *d);
    }
  }

  if (k.baseline && k.best && k.best->status == workspace::Status::kept) {
    const auto dir = fmt::format("kernels/{}/", name);
    k.diff_command = fmt::format("git -C {} diff {} {} -- {}", ws.string(), k.baseline->commit.substr(0, 12),
                                 k.best->commit.substr(0, 12), dir);
    if (auto d = repo.diff(k.baseline->commit, k.best->commit, dir); !d) {
      k.diff_problem = d.error().message;
    } else if (d->empty()) {
      k.diff_problem = fmt::format("the kept commits change nothing under {}", dir);
    } else {
      auto text = *d;
      while (!text.empty() && text.back() == '\n') text.pop_back();  // only newlines: a context line may end in ' '
      k.diff = cut_lines(text, k_max_diff_lines);
    }
  }
  return k;
}

}  // namespace

double KernelSummary::speedup_vs_start() const {
  return baseline && best && best->latency_us > 0 ? baseline->latency_us / best->latency_us : 0;
}

double KernelSummary::gflops(const workspace::ResultRow& row) const {
  if (row.throughput <= 0) return 0;
  if (row.throughput_unit == "TFLOP/s") return row.throughput * 1000;
  return placement.intensity ? row.throughput * *placement.intensity : 0;  // GB/s x FLOP/byte = GFLOP/s
}

Expected<RunData> collect(const fs::path& workspace_in, const std::string& tag, const std::string& dtype) {
  const auto ws = fs::absolute(workspace_in);
  std::error_code ec;
  if (!fs::is_directory(ws, ec)) {
    return fail(fmt::format("no such folder: {}", ws.string()),
                "point --workspace at the folder `autokernel run` used");
  }
  const workspace::ResultsLog log(ws / "results.tsv");
  if (!fs::exists(log.path(), ec)) {
    return fail(fmt::format("{} is not an autokernel workspace (it has no results.tsv)", ws.string()),
                "point --workspace at the folder `autokernel run` used");
  }
  auto rows = log.read();
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) {
    return fail(fmt::format("no experiments yet in {}", ws.string()), "run `autokernel run` first");
  }
  RunData data;
  data.workspace = ws;
  data.tag = tag.empty() ? rows->back().tag : tag;
  std::map<std::string, std::vector<workspace::ResultRow>> by_kernel;
  std::set<std::string> tags;
  for (const auto& r : *rows) {
    tags.insert(r.tag);
    if (r.tag != data.tag) continue;
    by_kernel[r.kernel].push_back(r);
    if (!workspace::counts_as_experiment(r.status)) continue;  // a re-timing of a best version
    ++data.experiments;
    data.seconds += r.seconds;
  }
  tags.erase(data.tag);
  data.other_tags.assign(tags.begin(), tags.end());
  if (by_kernel.empty()) {
    std::string known;
    for (const auto& t : data.other_tags) known += (known.empty() ? "" : ", ") + t;
    return fail(fmt::format("no experiments tagged '{}' in {}", data.tag, log.path().string()),
                fmt::format("tags there: {}", known));
  }
  workspace::GitRepo repo(ws);
  for (auto& [name, krows] : by_kernel) data.kernels.push_back(summarise(ws, repo, name, std::move(krows), dtype));
  return data;
}

}  // namespace ak::report
