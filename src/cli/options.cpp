// What several commands' options share: NAME=value lists and the dtype check.
#include "catalog/kernel_type.hpp"
#include "cli/commands.hpp"

namespace ak::cli {

std::map<std::string, std::string> parse_assignments(const std::vector<std::string>& items) {
  std::map<std::string, std::string> out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Fatal(Error{fmt::format("expected NAME=value, got '{}'", item)});
    }
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

CLI::Validator timing_dtype() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        auto d = catalog::parse_dtype(s);
        return d ? "" : d.error().message;
      },
      "DTYPE");
}

}  // namespace ak::cli
