#include "harness/stage_result.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace ak::harness {

std::string_view stage_status_name(StageStatus s) {
  switch (s) {
    case StageStatus::pass:
      return "pass";
    case StageStatus::fail:
      return "fail";
    case StageStatus::skip:
      return "skip";
  }
  return "?";
}

nlohmann::json StageResult::to_json() const {
  nlohmann::json j = {{"stage", stage}, {"name", name},       {"status", stage_status_name(status)},
                      {"cases", cases}, {"skipped", skipped}, {"seconds", seconds}};
  if (failed()) {
    j["failed_case"] = failed_case;
    j["message"] = message;
  }
  return j;
}

Expected<StageResult> StageResult::from_json(const nlohmann::json& j) {
  try {
    StageResult s;
    s.stage = j.at("stage").get<int>();
    s.name = j.value("name", "");
    const auto status = j.at("status").get<std::string>();
    const auto all = {StageStatus::pass, StageStatus::fail, StageStatus::skip};
    const auto it = std::ranges::find(all, status, stage_status_name);  // the names to_json writes
    if (it == all.end()) return fail(fmt::format("a stage result the worker sent has an unknown status '{}'", status));
    s.status = *it;
    s.cases = j.value("cases", 0);
    s.skipped = j.value("skipped", 0);
    s.failed_case = j.value("failed_case", "");
    s.message = j.value("message", "");
    s.seconds = j.value("seconds", 0.0);
    return s;
  } catch (const nlohmann::json::exception& e) {
    return fail(fmt::format("a stage result the worker sent is malformed: {}", e.what()));
  }
}

}  // namespace ak::harness
