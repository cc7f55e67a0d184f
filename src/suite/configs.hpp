// The suite's configurations: per kernel type, the shapes it is measured at (dims in the type's dims_doc
// order) and the dtypes. The defaults are GPU-sized; `--configs TYPE:DIMS,...` replaces them per type.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "catalog/shape.hpp"
#include "util/error.hpp"

namespace ak::suite {

/// Shapes per type name, in the order they are measured.
using Configs = std::map<std::string, std::vector<catalog::Shape>>;

/// What --configs gives: per type, in the order first named, its shapes.
struct TypeShapes {
  std::string type;
  std::vector<catalog::Shape> shapes;
};
using ConfigList = std::vector<TypeShapes>;

/// The default shapes of one type (LLaMA-7B-sized, plus an odd size where it matters).
std::vector<catalog::Shape> default_shapes(const std::string& type);
/// The dtypes the suite measures by default: the 16-bit ones models run in.
std::vector<std::string> default_dtypes();

/// "softmax:64x128,matmul:256x256x256": every type must exist and every shape have as many positive dims as
/// its dims_doc names, the bracketed ones optional, flags (attention's causal, rotary's style) 0 or 1, and
/// KernelType::dims_error empty (HKV divides H; rotary's D is even). Each shape's label is its dims ("64x128").
Expected<ConfigList> parse_configs(const std::string& text);

/// "softmax,rmsnorm": known type names, in the given order, without repeats.
Expected<std::vector<std::string>> parse_types(const std::string& text);

/// "8k_sq 8192x8192", or just the dims when they are the label (a --configs shape); just the label when both
/// exceed `width`.
std::string config_label(const std::string& label, const std::vector<int64_t>& dims, std::size_t width = 40);

/// `sep`-separated items, surrounding blanks trimmed; empty items dropped.
std::vector<std::string> split_list(const std::string& text, char sep = ',');

/// "64x128" -> {64, 128}: sizes joined by 'x' and nothing else (the inverse of catalog::shape_string).
/// The error says which piece is not a size, or that the text is not in that form.
Expected<std::vector<int64_t>> parse_dims(const std::string& text);

}  // namespace ak::suite
