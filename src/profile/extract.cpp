#include "profile/extract.hpp"

#include <algorithm>
#include <deque>
#include <map>

#include "backends/backend.hpp"
#include "catalog/kernel_type.hpp"
#include "catalog/type_names.hpp"
#include "harness/model_shapes.hpp"
#include "workspace/model_json.hpp"
#include "workspace/workspace.hpp"
#include "util/fs.hpp"

namespace ak::profile {
namespace {

std::string starter_file(const std::string& backend) {
  return backend == "cuda" ? "cuda.cu" : backend == "triton" ? "triton.py" : "cpu.cpp";
}

}  // namespace

workspace::ModelJson model_json(const KernelUse& use, const ModelProfile& profile, double share_uncompiled) {
  workspace::ModelJson m;
  m.type = use.name;
  if (auto type = catalog::find_type(use.name)) m.dims_doc = (*type)->dims_doc();
  for (std::size_t i = 0; i < use.shapes.size() && i < k_model_shapes_kept; ++i) {
    const auto& s = use.shapes[i];
    workspace::ModelShape shape;
    shape.label = s.label;
    shape.dims = s.dims;
    shape.dtype = s.dtype;
    shape.share = s.share;
    shape.calls = s.calls;
    shape.modules = s.modules;
    m.shapes.push_back(std::move(shape));
  }
  m.shapes_in_profile = use.shapes.size();
  m.dtype = use.shapes.empty() ? "" : use.shapes.front().dtype;
  m.share = use.share;
  m.share_uncompiled = share_uncompiled;
  m.time_us = use.time_us;
  m.basis = profile.basis;
  m.model = profile.meta.value("model", "");
  m.device = profile.meta.value("device_name", profile.meta.value("device", ""));
  return m;
}

Expected<ModelProfile> read_profile(const std::filesystem::path& workspace) {
  auto p = workspace::read_profile_json(workspace / k_profile_file);
  if (!p) return std::unexpected(p.error());
  if (!*p) {
    return fail(fmt::format("no {} in {}", k_profile_file, workspace.string()),
                "run autokernel profile --model FILE.py:Class --workspace " + workspace.string() + " first");
  }
  return std::move(**p);
}

Expected<std::vector<ExtractedKernel>> extract(const ExtractRequest& r, const ModelProfile& profile,
                                               const std::function<void(const std::string&)>& print) {
  if (r.top < 1) return fail(fmt::format("--top must be at least 1, got {}", r.top));
  std::string backend = r.backend.empty() ? (backends::cuda_available() ? "cuda" : "cpu") : r.backend;
  if (auto b = backends::make_backend(backend); !b) return std::unexpected(b.error());
  if (backend != "cpu" && !backends::cuda_available()) {
    // Its starters could be neither baselined nor run here: refuse before the workspace is touched.
    return fail(fmt::format("--backend {} needs a GPU, and there is none here", backend),
                "use --backend cpu here, or extract on the machine with the GPU");
  }
  const auto supported = profile.supported();
  if (supported.empty()) {
    return fail("the profile has no supported kernels: none of its time is in a kernel type autokernel has",
                "see the unsupported ops in profile.json; autokernel's types are " + catalog::type_names());
  }
  auto opened = workspace::Workspace::open(r.workspace, r.tag, print);
  if (!opened) return std::unexpected(opened.error());
  auto& ws = **opened;

  // The N hottest, then the unfused form of each fusion among them (an uncompiled model runs it), taken
  // from its own row, or, where every call of it was fused, from the fusion's shapes with no share known.
  std::vector<const KernelUse*> chosen(supported.begin(),
                                       supported.begin() + std::min<std::size_t>(supported.size(), r.top));
  std::deque<KernelUse> made;
  std::map<std::string, double> fused_share;  // unfused form -> the share of the chains it stands in for
  for (std::size_t i = 0, n = chosen.size(); i < n; ++i) {
    auto type = catalog::find_type(chosen[i]->name);
    const std::string unfused = type ? std::string((*type)->unfused()) : "";
    if (unfused.empty()) continue;
    fused_share[unfused] += chosen[i]->share;
    if (std::any_of(chosen.begin(), chosen.end(), [&](auto* u) { return u->name == unfused; })) continue;
    const auto row = std::find_if(supported.begin(), supported.end(), [&](auto* u) { return u->name == unfused; });
    if (row != supported.end()) {
      chosen.push_back(*row);
    } else {
      KernelUse u = *chosen[i];
      u.name = unfused;
      u.share = u.time_us = 0;
      for (auto& s : u.shapes) s.share = s.time_us = 0;
      chosen.push_back(&made.emplace_back(std::move(u)));
    }
  }

  std::vector<ExtractedKernel> out;
  std::vector<std::string> paths = {std::string(k_profile_file)};
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const auto* use = chosen[i];
    const auto starter = r.starters / use->name / starter_file(backend);
    auto name = ws.add_kernel(starter.string());
    if (!name) return std::unexpected(name.error().context("adding the " + use->name + " starter"));
    const auto rel = std::filesystem::path("kernels") / *name / workspace::k_model_json_file;
    // An uncompiled model runs every chain of a fusion as its unfused form: the run ranks that form by both.
    const bool stands_in = fused_share.contains(use->name);
    const double uncompiled = stands_in ? use->share + fused_share[use->name] : 0;
    // The shapes the harness will check and time first: checked before the file is written.
    const auto m = model_json(*use, profile, uncompiled);
    if (auto check = harness::check_model_shapes(m, ws.dir() / rel); !check) return std::unexpected(check.error());
    if (auto w = workspace::write_model_json((ws.dir() / rel).parent_path(), m); !w) return std::unexpected(w.error());
    paths.push_back(rel.string());
    out.push_back({*name, use});
    std::string shapes;
    for (std::size_t s = 0; s < use->shapes.size() && s < k_model_shapes_kept; ++s) {
      shapes += fmt::format("{}{} {}", s ? ", " : "", catalog::shape_string(use->shapes[s].dims), use->shapes[s].dtype);
    }
    print(fmt::format("{:<24} {:>5.1f}% of the model  shapes: {}{}{}", *name, 100 * use->share, shapes,
                      use->shapes.size() > k_model_shapes_kept
                          ? fmt::format(" (+{} lighter)", use->shapes.size() - k_model_shapes_kept)
                          : "",
                      stands_in ? fmt::format("  ({:.1f}% uncompiled: a fusion runs as this type where it cannot fuse)",
                                              100 * uncompiled)
                                : ""));
  }
  std::string names;
  for (const auto& k : out) names += (names.empty() ? "" : ", ") + k.name;
  if (auto c = ws.repo().commit(paths, "extract from the profile: " + names); !c) return std::unexpected(c.error());
  return out;
}

}  // namespace ak::profile
