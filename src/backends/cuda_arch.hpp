// The nvcc command line for a target architecture; shared by the cuda backend and compile-only checks.
#pragma once

#include <string>

#include "backends/native.hpp"

namespace ak::backends {
/// "90a" from the current device, or $AUTOKERNEL_CUDA_ARCH; an error when neither exists.
Expected<std::string> cuda_arch_for_build();
/// nvcc and its flags for `arch` ("90a", "80").
Expected<native::CompileSpec> nvcc_spec(const std::string& arch);
}  // namespace ak::backends
