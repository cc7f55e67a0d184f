#include "harness/model_shapes.hpp"

#include <algorithm>

#include "catalog/kernel_type.hpp"

namespace ak::harness {

Expected<void> check_model_shapes(const workspace::ModelJson& m, const std::filesystem::path& path) {
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
  return {};
}

Expected<std::optional<workspace::ModelJson>> read_model_shapes(const std::filesystem::path& candidate) {
  auto read = workspace::read_model_json(candidate);
  if (!read || !*read) return read;
  std::error_code ec;
  const auto dir = std::filesystem::is_directory(candidate, ec) ? candidate : candidate.parent_path();
  if (auto ok = check_model_shapes(**read, dir / workspace::k_model_json_file); !ok) return std::unexpected(ok.error());
  return read;
}

}  // namespace ak::harness
