// The suite's table, printed from the merged document (suite/merge.hpp): one line per (type, configuration,
// dtype), the kernels that failed and why, a summary per type and overall, and what the columns mean.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ak::suite {

std::string format_table(const nlohmann::json& doc);

/// "8k_sq 8192x8192", or just the dims when they are the label; just the label when both exceed `width`.
std::string config_label(const std::string& label, const std::vector<int64_t>& dims, std::size_t width = 40);

}  // namespace ak::suite
