// `autokernel extract`: from a workspace's profile.json, put the starter of each of the N hottest supported
// kernel types into the workspace (workspace/workspace add_kernel), with a model.json beside it holding the
// model's own shapes, dtype and share, so that the harness checks and times those shapes first and the
// loop orders kernels by their share of the model's time.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "profile/profile.hpp"
#include "workspace/model_json.hpp"
#include "util/error.hpp"
#include "util/resources.hpp"

namespace ak::profile {

inline constexpr std::string_view k_profile_file = workspace::k_profile_json_file;
/// Shapes handed to the harness per kernel: the heaviest few (each is checked in every dtype).
inline constexpr std::size_t k_model_shapes_kept = 4;

struct ExtractRequest {
  std::filesystem::path workspace = "workspace";
  int top = 5;
  std::string backend;                                   ///< cuda | triton | cpu; empty: cuda with a GPU, else cpu
  std::string tag = "run";                               ///< the branch the kernels are committed on (autokernel/<tag>)
  std::filesystem::path starters = util::kernels_dir();  ///< kernels/<type>/{cuda.cu,triton.py,cpu.cpp}
};

struct ExtractedKernel {
  std::string name;  ///< the workspace kernel, e.g. matmul_cuda
  const KernelUse* use = nullptr;
};

/// Extract; `print` gets one line per kernel. The profile is returned so callers can show it.
Expected<std::vector<ExtractedKernel>> extract(const ExtractRequest& request, const ModelProfile& profile,
                                               const std::function<void(const std::string&)>& print);

/// <workspace>/profile.json, read back.
Expected<ModelProfile> read_profile(const std::filesystem::path& workspace);

/// The model.json extract writes for one kernel type.
/// share_uncompiled: for a fusion's unfused form, its share when the model runs uncompiled (its own calls and
/// every chain it then stands in for); 0 for any other type.
workspace::ModelJson model_json(const KernelUse& use, const ModelProfile& profile, double share_uncompiled = 0);

}  // namespace ak::profile
