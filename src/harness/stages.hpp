// The five correctness stages. Each case runs the candidate once (three times for determinism) on
// fresh inputs into poisoned outputs, and compares with the float64 oracle.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "catalog/kernel_type.hpp"

namespace ak::harness {

/// Stage numbers and names, as reported.
enum class Stage { smoke = 1, shape_sweep = 2, adversarial = 3, determinism = 4, edge_sizes = 5 };
std::string_view stage_name(Stage s);

using EventSink = std::function<void(const nlohmann::json&)>;

struct StageOptions {
  bool quick = false;                        ///< stages 1–2 only
  double max_case_cost = 0;                  ///< skip cases costlier than this (0: no limit); see KernelType::cost
  std::vector<catalog::Shape> model_shapes;  ///< the model's own shapes, checked first in stage 2
  std::vector<at::ScalarType> dtypes;        ///< empty: the type's own list
};

struct StagesOutcome {
  bool passed = true;
  int failed_stage = 0;  ///< 1..5, 0 when passed
  std::string failed_case;
  std::string message;
  bool device_lost = false;  ///< an asynchronous device fault: nothing more can run in this process
};

/// The outputs `p` prescribes, on `device`, uninitialised (callers poison them).
std::vector<at::Tensor> allocate_outputs(const catalog::Problem& p, const at::Device& device);

StagesOutcome run_stages(const catalog::KernelType& type, backends::LoadedKernel& kernel, const at::Device& device,
                         const StageOptions& options, const EventSink& emit);

}  // namespace ak::harness
