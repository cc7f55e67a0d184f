#include "deploy/export.hpp"

#include <ATen/ATen.h>
#include <algorithm>
#include <set>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <torch/headeronly/version.h>

#include "backends/backend.hpp"
#include "backends/candidate.hpp"
#include "workspace/git_repo.hpp"
#include "workspace/results_log.hpp"
#include "util/fs.hpp"
#include "util/resources.hpp"

namespace ak::deploy {
namespace fs = std::filesystem;
namespace {

Expected<void> copy_into(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return fail(fmt::format("cannot copy {} to {}: {}", from.string(), to.string(), util::io_error_text(ec.value())),
                util::hint_for(ec.value()));
  }
  return {};
}

// What verify measured that the package follows (none when verify has not run, or its file cannot be read:
// every type then runs inside torch.compile too, and every call that fits takes its kernel, as before):
//   eager_only         the types verify timed slower inside torch.compile than inductor's own code;
//   faster_in_pytorch  op name -> the call signatures verify timed faster in PyTorch than in our kernel;
//   unscreened_inside_compile  the types whose every call takes the kernel inside torch.compile, faster_in_pytorch
//                      or not: verify timed the compiled model faster so;
//   timed_per_call     the kernels verify timed at every call shape (its "kernels", where it wrote
//                      faster_in_pytorch, empty or not): exported even where the harness's one shape
//                      found them no faster, since each call now takes the faster of the two.
struct VerifyChoices {
  std::vector<std::string> eager_only;
  std::vector<std::string> unscreened_inside_compile;
  nlohmann::json faster_in_pytorch = nlohmann::json::object();
  std::set<std::string> timed_per_call;
};

VerifyChoices verify_choices(const fs::path& ws) {
  VerifyChoices out;
  auto text = util::read_file(ws / "verify.json");
  if (!text) return out;
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return out;
  for (auto [key, into] : {std::pair{"eager_only", &out.eager_only},
                           std::pair{"unscreened_inside_compile", &out.unscreened_inside_compile}})
    if (doc.contains(key) && doc[key].is_array())
      for (const auto& t : doc[key])
        if (t.is_string()) into->push_back(t.get<std::string>());
  if (!doc.contains("faster_in_pytorch") || !doc["faster_in_pytorch"].is_object()) return out;
  for (const auto& [op, sigs] : doc["faster_in_pytorch"].items())
    if (sigs.is_array() && !sigs.empty() && std::ranges::all_of(sigs, [](const auto& s) { return s.is_string(); }))
      out.faster_in_pytorch[op] = sigs;
  for (const auto& k : doc.value("kernels", nlohmann::json::array()))
    if (k.is_object() && k.contains("name") && k["name"].is_string()) out.timed_per_call.insert(k["name"]);
  return out;
}

}  // namespace

