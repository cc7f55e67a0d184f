// The suite's table, printed from the merged document (suite/merge.hpp): one line per (type, configuration,
// dtype), the kernels that failed and why, a summary per type and overall, and what the columns mean.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ak::suite {

std::string format_table(const nlohmann::json& doc);

}  // namespace ak::suite
