// `autokernel export`: a workspace's kept kernels as a Python package a model imports in production
// (python/autokernel_kernels/__init__.py: `import autokernel_kernels; autokernel_kernels.patch(model)`),
// carrying the compiled kernels, their sources, their knobs and the PyTorch operator that runs them.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ak::deploy {

inline constexpr std::string_view k_package_name = "autokernel_kernels";

struct ExportRequest {
  std::filesystem::path workspace = "workspace";
  std::filesystem::path out;  ///< the package is written to <out>/autokernel_kernels
  bool all = false;           ///< also kernels no faster than PyTorch at their measured shape
};

struct ExportedKernel {
  std::string name, type, backend;
  double speedup_vs_reference = 0;  ///< of its best row (0: never measured)
  bool included = false;
  std::string why;  ///< why it was left out
};

/// Write the package; `print` gets one line per kernel. Fails when no kernel is included.
Expected<std::vector<ExportedKernel>> export_package(const ExportRequest& request,
                                                     const std::function<void(const std::string&)>& print);

}  // namespace ak::deploy
