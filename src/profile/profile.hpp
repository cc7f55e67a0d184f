// Where a model's time goes, by kernel type: the analysis of one torch.profiler trace. Every piece of
// time is attributed through the operator (or the module scope) that launched it, to one of our
// kernel types with the model's own shapes and dtypes, or to the unsupported op it came from, so the
// rows of a profile add up to its measured total. This is what profile.json holds.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "profile/trace.hpp"
#include "util/error.hpp"

namespace ak::profile {

/// One distinct problem size of a kernel type in the model.
struct ShapeUse {
  std::string label;                 ///< "model_1", "model_2"... by time, heaviest first
  std::vector<int64_t> dims;         ///< in the type's dims (catalog KernelType::dims_doc)
  std::string dtype;                 ///< "f16", "bf16", "f32"
  double time_us = 0;                ///< per step [us]
  double share = 0;                  ///< of the profile's total, 0..1
  double calls = 0;                  ///< per step
  std::vector<std::string> modules;  ///< where in the model (the first few module paths)
  std::string note;                  ///< how the shape was read, when not plainly
};

/// One row of the ranking: a kernel type, or an operator none of our types covers.
struct KernelUse {
  std::string name;  ///< the type ("matmul"), or the op ("aten::gelu") when unsupported
  bool supported = false;
  double time_us = 0;                    ///< per step [us]
  double share = 0;                      ///< of the profile's total, 0..1
  double calls = 0;                      ///< per step
  std::vector<std::string> ops;          ///< the ops or module classes attributed to it
  std::vector<std::string> gpu_kernels;  ///< the heaviest GPU kernels it launched (CUDA traces)
  std::vector<ShapeUse> shapes;          ///< supported only; heaviest first

  /// Amdahl: the whole model's speed-up if this row alone ran 2x faster.
  double speedup_if_2x() const { return 1.0 / (1.0 - share / 2.0); }
};

/// Rows that are not an op: GPU work launched outside any op, and GPU work the trace does not link.
inline constexpr std::string_view k_no_op_row = "(outside any aten op)";
inline constexpr std::string_view k_unlinked_row = "(launch not in the trace)";

struct ModelProfile {
  nlohmann::json meta;             ///< what the model runner recorded: model, device, dtype, inputs...
  std::string basis;               ///< "gpu": GPU time of kernels, copies and fills; "cpu": CPU time of top-level ops
  int steps = 1;                   ///< profiled model steps; times are per step
  double total_us = 0;             ///< per step; the rows add up to it
  std::vector<KernelUse> kernels;  ///< ranked by share, supported or not

  /// The supported rows, ranked.
  std::vector<const KernelUse*> supported() const;
  nlohmann::json to_json() const;
  static Expected<ModelProfile> from_json(const nlohmann::json& j);
};

/// Attribute every piece of the trace's time and rank the result. `meta` is kept as is.
Expected<ModelProfile> analyze(const Trace& trace, const nlohmann::json& meta);

/// The ranked table `autokernel profile` prints, with the Amdahl estimate per row.
std::string ranking_table(const ModelProfile& profile, int max_rows = 25);

}  // namespace ak::profile
