#include "workspace/profile_json.hpp"

#include <fmt/format.h>

#include "util/fs.hpp"

namespace ak::workspace {
namespace {

nlohmann::json shape_json(const ShapeUse& s) {
  nlohmann::json j = {{"label", s.label}, {"dims", s.dims},   {"dtype", s.dtype},    {"time_us", s.time_us},
                      {"share", s.share}, {"calls", s.calls}, {"modules", s.modules}};
  if (!s.note.empty()) j["note"] = s.note;
  return j;
}

}  // namespace

std::vector<const KernelUse*> ModelProfile::supported() const {
  std::vector<const KernelUse*> out;
  for (const auto& k : kernels) {
    if (k.supported) out.push_back(&k);
  }
  return out;
}

bool is_decode_meta(const nlohmann::json& meta) {
  return meta.is_object() && meta.contains("decode") && meta["decode"].is_object();
}

bool ModelProfile::is_decode() const { return is_decode_meta(meta); }

std::string ModelProfile::workload() const {
  if (!is_decode()) return "";
  const auto& d = meta["decode"];
  std::string out = fmt::format("decode step (batch {}, one new token each) after a {}-token prefill",
                                d.value("batch", 0), d.value("prefill", 0));
  const auto cache = d.value("cache_length", std::vector<int64_t>{});
  if (cache.size() == 2) {
    out += cache[0] == cache[1] ? fmt::format(", cache length {}", cache[0])
                                : fmt::format(", cache length {}..{}", cache[0], cache[1]);
  }
  return out;
}

nlohmann::json ModelProfile::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  int rank = 0;
  for (const auto& k : kernels) {
    nlohmann::json shapes_j = nlohmann::json::array();
    for (const auto& s : k.shapes) shapes_j.push_back(shape_json(s));
    rows.push_back({{"rank", ++rank},
                    {"name", k.name},
                    {"supported", k.supported},
                    {"time_us", k.time_us},
                    {"share", k.share},
                    {"calls", k.calls},
                    {"speedup_if_2x", k.speedup_if_2x()},
                    {"ops", k.ops},
                    {"gpu_kernels", k.gpu_kernels},
                    {"shapes", shapes_j}});
  }
  double supported_share = 0;
  for (const auto* k : supported()) supported_share += k->share;
  nlohmann::json j = {
      {"version", 1},
      {"meta", meta},
      {"basis", basis},
      {"basis_doc", basis == "gpu" ? "GPU time of every kernel, copy and fill, by the op that launched it"
                                   : "CPU time of the top-level ops, split among the supported ops inside them"},
      {"steps", steps},
      {"total_us", total_us},
      {"supported_share", supported_share},
      {"speedup_if_all_2x", 1.0 / (1.0 - supported_share / 2.0)},
      {"kernels", rows}};
  if (const auto w = workload(); !w.empty()) j["workload"] = w;  // for the reader; from_json reads meta's "decode"
  return j;
}

Expected<ModelProfile> ModelProfile::from_json(const nlohmann::json& j) {
  try {
    if (j.value("version", 0) != 1) return fail("unknown profile.json version", "run autokernel profile again");
    ModelProfile p;
    p.meta = j.value("meta", nlohmann::json::object());
    p.basis = j.at("basis").get<std::string>();
    p.steps = j.at("steps").get<int>();
    p.total_us = j.at("total_us").get<double>();
    for (const auto& r : j.at("kernels")) {
      KernelUse k;
      k.name = r.at("name").get<std::string>();
      k.supported = r.at("supported").get<bool>();
      k.time_us = r.at("time_us").get<double>();
      k.share = r.at("share").get<double>();
      k.calls = r.at("calls").get<double>();
      k.ops = r.value("ops", std::vector<std::string>{});
      k.gpu_kernels = r.value("gpu_kernels", std::vector<std::string>{});
      for (const auto& s : r.at("shapes")) {
        k.shapes.push_back({s.at("label").get<std::string>(), s.at("dims").get<std::vector<int64_t>>(),
                            s.at("dtype").get<std::string>(), s.at("time_us").get<double>(),
                            s.at("share").get<double>(), s.at("calls").get<double>(),
                            s.value("modules", std::vector<std::string>{}), s.value("note", "")});
      }
      p.kernels.push_back(std::move(k));
    }
    return p;
  } catch (const std::exception& e) {
    return fail(fmt::format("profile.json is malformed: {}", e.what()), "run autokernel profile again");
  }
}

Expected<std::optional<ModelProfile>> read_profile_json(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::nullopt;
  auto text = util::read_file(file);
  if (!text) return std::unexpected(text.error());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(*text);
  } catch (const std::exception& e) {
    return fail(fmt::format("{} is not valid JSON: {}", file.string(), e.what()), "run autokernel profile again");
  }
  auto p = ModelProfile::from_json(j);
  if (!p) return std::unexpected(p.error().context(file.string()));
  double total = 0;
  for (const auto& k : p->kernels) {
    if (!(k.share >= 0 && k.share <= 1)) {
      return fail(
          fmt::format("{}: the share of {} is {}, not a fraction of the model's time", file.string(), k.name, k.share),
          "run autokernel profile again");
    }
    total += k.share;
  }
  // A little slack for shares rounded when they were written.
  if (total > 1.001) {
    return fail(fmt::format("{}: the shares add up to {:.3f}, more than the whole model", file.string(), total),
                "run autokernel profile again");
  }
  return std::optional<ModelProfile>(std::move(*p));
}

}  // namespace ak::workspace
