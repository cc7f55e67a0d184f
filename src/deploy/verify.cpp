#include "deploy/verify.hpp"

#include <chrono>
#include <cstdlib>

#include "deploy/export.hpp"
#include "util/fs.hpp"
#include "util/python.hpp"
#include "util/json_child.hpp"
#include "util/resources.hpp"
#include "workspace/profile_json.hpp"

namespace ak::deploy {
namespace fs = std::filesystem;
namespace {

/// Fill what the request leaves empty from <workspace>/profile.json (what `autokernel profile` ran).
Expected<void> fill_from_profile(VerifyRequest& r) {
  const auto path = r.workspace / "profile.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (r.model.empty()) {
      return fail(fmt::format("no --model given, and {} has no profile.json to take it from", r.workspace.string()),
                  "give --model FILE.py:Class with --input-shape or --inputs, or run `autokernel profile` first");
    }
    return {};
  }
  auto text = util::read_file(path);
  if (!text) return std::unexpected(text.error());
  nlohmann::json p;
  try {
    p = nlohmann::json::parse(*text);
  } catch (const std::exception& e) {
    return fail(fmt::format("{} is not valid JSON: {}", path.string(), e.what()));
  }
  const auto m = p.value("meta", nlohmann::json::object());  // what the profile's model run recorded
  auto take = [&](std::string& field, const char* key) {
    if (field.empty() && m.contains(key) && m[key].is_string()) field = m[key].get<std::string>();
  };
  if (r.model.empty()) {
    // verify runs and times the model's forward over its inputs; a decode profile's step is another workload.
    if (workspace::is_decode_meta(m)) {
      return fail(
          fmt::format("{} is a decode profile (profile --decode); verify runs the full forward only", path.string()),
          "give --model and --input-shape (or --inputs) to verify the kept kernels on a forward pass");
    }
    take(r.model, "model");
    take(r.input_shape, "input_shape");
    take(r.inputs, "inputs_spec");
    if (m.contains("init_args") && m["init_args"].is_object() && !m["init_args"].empty())
      r.init_args = m["init_args"].dump();
  }
  take(r.dtype, "dtype");
  take(r.device, "device");
  if (r.model.empty()) return fail(fmt::format("{} names no model", path.string()), "give --model FILE.py:Class");
  return {};
}

}  // namespace

Expected<nlohmann::json> verify(const VerifyRequest& request, const std::function<void(const std::string&)>& print) {
  VerifyRequest r = request;
  r.workspace = fs::absolute(r.workspace);
  if (auto f = fill_from_profile(r); !f) return std::unexpected(f.error());
  if (r.dtype.empty()) r.dtype = "fp32";
  if (r.device.empty()) r.device = "cpu";

  const auto dir = r.workspace / ".autokernel" / "verify";
  print("exporting the kept kernels:");
  auto exported = export_package({r.workspace, dir, r.all}, print);
  if (!exported) return std::unexpected(exported.error());

  const auto out = r.workspace / "verify.json";
  if (auto rm = util::remove_tree(out); !rm) return std::unexpected(rm.error());
  std::vector<std::string> argv = {util::python_executable(),
                                   (util::python_support_dir() / "autokernel_support" / "verify_model.py").string(),
                                   "--package-dir",
                                   dir.string(),
                                   "--model",
                                   r.model,
                                   "--dtype",
                                   r.dtype,
                                   "--device",
                                   r.device,
                                   "--runs",
                                   std::to_string(r.runs),
                                   "--out",
                                   out.string()};
  if (!r.input_shape.empty()) argv.insert(argv.end(), {"--input-shape", r.input_shape});
  if (!r.inputs.empty()) argv.insert(argv.end(), {"--inputs", r.inputs});
  if (!r.init_args.empty()) argv.insert(argv.end(), {"--init-args", r.init_args});
  if (std::error_code ec; fs::exists(r.workspace / "profile.json", ec)) {
    argv.insert(argv.end(), {"--profile", (r.workspace / "profile.json").string()});  // names the uncovered time
  }
  if (!r.compile) argv.push_back("--no-compile");
  if (r.diagnose) argv.push_back("--diagnose");
  if (!r.inside_compile.empty()) argv.insert(argv.end(), {"--inside-compile", r.inside_compile});
  util::ProcessOptions po;
  po.quiet_limit = std::chrono::hours(1);  // torch.compile with max-autotune is silent for minutes
  po.total_limit = std::chrono::hours(4);
  po.extra_env = {"PYTHONUNBUFFERED=1"};
  auto parsed = util::run_json_child(argv, po, print, out, "model runner");
  if (!parsed) return std::unexpected(parsed.error());
  nlohmann::json report = std::move(parsed->doc);
  if (report.contains("error")) return fail(report["error"].get<std::string>(), report.value("hint", ""));
  return report;
}

}  // namespace ak::deploy
