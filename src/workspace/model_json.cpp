#include "workspace/model_json.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "util/fs.hpp"

namespace ak::workspace {

nlohmann::json ModelJson::to_json() const {
  nlohmann::json shapes_j = nlohmann::json::array();
  for (const auto& s : shapes) {
    shapes_j.push_back({{"label", s.label},
                        {"dims", s.dims},
                        {"dtype", s.dtype},
                        {"share", s.share},
                        {"calls", s.calls},
                        {"modules", s.modules}});
  }
  nlohmann::json out = {{"type", type},       {"dims_doc", dims_doc},
                        {"dtype", dtype},     {"share", share},
                        {"time_us", time_us}, {"basis", basis},
                        {"model", model},     {"device", device},
                        {"shapes", shapes_j}, {"shapes_in_profile", shapes_in_profile}};
  if (share_uncompiled > 0) out["share_uncompiled"] = share_uncompiled;
  return out;
}

Expected<void> write_model_json(const std::filesystem::path& kernel_dir, const ModelJson& m) {
  return util::write_file_atomic(kernel_dir / k_model_json_file, m.to_json().dump(2) + "\n");
}

Expected<std::optional<ModelJson>> read_model_json(const std::filesystem::path& candidate) {
  std::error_code ec;
  const auto dir = std::filesystem::is_directory(candidate, ec) ? candidate : candidate.parent_path();
  const auto path = dir / k_model_json_file;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  auto text = util::read_file(path);
  if (!text) return std::unexpected(text.error());
  ModelJson m;
  try {
    const auto j = nlohmann::json::parse(*text);
    m.type = j.at("type").get<std::string>();
    m.dtype = j.value("dtype", "");
    m.share = j.value("share", 0.0);
    m.share_uncompiled = j.value("share_uncompiled", 0.0);
    m.dims_doc = j.value("dims_doc", "");
    m.time_us = j.value("time_us", 0.0);
    m.basis = j.value("basis", "");
    m.model = j.value("model", "");
    m.device = j.value("device", "");
    m.shapes_in_profile = j.value("shapes_in_profile", std::size_t{0});
    for (const auto& s : j.at("shapes")) {
      ModelShape shape;
      shape.label = s.at("label").get<std::string>();
      shape.dims = s.at("dims").get<std::vector<int64_t>>();
      shape.dtype = s.value("dtype", "");
      shape.share = s.value("share", 0.0);
      shape.calls = s.value("calls", 0.0);
      shape.modules = s.value("modules", std::vector<std::string>{});
      m.shapes.push_back(std::move(shape));
    }
  } catch (const std::exception& e) {
    return fail(fmt::format("{} is malformed: {}", path.string(), e.what()), "run autokernel extract again");
  }
  return m;
}

std::string timing_dtype_of(const std::filesystem::path& kernel_file) {
  auto m = read_model_json(kernel_file);
  if (m && *m && catalog::dtype_short_name((*m)->dtype)) return (*m)->dtype;
  return "f16";
}

}  // namespace ak::workspace
