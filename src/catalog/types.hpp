// Factories of the kernel types, one per file in this folder.
#pragma once

#include <memory>

#include "catalog/kernel_type.hpp"

namespace ak::catalog {
std::unique_ptr<KernelType> make_matmul();
std::unique_ptr<KernelType> make_softmax();
std::unique_ptr<KernelType> make_layernorm();
std::unique_ptr<KernelType> make_rmsnorm();
std::unique_ptr<KernelType> make_cross_entropy();
std::unique_ptr<KernelType> make_rotary_embedding();
std::unique_ptr<KernelType> make_reduce();
std::unique_ptr<KernelType> make_flash_attention();
std::unique_ptr<KernelType> make_fused_mlp();
std::unique_ptr<KernelType> make_add_rmsnorm();
std::unique_ptr<KernelType> make_skinny_gemm();
std::unique_ptr<KernelType> make_gelu();
std::unique_ptr<KernelType> make_decode_attention();
}  // namespace ak::catalog
