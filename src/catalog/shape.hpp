// Problem sizes and dtype names as every part names them, without ATen: a Shape ("large", {8192, 4096}),
// its "8192x4096" spelling, the names a type's dims_doc gives its dims, and a dtype's short name. Profile,
// extract, the workspace, report and suite need no more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ak::catalog {

/// A problem size. `dims` mean what the type's dims_doc() says (matmul: M,N,K).
struct Shape {
  std::string label;  ///< "large", "llama7b_qkv", "edge_1023"...
  std::vector<int64_t> dims;
};

/// "8192x4096".
std::string shape_string(const std::vector<int64_t>& dims);

/// The names in a dims_doc, "B,H,S,D,causal[,HKV]" -> {B, H, S, D, causal, HKV}, and how many of them a
/// shape must give: those before the first bracketed (optional) one.
struct DimNames {
  std::vector<std::string> names;
  std::size_t required = 0;
};
DimNames dim_names(std::string_view dims_doc);

/// The short name of a floating dtype the kernels are timed in ("fp16", "half" -> "f16"; "bfloat16" ->
/// "bf16"; "float" -> "f32"), or nullopt for a name no kernel type takes.
std::optional<std::string_view> dtype_short_name(std::string_view name);

}  // namespace ak::catalog
