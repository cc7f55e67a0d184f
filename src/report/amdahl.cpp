#include "report/amdahl.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

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
  const auto& meta = (*read)->meta;
  if (meta.is_object() && meta.contains("step_wall_ms") && meta["step_wall_ms"].is_number())
    p.wall_ms = meta["step_wall_ms"].get<double>();
  if ((*read)->basis == "gpu") p.gpu_ms = (*read)->total_us / 1e3;
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
    const auto left = v.value("faster_in_pytorch", nlohmann::json::object());  // items() of a temporary dangle
    for (const auto& [op, signatures] : left.items())
      if (!signatures.empty()) m.left_to_pytorch.push_back(op);
    if (v.contains("uncovered") && v["uncovered"].is_array())
      for (const auto& u : v["uncovered"])
        m.not_taken.push_back(
            {u.at("name").get<std::string>(), u.at("share").get<double>(), u.at("why").get<std::string>()});
  } catch (const nlohmann::json::exception& e) {
    return fail(fmt::format("{} is not a verify result: {}", path.string(), e.what()), hint);
  }
  if (!(m.speedup > 0)) return fail(fmt::format("{} has no positive time with the kept kernels", path.string()), hint);
  return m;
}

std::vector<std::string> explain_gap(const Prediction& pred, const Measured& measured,
                                     const std::optional<Profile>& profile,
                                     const std::map<std::string, std::string>& type_of) {
  const double ratio = measured.speedup / pred.speedup;
  if (std::abs(ratio - 1.0) <= 0.05) return {};
  std::vector<std::string> why;
  if (profile && profile->wall_ms && profile->gpu_ms && *profile->wall_ms > 1.25 * *profile->gpu_ms) {
    why.push_back(fmt::format(
        "the model is host-bound: a step took {:.2f} ms of wall time for {:.2f} ms of GPU time, so shares of GPU "
        "time overstate what faster kernels buy, and each routed call adds host time of its own",
        *profile->wall_ms, *profile->gpu_ms));
  }
  if (!measured.left_to_pytorch.empty()) {
    why.push_back(fmt::format(
        "verify left some calls of {} to PyTorch, at the shapes where it timed PyTorch faster; the prediction "
        "counts each kernel's speed-up, measured at one shape, on all of its type's time",
        fmt::join(measured.left_to_pytorch, ", ")));
  }
  std::set<std::string> predicted_types;
  for (const auto& k : pred.kernels)
    if (k.share > 0 && k.speedup > 1) predicted_types.insert(type_of.contains(k.name) ? type_of.at(k.name) : k.name);
  for (const auto& u : measured.not_taken) {
    if (predicted_types.contains(u.name))
      why.push_back(
          fmt::format("{} ({:.1f}% of the time) took no call in the model: {}", u.name, 100 * u.share, u.why));
  }
  if (ratio > 1) {
    why.push_back(
        "the routes change the model beyond its kernels' speed-ups (a module of several kernels replaced by one "
        "call, attention handed `is_causal` instead of a materialised mask), a gain no kernel's speed-up counts");
  }
  if (why.empty()) {
    why.push_back(
        "each kernel's speed-up is its run's, at the profile's hottest shape of its type; the model calls it at "
        "others too, and the two timings carry their own noise");
  }
  return why;
}

}  // namespace ak::report
