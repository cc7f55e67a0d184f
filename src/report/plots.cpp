#include "report/plots.hpp"

#include <chrono>

#include "util/fs.hpp"
#include "util/python.hpp"
#include "util/process.hpp"
#include "util/resources.hpp"

namespace ak::report {
namespace {

constexpr int k_exit_no_matplotlib = 3;  // report_plots.py's EXIT_NO_MATPLOTLIB
constexpr const char* k_install =
    "install it with `python3 -m pip install matplotlib` (or `bash scripts/install_deps.sh`)";

}  // namespace

PlotsResult draw_plots(nlohmann::json spec, const std::filesystem::path& dir) {
  PlotsResult out;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  for (auto& p : spec["plots"]) p["out"] = (dir / p["out"].get<std::string>()).string();
  const auto spec_path = dir / "plots.json";
  if (auto w = util::write_file_atomic(spec_path, spec.dump(1)); !w) {
    out.problem = w.error().message;
    return out;
  }
  const auto python = util::python_executable();
  const auto script = util::python_support_dir() / "autokernel_support" / "report_plots.py";
  util::ProcessOptions opts;
  opts.quiet_limit = std::chrono::minutes(2);  // one line per file written; a first import of matplotlib is slow
  opts.total_limit = std::chrono::minutes(10);
  std::string lines;
  auto r = util::run_process({python, script.string(), spec_path.string()}, opts, [&](const std::string& line) {
    if (line.starts_with("wrote ")) out.files.emplace_back(line.substr(6));
    lines += line + "\n";
  });
  if (!r) {
    out.problem = r.error().message;
  } else if (r->exit_code == k_exit_no_matplotlib) {
    out.problem = fmt::format("matplotlib is not installed for {}; {}", python, k_install);
  } else if (r->timed_out || r->signaled || r->exit_code != 0) {
    auto tail = r->stderr_tail;
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    if (auto nl = tail.rfind('\n'); nl != std::string::npos) tail = tail.substr(nl + 1);  // the exception's line
    out.problem = fmt::format("drawing them failed ({}): {}",
                              r->timed_out  ? "timed out"
                              : r->signaled ? fmt::format("signal {}", r->signal)
                                            : fmt::format("exit code {}", r->exit_code),
                              tail);
  } else {
    out.drawn = true;
  }
  return out;
}

}  // namespace ak::report
