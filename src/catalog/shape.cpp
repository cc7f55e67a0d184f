#include "catalog/shape.hpp"

namespace ak::catalog {

std::string shape_string(const std::vector<int64_t>& dims) {
  std::string s;
  for (auto d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

DimNames dim_names(std::string_view doc) {
  DimNames out;
  bool optional = false;
  std::string name;
  auto flush = [&] {
    if (name.empty()) return;
    out.names.push_back(name);
    if (!optional) out.required = out.names.size();
    name.clear();
  };
  for (char c : doc) {
    if (c == '[') {
      flush();
      optional = true;
    } else if (c == ',') {
      flush();
    } else if (c != ']' && c != ' ') {
      name += c;
    }
  }
  flush();
  return out;
}

std::optional<std::string_view> dtype_short_name(std::string_view s) {
  if (s == "f16" || s == "fp16" || s == "float16" || s == "half") return "f16";
  if (s == "bf16" || s == "bfloat16") return "bf16";
  if (s == "f32" || s == "fp32" || s == "float32" || s == "float") return "f32";
  return std::nullopt;
}

}  // namespace ak::catalog
