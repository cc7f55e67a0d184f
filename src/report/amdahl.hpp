// The report's end-to-end numbers: the speed-up Amdahl's law predicts from each kernel's share of the
// model's time and its own speed-up, and the one `verify` measured, when it has run.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ak::report {

/// Shares of the model's time, from profile.json's rows (workspace/profile_json reads it). A share is a
/// fraction of the whole model's time (0..1]; what the rows leave is time in other ops. A name is a kernel
/// type's ("rmsnorm", for every backend of it) or a workspace kernel's ("rmsnorm_cuda").
struct Profile {
  std::map<std::string, double> share_by_name;
  /// Per step, when profile.json says: the wall time the model runner measured, and the rows' total where
  /// they are GPU time. Wall well above GPU time: the model is host-bound.
  std::optional<double> wall_ms, gpu_ms;
};
/// nullopt when the file does not exist; an error when it exists but is not a profile.
Expected<std::optional<Profile>> read_profile(const std::filesystem::path& path);

/// One kernel's part of the prediction.
struct KernelShare {
  std::string name;
  double share = 0;    ///< of the model's time, 0..1
  double speedup = 1;  ///< what the model gains in that share: the best version vs PyTorch eager, at least 1
  std::string note;    ///< why its share or speed-up is what it is, when that needs saying
};

struct Prediction {
  bool from_profile = false;  ///< false: equal shares, the model assumed to be only these kernels
  std::vector<KernelShare> kernels;
  double other_share = 0;  ///< time outside the workspace's kernels, unchanged
  double speedup = 1;      ///< 1 / (other + sum share / speedup)
};

/// `speedups`: workspace kernel -> its best version's speed-up over PyTorch eager. A kernel slower than
/// eager counts as 1 (the model keeps the eager op). Without a profile every kernel gets an equal share.
Prediction predict(const std::map<std::string, double>& speedups, const std::map<std::string, std::string>& type_of,
                   const std::optional<Profile>& profile);

/// What `verify` measured, from verify.json: {"speedup": 1.31, "outputs_match": true, "eager_ms": 12.0,
/// "optimized_ms": 9.2}. "speedup" may be left out when both times are given; the rest is optional.
struct Measured {
  double speedup = 0;
  std::optional<bool> outputs_match;
  std::optional<double> eager_ms, optimized_ms, compiled_ms;  ///< compiled: torch.compile of the original
  std::vector<std::string> left_to_pytorch;                   ///< ops some of whose call shapes verify left to PyTorch
  struct NotTaken {
    std::string name;  ///< a kernel type, or an op no type covers
    double share = 0;  ///< of the model's time
    std::string why;
  };
  std::vector<NotTaken> not_taken;  ///< verify's "uncovered": profile rows no kernel took, and why
};

/// Where the measured speed-up is more than 5% from the predicted one: the reasons the profile and verify.json
/// show (a host-bound model, calls left to PyTorch by shape, a kernel type that took no call, routes that
/// changed the model beyond its kernels), else the general one; empty where they agree. `type_of`: workspace
/// kernel -> its type.
std::vector<std::string> explain_gap(const Prediction& pred, const Measured& measured,
                                     const std::optional<Profile>& profile,
                                     const std::map<std::string, std::string>& type_of);
/// nullopt when the file does not exist; an error when it exists but is not a profile.
Expected<std::optional<Measured>> read_verify(const std::filesystem::path& path);

}  // namespace ak::report
