// A child process that leaves one JSON document in a file (our Python helpers: verify, suite baselines).
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/process.hpp"

namespace ak::util {

struct JsonChildResult {
  nlohmann::json doc;     ///< what the child wrote to `out`
  ProcessResult process;  ///< how it ended
};

/// Run argv, streaming its stdout lines to on_line, then read and parse the JSON it wrote to `out`.
/// An error when it could not start, left no file (with how it ended and the tail of its stderr) or
/// wrote invalid JSON; `what` names the child in those messages. A document the child wrote about its
/// own failure ({"error": ...}) is returned as it is: what it means is the caller's to say.
Expected<JsonChildResult> run_json_child(const std::vector<std::string>& argv, const ProcessOptions& options,
                                         const std::function<void(const std::string&)>& on_line,
                                         const std::filesystem::path& out, std::string_view what);

}  // namespace ak::util
