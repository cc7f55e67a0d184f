#include "workspace/model_json.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "util/fs.hpp"

namespace ak::workspace {

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
    for (const auto& s : j.at("shapes")) {
      m.shapes.push_back({s.at("label").get<std::string>(), s.at("dims").get<std::vector<int64_t>>()});
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
