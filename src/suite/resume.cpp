#include "suite/resume.hpp"

#include "suite/merge.hpp"
#include "util/fs.hpp"

namespace ak::suite {

using nlohmann::json;

Expected<Resumed> resume_from(const Plan& plan, const json& doc) {
  if (!doc.is_object() || !doc.contains("autokernel_suite") || !doc.contains("settings")) {
    return fail("not a document `autokernel suite --json` wrote");
  }
  const auto want = plan_settings(plan);
  for (const auto& [key, value] : want.items()) {
    const auto& have = doc["settings"].value(key, json());
    if (have != value) {
      return fail(fmt::format("it was written for a different run: its {} is {}, this run's is {}", key, have.dump(),
                              value.dump()),
                  "run with the same --types, --configs, --dtypes, --backends, --knob, --quick, --no-compile and "
                  "--kernels-dir as the run that wrote it, or drop --resume");
    }
  }
  Resumed r;
  const auto& baselines = doc.value("baselines", json());
  if (baselines.is_object() && baselines.value("done", false) && !baselines.contains("died")) r.baselines = baselines;
  const auto kernels = doc.value("kernels", json::array());  // one copy, not one per job
  for (const auto& job : plan.jobs) {
    for (const auto& k : kernels) {
      if (k.value("type", "") != job.type || k.value("backend", "") != job.backend || !k.contains("report")) continue;
      // A file changed since (the user fixed it, or tuned it): its result is stale, so it runs again.
      const auto text = util::read_file(job.path);
      if (!text || util::content_hash(*text) != k.value("file_hash", "")) break;
      KernelRun run{job, k.value("status", ""), k.value("message", ""), {}, k["report"], k.value("file_hash", "")};
      const auto knobs = k.value("knobs", json::object());
      for (const auto& [name, value] : knobs.items()) run.knobs[name] = value.get<std::string>();
      r.ours.push_back(std::move(run));
      break;
    }
  }
  return r;
}

}  // namespace ak::suite
