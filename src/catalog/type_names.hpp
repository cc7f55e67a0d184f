// The kernel types' names, without ATen: for hints in parts that do not run kernels.
#pragma once

#include <string>

namespace ak::catalog {

/// "matmul, softmax, ...": every type in the catalogue, in its order.
std::string type_names();

}  // namespace ak::catalog
