#include "suite/baselines.hpp"

#include "util/fs.hpp"
#include "util/python.hpp"
#include "util/json_child.hpp"
#include "util/resources.hpp"

namespace ak::suite {

Expected<nlohmann::json> run_baselines(const Plan& plan, const std::filesystem::path& work_dir,
                                       const std::function<void(const std::string&)>& print) {
  nlohmann::json request = {{"device", plan.gpu ? "cuda" : "cpu"},
                            {"compile", plan.request.compile},
                            {"compile_mode", plan.gpu ? nlohmann::json(k_compile_mode) : nlohmann::json(nullptr)},
                            {"configs", nlohmann::json::array()}};
  for (const auto& type : plan.types) {
    for (const auto& shape : plan.configs.at(type)) {
      for (const auto& dtype : plan.dtypes) {
        request["configs"].push_back({{"type", type}, {"label", shape.label}, {"dims", shape.dims}, {"dtype", dtype}});
      }
    }
  }
  const auto request_path = work_dir / "baselines_request.json", out = work_dir / "baselines.json";
  if (auto w = util::write_file_atomic(request_path, request.dump(1)); !w) return std::unexpected(w.error());
  if (auto rm = util::remove_tree(out); !rm) return std::unexpected(rm.error());
  const std::vector<std::string> argv = {
      util::python_executable(),
      (util::python_support_dir() / "autokernel_support" / "suite_baselines.py").string(),
      "--request",
      request_path.string(),
      "--out",
      out.string()};
  util::ProcessOptions po;
  po.quiet_limit = std::chrono::hours(1);  // max-autotune compiles silently for minutes
  po.total_limit = std::chrono::hours(8);
  po.extra_env = {"PYTHONUNBUFFERED=1"};
  auto parsed = util::run_json_child(argv, po, print, out, "baselines process");
  if (!parsed) return std::unexpected(parsed.error());
  nlohmann::json doc = std::move(parsed->doc);
  const auto& result = parsed->process;
  if (doc.contains("error")) return fail("baselines: " + doc["error"].get<std::string>(), doc.value("hint", ""));
  if (!doc.value("done", false)) {
    // It died part way (out of memory, a crash in a compiler): keep what it measured, say why.
    doc["died"] = result.signaled    ? fmt::format("killed by signal {}", result.signal)
                  : result.timed_out ? std::string("stopped: no output for an hour")
                                     : fmt::format("exited with code {}", result.exit_code);
  }
  return doc;
}

nlohmann::json baseline_for(const nlohmann::json& baselines, const std::string& type, const std::string& label,
                            const std::string& dtype) {
  for (const auto& r : baselines.value("results", nlohmann::json::array())) {
    if (r.value("type", "") == type && r.value("label", "") == label && r.value("dtype", "") == dtype) return r;
  }
  return nlohmann::json::object();
}

}  // namespace ak::suite
