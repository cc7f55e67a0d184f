#include "suite/plan.hpp"

#include <algorithm>

#include "backends/backend.hpp"
#include "backends/candidate.hpp"
#include "catalog/kernel_type.hpp"

namespace ak::suite {
namespace fs = std::filesystem;
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

Expected<std::vector<std::string>> resolve_backends(const SuiteRequest& r, bool gpu) {
  if (r.backends.empty()) return gpu ? std::vector<std::string>{"cuda", "triton"} : std::vector<std::string>{"cpu"};
  std::vector<std::string> out;
  const auto known = backends::backend_names();
  for (const auto& b : r.backends) {
    if (!contains(known, b)) return fail(fmt::format("unknown backend '{}' (known: {})", b, joined(known)));
    if (b == "cuda" && !gpu) {
      return fail("the cuda backend needs an NVIDIA GPU, and this machine has none",
                  "use --backends cpu (or triton, which runs in Triton's interpreter here)");
    }
    if (!contains(out, b)) out.push_back(b);
  }
  return out;
}

/// TYPE.BACKEND.NAME=VALUE into the jobs; each must name a planned type and backend.
Expected<void> apply_knobs(Plan& plan, const std::vector<std::string>& items) {
  for (const auto& item : items) {
    const auto eq = item.find('=');
    const auto parts = split_list(item.substr(0, eq), '.');
    if (eq == std::string::npos || parts.size() != 3) {
      return fail(fmt::format("bad --knob '{}': expected TYPE.BACKEND.NAME=VALUE", item),
                  "e.g. --knob softmax.cuda.BLOCK=512");
    }
    auto job = std::find_if(plan.jobs.begin(), plan.jobs.end(),
                            [&](const KernelJob& j) { return j.type == parts[0] && j.backend == parts[1]; });
    if (job == plan.jobs.end()) {
      return fail(fmt::format("--knob '{}': this run has no {} kernel in the {} backend", item, parts[0], parts[1]),
                  fmt::format("types: {}; backends: {}", joined(plan.types), joined(plan.backends)));
    }
    job->knobs[parts[2]] = item.substr(eq + 1);
  }
  // A knob the file does not declare is the request's mistake; a file that does not load at all is the
  // kernel's, and becomes its failed rows.
  for (const auto& j : plan.jobs) {
    if (j.knobs.empty() || !backends::load_candidate(j.path, j.backend)) continue;
    if (auto c = backends::load_candidate(j.path, j.backend, j.knobs); !c)
      return std::unexpected(c.error().context("--knob"));
  }
  return {};
}

}  // namespace

fs::path kernel_file(const fs::path& kernels_dir, const std::string& type, const std::string& backend) {
  const char* file = backend == "cuda" ? "cuda.cu" : backend == "triton" ? "triton.py" : "cpu.cpp";
  return kernels_dir / type / file;
}

Expected<Plan> make_plan(const SuiteRequest& r, bool gpu) {
  Plan plan;
  plan.gpu = gpu;
  plan.request = r;
  plan.types = r.types;
  if (plan.types.empty()) {
    for (const auto& c : r.configs) plan.types.push_back(c.type);
  }
  if (plan.types.empty()) {
    for (const auto& t : catalog::all_types()) plan.types.emplace_back(t->name());
  }
  for (const auto& c : r.configs) {
    if (!contains(plan.types, c.type)) {
      return fail(fmt::format("--configs gives shapes for {}, which --types leaves out", c.type),
                  fmt::format("add it: --types {},{}", joined(plan.types), c.type));
    }
  }
  std::vector<std::string> defaulted;
  for (const auto& type : plan.types) {
    if (auto t = catalog::find_type(type); !t) return std::unexpected(t.error());
    auto given = std::find_if(r.configs.begin(), r.configs.end(), [&](const TypeShapes& c) { return c.type == type; });
    if (given == r.configs.end()) defaulted.push_back(type);
    plan.configs[type] = given != r.configs.end() ? given->shapes : default_shapes(type);
  }
  if (!gpu && !defaulted.empty()) {
    return fail(
        fmt::format("no GPU here, and the default configs of {} are GPU-sized (LLaMA-7B shapes)", joined(defaulted)),
        "give small shapes for every type with --configs, e.g. --configs softmax:64x128,rmsnorm:32x256");
  }
  for (const auto& d : r.dtypes.empty() ? default_dtypes() : r.dtypes) {
    auto t = catalog::parse_dtype(d);
    if (!t) return std::unexpected(t.error().context("--dtypes"));
    if (!contains(plan.dtypes, catalog::dtype_name(*t))) plan.dtypes.push_back(catalog::dtype_name(*t));  // "f16", ...
  }
  auto b = resolve_backends(r, gpu);
  if (!b) return std::unexpected(b.error());
  plan.backends = *b;
  if (contains(plan.backends, "cpu") && !defaulted.empty()) {
    return fail(
        fmt::format("the cpu backend at the default configs of {} (GPU-sized) would run for hours", joined(defaulted)),
        "give small shapes with --configs, or leave cpu out of --backends");
  }
  std::error_code ec;
  if (!fs::is_directory(r.kernels_dir, ec)) {
    return fail(fmt::format("no kernels directory {}", r.kernels_dir.string()),
                "--kernels-dir takes a folder holding <type>/{cuda.cu,triton.py,cpu.cpp}");
  }
  for (const auto& type : plan.types) {
    for (const auto& backend : plan.backends)
      plan.jobs.push_back({type, backend, kernel_file(r.kernels_dir, type, backend), {}});
  }
  if (auto k = apply_knobs(plan, r.knobs); !k) return std::unexpected(k.error());
  return plan;
}

}  // namespace ak::suite
