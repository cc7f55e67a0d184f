// at::Tensor -> ak_tensor (kernels/include/autokernel/kernel_abi.h). Header-only: shared by the harness
// (backends/native.cpp) and the PyTorch operator library that exported kernels run through (torch_ops/).
#pragma once

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "autokernel/kernel_abi.h"

namespace ak::backends {

/// Throws std::invalid_argument for a dtype or rank the ABI has no code for.
inline ak_tensor to_abi(const at::Tensor& t) {
  ak_tensor a{};
  a.data = t.data_ptr();
  switch (t.scalar_type()) {
    case at::kHalf:
      a.dtype = AK_F16;
      break;
    case at::kBFloat16:
      a.dtype = AK_BF16;
      break;
    case at::kFloat:
      a.dtype = AK_F32;
      break;
    case at::kLong:
      a.dtype = AK_I64;
      break;
    default:
      throw std::invalid_argument("dtype " + std::string(c10::toString(t.scalar_type())) + " has no ABI code");
  }
  if (t.dim() > AK_MAX_DIMS) {
    throw std::invalid_argument("a tensor of " + std::to_string(t.dim()) + " dims exceeds AK_MAX_DIMS");
  }
  a.ndim = static_cast<int32_t>(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) {
    a.shape[i] = t.size(i);
    a.stride[i] = t.stride(i);
  }
  return a;
}

}  // namespace ak::backends
