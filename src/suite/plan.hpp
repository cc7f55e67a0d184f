// What one `autokernel suite` run measures, checked before anything runs: the types and their shapes, the
// dtypes, our backends and the kernel file of each (type, backend), knob overrides. Every mistake in the
// request is an Error here (the command's exit code 2), never a failed row later.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "suite/configs.hpp"
#include "util/resources.hpp"

namespace ak::suite {

struct SuiteRequest {
  std::vector<std::string> types;                           ///< empty: the types --configs names, else every type
  ConfigList configs;                                       ///< replaces the default shapes of the types it names
  std::vector<std::string> dtypes;                          ///< empty: default_dtypes()
  std::vector<std::string> backends;                        ///< empty: cuda,triton with a GPU, else cpu
  std::filesystem::path kernels_dir = util::kernels_dir();  ///< <dir>/<type>/{cuda.cu,triton.py,cpu.cpp}
  std::vector<std::string> knobs;                           ///< TYPE.BACKEND.NAME=VALUE
  bool quick = false;                                       ///< the quick stages only (1-2)
  bool compile = true;                                      ///< also time torch.compile
  std::chrono::seconds case_timeout{60};
  double max_speedup = 10;
};

/// One of our kernels to run: a type in one backend, from its file, with its knob overrides.
struct KernelJob {
  std::string type, backend;
  std::filesystem::path path;
  std::map<std::string, std::string> knobs;
};

struct Plan {
  bool gpu = false;  ///< a CUDA GPU is here: the baselines run on it
  std::vector<std::string> types;
  Configs configs;  ///< the shapes of every planned type
  std::vector<std::string> dtypes, backends;
  std::vector<KernelJob> jobs;  ///< per type, per backend
  SuiteRequest request;
};

/// Check the request and resolve its defaults. `gpu`: whether this machine has a CUDA GPU (the default
/// configs are GPU-sized and refused without one).
Expected<Plan> make_plan(const SuiteRequest& request, bool gpu);

/// The file a backend's kernel of a type has in a kernels directory: cuda.cu, triton.py or cpu.cpp.
std::filesystem::path kernel_file(const std::filesystem::path& kernels_dir, const std::string& type,
                                  const std::string& backend);

}  // namespace ak::suite
