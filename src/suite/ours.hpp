// Our kernels in a suite run: each (type, backend) kernel file through the harness (harness::run_bench, in its
// worker process): the correctness stages first, then every configuration's shape in every dtype, each timed
// call checked as in `autokernel bench`. A kernel that is missing, does not compile or fails a stage is a
// result too (its rows say why); the suite goes on.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "harness/timing_result.hpp"
#include "suite/plan.hpp"

namespace ak::suite {

struct KernelRun {
  KernelJob job;
  std::string
      status;  ///< "passed", or why not: a harness outcome ("incorrect", "compile_failed", ...), "missing", "error"
  std::string message;                       ///< what went wrong, for the rows ("" when passed)
  std::map<std::string, std::string> knobs;  ///< every knob's value as run: the file's defaults and the overrides
  nlohmann::json report = nlohmann::json::object();  ///< BenchReport::to_json(), when the harness ran
  std::string file_hash;  ///< util::content_hash of the kernel file as it ran ("" when there was none)

  bool passed() const { return status == "passed"; }
  /// Its timing of one configuration, read from the report (nullopt when none, or when it does not parse).
  std::optional<harness::TimingResult> timing(const std::string& label, const std::string& dtype) const;
};

/// Run one job; `print` gets progress lines.
KernelRun run_kernel(const Plan& plan, const KernelJob& job, const std::function<void(const std::string&)>& print);

}  // namespace ak::suite
