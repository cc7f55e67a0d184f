#include "harness/model_shapes.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "catalog/kernel_type.hpp"
#include "util/fs.hpp"

namespace ak::harness {

Expected<std::optional<ModelShapes>> read_model_shapes(const std::filesystem::path& candidate) {
  std::error_code ec;
  const auto dir = std::filesystem::is_directory(candidate, ec) ? candidate : candidate.parent_path();
  const auto path = dir / k_model_shapes_file;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  auto text = util::read_file(path);
  if (!text) return std::unexpected(text.error());
  ModelShapes m;
  try {
    const auto j = nlohmann::json::parse(*text);
    m.type = j.at("type").get<std::string>();
    m.dtype = j.value("dtype", "");
    m.share = j.value("share", 0.0);
    m.share_uncompiled = j.value("share_uncompiled", 0.0);
    for (const auto& s : j.at("shapes")) {
      m.shapes.push_back({s.at("label").get<std::string>(), s.at("dims").get<std::vector<int64_t>>()});
    }
  } catch (const std::exception& e) {
    return fail(fmt::format("{} is malformed: {}", path.string(), e.what()), "run autokernel extract again");
  }
  auto type = catalog::find_type(m.type);
  if (!type) return std::unexpected(type.error().context(path.string()));
  // The type's dims: one per name in dims_doc ("M,N,K"), the bracketed trailing ones optional
  // ("B,H,S,D,causal[,HKV]": 5 or 6).
  const auto doc = (*type)->dims_doc();
  const auto names = catalog::dim_names(doc);
  for (const auto& s : m.shapes) {
    const bool bad_label = s.label.empty() || s.label.find_first_of("= \t") != std::string::npos;
    const bool bad_dims = s.dims.size() < names.required || s.dims.size() > names.names.size() ||
                          std::any_of(s.dims.begin(), s.dims.end(), [](int64_t d) { return d < 0; }) ||
                          std::all_of(s.dims.begin(), s.dims.end(), [](int64_t d) { return d == 0; });
    const auto why = bad_dims ? "" : (*type)->dims_error(s.dims);
    if (bad_label || bad_dims || !why.empty()) {
      return fail(fmt::format("{}: shape '{}' ({}) does not fit {} (dims {}){}", path.string(), s.label,
                              catalog::shape_string(s.dims), m.type, doc, why.empty() ? "" : ": " + why),
                  "run autokernel extract again");
    }
  }
  return m;
}

}  // namespace ak::harness
