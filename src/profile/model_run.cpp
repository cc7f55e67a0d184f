#include "profile/model_run.hpp"

#include <cstdlib>

#include "util/fs.hpp"
#include "util/python.hpp"
#include "util/process.hpp"
#include "util/resources.hpp"

namespace ak::profile {
namespace {

/// A model may compute silently for a long time (a large model on a CPU), but not forever.
constexpr auto k_model_run_limit = std::chrono::hours(1);

std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  const auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace

Expected<ModelRun> run_model(const ModelRunRequest& r) {
  std::error_code ec;
  std::filesystem::create_directories(r.out_dir, ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", r.out_dir.string(), ec.message()));
  ModelRun run{r.out_dir / "trace.json", {}};
  const auto meta_path = r.out_dir / "meta.json";
  for (const auto& old : {run.trace, meta_path}) {
    if (auto rm = util::remove_tree(old); !rm) return std::unexpected(rm.error());
  }
  std::vector<std::string> argv = {util::python_executable(),
                                   (util::python_support_dir() / "autokernel_support" / "profile_model.py").string(),
                                   "--model",
                                   r.model,
                                   "--dtype",
                                   r.dtype,
                                   "--device",
                                   r.device,
                                   "--warmup",
                                   std::to_string(r.warmup),
                                   "--iters",
                                   std::to_string(r.iters),
                                   "--trace",
                                   run.trace.string(),
                                   "--meta",
                                   meta_path.string()};
  if (!r.input_shape.empty()) argv.insert(argv.end(), {"--input-shape", r.input_shape});
  if (!r.inputs.empty()) argv.insert(argv.end(), {"--inputs", r.inputs});
  if (!r.init_args.empty()) argv.insert(argv.end(), {"--init-args", r.init_args});
  if (r.decode > 0) argv.insert(argv.end(), {"--decode", std::to_string(r.decode)});
  if (r.prefill > 0) argv.insert(argv.end(), {"--prefill", std::to_string(r.prefill)});
  util::ProcessOptions po;
  po.quiet_limit = k_model_run_limit;
  po.total_limit = k_model_run_limit;
  po.extra_env = {"PYTHONUNBUFFERED=1"};
  auto result = util::run_process(argv, po, [](const std::string&) {});  // the model's own prints
  if (!result) return std::unexpected(result.error().context("starting " + argv[0]));
  auto meta_text = util::read_file(meta_path);
  if (meta_text) {
    try {
      run.meta = nlohmann::json::parse(*meta_text);
    } catch (const std::exception&) {
      run.meta = nlohmann::json::object();
    }
  }
  if (run.meta.contains("error")) {
    return fail(run.meta["error"].get<std::string>(), run.meta.value("hint", ""));
  }
  if (result->timed_out) return fail(fmt::format("the model ran longer than {} min", k_model_run_limit.count() * 60));
  if (result->signaled || result->exit_code != 0 || !meta_text) {
    const auto why = result->signaled ? fmt::format("was killed by signal {}", result->signal)
                                      : fmt::format("exited with code {}", result->exit_code);
    return fail(fmt::format("the model runner {}: {}", why, last_line(result->stderr_tail)),
                fmt::format("is torch installed for {}? (AUTOKERNEL_PYTHON picks another Python)", argv[0]));
  }
  return run;
}

}  // namespace ak::profile
