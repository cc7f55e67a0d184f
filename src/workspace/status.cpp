#include "workspace/status.hpp"

#include <array>
#include <utility>

namespace ak::workspace {
namespace {

constexpr std::array<std::pair<Status, std::string_view>, 12> k_names = {{
    {Status::baseline, "baseline"},
    {Status::kept, "kept"},
    {Status::reverted, "reverted"},
    {Status::implausible, "implausible"},
    {Status::incorrect, "incorrect"},
    {Status::crashed, "crashed"},
    {Status::timed_out, "timed_out"},
    {Status::compile_failed, "compile_failed"},
    {Status::invalid, "invalid"},
    {Status::proposer_failed, "proposer_failed"},
    {Status::hand_reverted, "hand_reverted"},
    {Status::retimed, "retimed"},
}};

}  // namespace

std::string_view status_name(Status s) {
  for (const auto& [status, name] : k_names) {
    if (status == s) return name;
  }
  return "?";
}

std::optional<Status> parse_status(std::string_view name) {
  if (name == "error") return Status::invalid;  // its name before 2026-12-05
  for (const auto& [status, n] : k_names) {
    if (n == name) return status;
  }
  return std::nullopt;
}

bool is_code_failure(Status s) {
  return s == Status::incorrect || s == Status::crashed || s == Status::timed_out || s == Status::compile_failed;
}

bool counts_as_experiment(Status s) { return s != Status::retimed; }

bool counts_as_revert(Status s) {
  return counts_as_experiment(s) && s != Status::baseline && s != Status::kept && s != Status::proposer_failed;
}

}  // namespace ak::workspace
