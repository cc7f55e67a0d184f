// profile.json: where a model's time goes, by kernel type, as `autokernel profile` wrote it (profile/ makes
// a ModelProfile from a trace; extract ranks its rows into workspace kernels; report's Amdahl prediction
// reads its shares). One format, one reader, here.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ak::workspace {

inline constexpr std::string_view k_profile_json_file = "profile.json";

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

struct ModelProfile {
  nlohmann::json meta;             ///< what the model runner recorded: model, device, dtype, inputs...
  std::string basis;               ///< "gpu": GPU time of kernels, copies and fills; "cpu": CPU time of top-level ops
  int steps = 1;                   ///< profiled model steps; times are per step
  double total_us = 0;             ///< per step; the rows add up to it
  std::vector<KernelUse> kernels;  ///< ranked by share, supported or not

  /// The supported rows, ranked.
  std::vector<const KernelUse*> supported() const;
  /// Whether each step is one decode step against a KV cache (`profile --decode`: meta's "decode").
  bool is_decode() const;
  /// What a step is, for a decode profile: "decode step (batch 2, one new token each) after a 16-token prefill,
  /// cache length 16..18"; "" when a step is the model's forward on its inputs. to_json writes it as "workload".
  std::string workload() const;
  nlohmann::json to_json() const;
  static Expected<ModelProfile> from_json(const nlohmann::json& j);
};

/// Whether a profile's meta (what the model runner recorded) says each step was one decode step against a KV cache
/// (`profile --decode`: an object "decode"). The one test of it: ModelProfile and verify both ask here.
bool is_decode_meta(const nlohmann::json& meta);

/// The profile.json at `file`: nullopt when there is none; an error naming the file when it does not parse,
/// or when a row's share is not a fraction of the model's time or the shares add up to more than the whole.
Expected<std::optional<ModelProfile>> read_profile_json(const std::filesystem::path& file);

}  // namespace ak::workspace
