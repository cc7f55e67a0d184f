#include "util/json_child.hpp"

#include <fmt/format.h>

#include "util/fs.hpp"

namespace ak::util {

Expected<JsonChildResult> run_json_child(const std::vector<std::string>& argv, const ProcessOptions& options,
                                         const std::function<void(const std::string&)>& on_line,
                                         const std::filesystem::path& out, std::string_view what) {
  auto result = run_process(argv, options, on_line);
  if (!result) return std::unexpected(result.error().context("starting " + argv.at(0)));
  auto text = read_file(out);
  if (!text) {
    return fail(fmt::format("the {} stopped without a result ({}): {}", what,
                            result->signaled ? fmt::format("signal {}", result->signal)
                                             : fmt::format("exit code {}", result->exit_code),
                            result->stderr_tail),
                fmt::format("is torch installed for {}? (AUTOKERNEL_PYTHON picks another Python)", argv.at(0)));
  }
  try {
    return JsonChildResult{nlohmann::json::parse(*text), *result};
  } catch (const std::exception& e) {
    return fail(fmt::format("{} is not valid JSON: {}", out.string(), e.what()));
  }
}

}  // namespace ak::util
