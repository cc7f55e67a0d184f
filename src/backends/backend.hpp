// Turning a candidate file into something the harness can call. One implementation per file:
// cpu_backend.cpp, cuda_backend.cpp, triton_backend.cpp; looked up by name in registry.cpp.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/candidate.hpp"
#include "util/error.hpp"

namespace ak::backends {

/// A candidate ready to run. Owned by the harness for the life of one worker process.
class LoadedKernel {
 public:
  virtual ~LoadedKernel() = default;
  /// Run once: read `inputs`, write every element of the preallocated `outputs`. Asynchronous on a GPU
  /// (work goes to the current stream); returns an error when the candidate reports one.
  virtual Expected<void> call(const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& outputs,
                              const std::vector<double>& scalars) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  /// The device a candidate of this backend runs on, here and now; an error when there is none
  /// (the cuda backend without a GPU).
  virtual Expected<at::Device> device() const = 0;

  /// Compile to a shared library that defines ak_kernel (through the content-hash cache), for code that
  /// loads it elsewhere (`autokernel export`). The triton backend has nothing to compile.
  virtual Expected<std::filesystem::path> build(const Candidate& c) {
    return fail(fmt::format("the {} backend builds no library", name()));
  }

  /// Compile (through the content-hash cache) and load. Compile errors come back with the
  /// compiler's own message.
  Expected<std::unique_ptr<LoadedKernel>> load(const Candidate& c) {
    auto r = do_load(c);
    if (!r) return std::unexpected(r.error().context(fmt::format("loading {}", c.path.filename().string())));
    return r;
  }

 private:
  virtual Expected<std::unique_ptr<LoadedKernel>> do_load(const Candidate& c) = 0;
};

/// "cuda", "triton" or "cpu"; an unknown name lists the known ones.
Expected<std::unique_ptr<Backend>> make_backend(std::string_view name);
std::vector<std::string> backend_names();

/// Is a CUDA GPU usable in this process? (Initialises CUDA: call only in a worker.)
bool cuda_available();

}  // namespace ak::backends
