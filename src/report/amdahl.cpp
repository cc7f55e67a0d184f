#include "report/amdahl.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "util/fs.hpp"
#include "workspace/profile_json.hpp"

namespace ak::report {
namespace {

/// The file's JSON, nullopt if it does not exist.
Expected<std::optional<nlohmann::json>> read_json(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  auto text = util::read_file(path);
  if (!text) return std::unexpected(text.error());
  try {
    return nlohmann::json::parse(*text);
  } catch (const std::exception& e) {
    return fail(fmt::format("{} is not valid JSON: {}", path.string(), e.what()));
  }
}

}  // namespace

Expected<std::optional<Profile>> read_profile(const std::filesystem::path& path) {
  auto read = workspace::read_profile_json(path);
  if (!read) return std::unexpected(read.error());
  if (!*read) return std::nullopt;
  Profile p;
  for (const auto& k : (*read)->kernels) p.share_by_name[k.name] += k.share;
  return p;
}

Prediction predict(const std::map<std::string, double>& speedups, const std::map<std::string, std::string>& type_of,
                   const std::optional<Profile>& profile) {
  Prediction out;
  out.from_profile = profile.has_value();
  double covered = 0;
  // A type's share (profile entry "rmsnorm") is split among the workspace kernels of that type.
  std::map<std::string, int> kernels_of_type;
  for (const auto& [name, s] : speedups) {
    auto t = type_of.find(name);
    if (t != type_of.end()) ++kernels_of_type[t->second];
  }
  for (const auto& [name, s] : speedups) {
    KernelShare k;
    k.name = name;
    k.speedup = std::max(1.0, s);
    if (s > 0 && s < 1) k.note = fmt::format("slower than PyTorch eager ({:.3f}x): the model keeps the eager op", s);
    if (s <= 0) k.note = "no correct measurement: the model keeps the eager op";
    if (!profile) {
      k.share = 1.0 / static_cast<double>(speedups.size());
    } else if (auto it = profile->share_by_name.find(name); it != profile->share_by_name.end()) {
      k.share = it->second;
    } else if (auto t = type_of.find(name); t != type_of.end() && profile->share_by_name.contains(t->second)) {
      k.share = profile->share_by_name.at(t->second) / kernels_of_type[t->second];
    } else {
      k.share = 0;
      k.note = "not in profile.json: counted as no share of the model's time";
    }
    covered += k.share;
    out.kernels.push_back(std::move(k));
  }
  out.other_share = std::max(0.0, 1.0 - covered);
  double time = out.other_share;
  for (const auto& k : out.kernels) time += k.share / k.speedup;
  out.speedup = time > 0 ? 1.0 / time : 1.0;
  return out;
}

Expected<std::optional<Measured>> read_verify(const std::filesystem::path& path) {
  auto j = read_json(path);
  if (!j) return std::unexpected(j.error());
  if (!*j) return std::nullopt;
  const auto hint = std::string(
      R"(expected what `autokernel verify` writes: {"passed": true, "times_ms": {"eager": 12.0, "autokernel": 9.2}})");
  const auto& v = **j;
  if (v.contains("partial")) return std::nullopt;  // a verify cut short: no measured result to report
  Measured m;
  try {
    if (v.contains("passed")) m.outputs_match = v.at("passed").get<bool>();
    const auto& t = v.at("times_ms");
    m.eager_ms = t.at("eager").get<double>();
    m.optimized_ms = t.at("autokernel").get<double>();
    if (t.contains("compiled")) m.compiled_ms = t.at("compiled").get<double>();
    if (*m.optimized_ms > 0) m.speedup = *m.eager_ms / *m.optimized_ms;
  } catch (const nlohmann::json::exception& e) {
    return fail(fmt::format("{} is not a verify result: {}", path.string(), e.what()), hint);
  }
  if (!(m.speedup > 0)) return fail(fmt::format("{} has no positive time with the kept kernels", path.string()), hint);
  return m;
}

}  // namespace ak::report