Expected<std::vector<ExportedKernel>> export_package(const ExportRequest& req,
                                                     const std::function<void(const std::string&)>& print) {
  const auto ws = fs::absolute(req.workspace);
  std::error_code ec;
  if (!fs::exists(ws / ".git", ec) || !fs::is_directory(ws / "kernels", ec)) {
    return fail(fmt::format("{} is not an autokernel workspace (no kernels/ under git)", ws.string()),
                "give the folder `autokernel run` or `autokernel extract` used, with --workspace");
  }
  workspace::GitRepo repo(ws);
  auto branch = repo.current_branch();
  if (!branch) return std::unexpected(branch.error());
  const std::string tag = branch->starts_with("autokernel/") ? branch->substr(11) : *branch;
  auto rows = workspace::ResultsLog(ws / "results.tsv").read();
  if (!rows) return std::unexpected(rows.error());

  const auto pkg = req.out / k_package_name;
  if (auto r = util::remove_tree(pkg); !r) return std::unexpected(r.error());
  fs::create_directories(pkg / "src", ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", pkg.string(), ec.message()));

  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(ws / "kernels", ec)) {
    if (entry.is_directory()) dirs.push_back(entry.path());
  }
  std::ranges::sort(dirs);
  const auto choices = verify_choices(ws);
  std::vector<ExportedKernel> result;
  nlohmann::json kernels = nlohmann::json::array();
  for (const auto& dir : dirs) {
    const auto name = dir.filename().string();
    fs::path file;
    for (const char* ext : {".cu", ".py", ".cpp"}) {
      if (fs::exists(dir / (std::string("kernel") + ext), ec))
        file = fs::path("kernels") / name / (std::string("kernel") + ext);
    }
    if (file.empty()) continue;
    // The committed (kept) version, not whatever an experiment in flight left in the working tree.
    auto source = repo.show("HEAD", file.string());
    if (!source) return std::unexpected(source.error().context("reading the kept " + file.string()));
    const auto src = pkg / "src" / (name + file.extension().string());
    if (auto w = util::write_file_atomic(src, *source + "\n"); !w) return std::unexpected(w.error());
    auto cand = backends::load_candidate(src, "");
    if (!cand) return std::unexpected(cand.error());

    ExportedKernel k;
    k.name = name;
    k.type = cand->type;
    k.backend = cand->backend;
    const auto* best = workspace::best_row(*rows, name, tag);  // on the workspace's current branch
    k.speedup_vs_reference = best ? best->speedup_vs_reference : 0;
    if (!best) {
      k.why = "never passed the harness on this branch";
    } else if (!req.all && best->speedup_vs_reference <= 1.0 && !choices.timed_per_call.contains(name)) {
      k.why = fmt::format("{:.3f}x PyTorch: not faster (--all includes it)", best->speedup_vs_reference);
    }
    if (!k.why.empty()) {
      print(fmt::format("  {:<24} left out: {}", name, k.why));
      result.push_back(k);
      continue;
    }
    nlohmann::json e{{"name", name},
                     {"type", k.type},
                     {"backend", k.backend},
                     {"source", "src/" + src.filename().string()},
                     {"speedup_vs_reference", k.speedup_vs_reference},
                     {"latency_us", best->latency_us},
                     {"experiment", best->experiment},
                     {"commit", best->commit}};
    if (k.backend == "triton") {
      auto knobs = nlohmann::json::object();
      for (const auto& [kn, v] : cand->knob_values) {
        // As the harness sets them: numbers stay numbers.
        std::visit([&](const auto& x) { knobs[kn] = x; }, backends::knob_scalar(v));
      }
      e["module"] = "triton/" + name + ".py";
      e["knobs"] = knobs;
      if (auto c = copy_into(src, pkg / "triton" / (name + ".py")); !c) return std::unexpected(c.error());
    } else {
      auto backend = backends::make_backend(k.backend);
      if (!backend) return std::unexpected(backend.error());
      auto so = (*backend)->build(*cand);
      if (!so) return std::unexpected(so.error().context("building " + name));
      e["library"] = "lib/" + name + ".so";
      if (auto c = copy_into(*so, pkg / "lib" / (name + ".so")); !c) return std::unexpected(c.error());
    }
    k.included = true;
    kernels.push_back(e);
    print(fmt::format("  {:<24} {:<16} {:.3f}x PyTorch (experiment {})", name, k.type, k.speedup_vs_reference,
                      best->experiment));
    result.push_back(k);
  }
  if (kernels.empty()) {
    return fail(fmt::format("no kernel of {} is ready to export", ws.string()),
                "run `autokernel run` first; --all also exports kernels no faster than PyTorch");
  }
  const auto ops = util::ops_library();
  if (!fs::exists(ops, ec))
    return fail(fmt::format("the operator library {} is missing", ops.string()), "rebuild autokernel");
  if (auto c = copy_into(ops, pkg / "lib" / ops.filename()); !c) return std::unexpected(c.error());
  // The package's Python, every *.py under it at its relative path: __init__.py (loading, patch), the shared
  // machinery beside it (_ops.py, _routing.py, ...) and kinds/ (one module per kernel type).
  const auto package_dir = util::python_support_dir() / k_package_name;
  for (const auto& entry : fs::recursive_directory_iterator(package_dir, ec)) {
    if (!entry.is_regular_file(ec) || entry.path().extension() != ".py") continue;
    const auto to = pkg / entry.path().lexically_relative(package_dir);
    if (auto c = copy_into(entry.path(), to); !c) return std::unexpected(c.error());
  }
  nlohmann::json manifest{{"workspace", ws.string()},
                          {"branch", *branch},
                          {"torch", TORCH_VERSION},
                          {"ops_library", "lib/" + ops.filename().string()},
                          {"kernels", kernels}};
  if (!choices.eager_only.empty()) {  // inside torch.compile these step aside for inductor's own code
    manifest["eager_only"] = choices.eager_only;
    print(fmt::format("  inside torch.compile, left to inductor (verify timed them slower there): {}",
                      fmt::join(choices.eager_only, ", ")));
  }
  if (!choices.faster_in_pytorch.empty()) {  // these calls run PyTorch's code, eager and compiled
    manifest["faster_in_pytorch"] = choices.faster_in_pytorch;
    for (const auto& [op, sigs] : choices.faster_in_pytorch.items())
      print(fmt::format("  {}: {} call shape(s) left to PyTorch (verify timed it faster there)", op, sigs.size()));
  }
  if (!choices.unscreened_inside_compile.empty()) {  // ... but inside torch.compile these types take every call
    manifest["unscreened_inside_compile"] = choices.unscreened_inside_compile;
    print(fmt::format("  inside torch.compile, every call kept (verify timed the compiled model faster so): {}",
                      fmt::join(choices.unscreened_inside_compile, ", ")));
  }
  if (auto w = util::write_file_atomic(pkg / "manifest.json", manifest.dump(2) + "\n"); !w)
    return std::unexpected(w.error());
  return result;
}

}  // namespace ak::deploy
