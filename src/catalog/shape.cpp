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

}  // namespace ak::catalog
