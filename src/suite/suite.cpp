#include "suite/suite.hpp"

#include <algorithm>

#include "suite/baselines.hpp"
#include "suite/merge.hpp"
#include "util/fs.hpp"

namespace ak::suite {

Expected<nlohmann::json> run_suite(const Plan& plan, const std::function<void(const std::string&)>& print,
                                   const std::function<void(const nlohmann::json&)>& partial, const Resumed* resumed) {
  std::size_t configs = 0;
  for (const auto& [type, shapes] : plan.configs) configs += shapes.size();
  std::string backends;
  for (const auto& b : plan.backends) backends += (backends.empty() ? "" : ",") + b;
  print(fmt::format("suite: {} type{}, {} configuration{} x {} dtype{}; our backends: {}; baselines on the {}",
                    plan.types.size(), plan.types.size() == 1 ? "" : "s", configs, configs == 1 ? "" : "s",
                    plan.dtypes.size(), plan.dtypes.size() == 1 ? "" : "s", backends, plan.gpu ? "GPU" : "CPU"));
  Expected<nlohmann::json> baselines = resumed ? resumed->baselines : nlohmann::json();
  if (!baselines->is_null()) {
    print("baselines: kept from the earlier run");
  } else {
    // The child's request and result files: private to this run. Not named by pid alone: two suites
    // in different PID namespaces (a sandbox, CI's test runner) can share one pid and one /tmp.
    std::error_code ec;
    const auto work = std::filesystem::temp_directory_path(ec) / ("autokernel-suite-" + util::unique_suffix());
    std::filesystem::create_directories(work, ec);
    if (ec) return fail(fmt::format("cannot create {}: {}", work.string(), ec.message()));
    // The baselines first: a missing torch is found before the minutes our kernels take.
    print("baselines: PyTorch eager" + std::string(plan.request.compile ? ", torch.compile" : "") +
          ", libraries and the copy ceiling");
    baselines = run_baselines(plan, work, [&](const std::string& line) { print("baselines: " + line); });
    (void)util::remove_tree(work);
    if (!baselines) return std::unexpected(baselines.error());
  }
  if (baselines->contains("died")) {
    print(fmt::format("baselines: the process {} part way; the configurations after it have no baselines",
                      (*baselines)["died"].get<std::string>()));
  }
  std::vector<KernelRun> ours;
  for (const auto& job : plan.jobs) {
    if (resumed) {
      const auto kept = std::find_if(resumed->ours.begin(), resumed->ours.end(), [&](const KernelRun& r) {
        return r.job.type == job.type && r.job.backend == job.backend;
      });
      if (kept != resumed->ours.end()) {
        print(fmt::format("{} {}: kept from the earlier run ({})", job.type, job.backend, kept->status));
        ours.push_back(*kept);
        continue;
      }
    }
    if (partial) partial(merge(plan, ours, *baselines));  // the minutes each kernel takes are not lost
    ours.push_back(run_kernel(plan, job, print));
  }
  return merge(plan, ours, *baselines);
}

}  // namespace ak::suite
