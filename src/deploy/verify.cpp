#include "deploy/verify.hpp"

#include <algorithm>
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

constexpr int k_generate_at_least = 32;  // tokens a decode profile's generation check compares at least

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
    // A decode profile ranked the decode step: verify checks the forward over the prompt and generates from it.
    if (workspace::is_decode_meta(m)) {
      const auto& d = m["decode"];
      const int batch = d.value("batch", 1), prefill = d.value("prefill", 0), steps = d.value("steps", 0);
      if (batch < 1 || prefill < 1) {
        return fail(fmt::format("{} is a decode profile without its batch and prefill length", path.string()),
                    "profile again with `autokernel profile --decode N`");
      }
      if (r.input_shape.empty() && r.inputs.empty()) r.input_shape = fmt::format("{},{}", batch, prefill);
      if (r.generate == 0) r.generate = std::max(steps, k_generate_at_least);
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
  if (r.generate > 0 && !r.inputs.empty()) {
    return fail("--generate makes its prompt from --input-shape BATCH,LENGTH (token ids), not from --inputs",
                "give --input-shape instead of --inputs, or leave out --generate");
  }
  if (r.dtype.empty()) r.dtype = "fp32";
  if (r.device.empty()) r.device = "cpu";

  const auto dir = r.workspace / ".autokernel" / "verify";
  print("exporting the kept kernels:");
  // On a GPU every kernel that passed goes in: verify times each call shape, ours against PyTorch's, and each
  // call takes the faster (a kernel no faster at the harness's shape may win at others; and its routes alone
  // can change the graph for the better: transformers' attention without a materialised causal mask).
  auto exported = export_package({r.workspace, dir, r.all || r.device == "cuda"}, print);
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
  if (r.generate > 0) argv.insert(argv.end(), {"--generate", std::to_string(r.generate)});
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
