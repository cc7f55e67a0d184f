#include "suite/table.hpp"

#include "suite/configs.hpp"

namespace ak::suite {
namespace {

using nlohmann::json;

std::string ratio(const json& x) { return x.is_number() ? fmt::format("{:.2f}x", x.get<double>()) : "-"; }

/// Three significant digits or so, at any scale (GPU TFLOP/s and CPU GFLOP-sized rates alike).
std::string rate(double x) {
  if (x >= 100) return fmt::format("{:.0f}", x);
  if (x >= 10) return fmt::format("{:.1f}", x);
  if (x >= 0.1) return fmt::format("{:.2f}", x);
  return fmt::format("{:.2g}", x);
}

std::string summary_line(const std::string& what, const json& s) {
  std::string line = fmt::format("{}: ours ran {} of {}", what, s["ours_ok"].get<int>(), s["rows"].get<int>());
  const std::pair<const char*, const char*> names[] = {
      {"eager", "eager"}, {"compile", "torch.compile"}, {"library", "the library"}};
  for (const auto& [key, name] : names) {
    const auto& b = s[key];
    if (b["of"].get<int>() == 0) continue;
    line += fmt::format("; beats {} on {} of {} ({} geomean)", name, b["beats"].get<int>(), b["of"].get<int>(),
                        ratio(b["geomean"]));
  }
  return line;
}

std::string compile_mode(const json& settings) {
  if (!settings.value("compile", false)) return "not measured (--no-compile)";
  const auto& m = settings["compile_mode"];
  return m.is_string() ? m.get<std::string>() : "default";
}

}  // namespace

std::string format_table(const json& doc) {
  std::string out;
  const auto& ceiling = doc["ceiling"];
  out += fmt::format("device: {}   torch {}   torch.compile mode: {}   copy ceiling: {:.0f} GB/s\n",
                     doc["device"].value("name", "?"), doc.value("torch", "?"), compile_mode(doc["settings"]),
                     ceiling.value("copy_gb_s", 0.0));
  out += fmt::format("{:<16} {:<28} {:<5} {:<6} {:>10} {:>14} {:>7} {:>9} {:>10} {:>10}\n", "type", "config", "dtype",
                     "ours", "us", "throughput", "%ceil", "vs eager", "vs compile", "vs library");
  for (const auto& r : doc["rows"]) {
    const auto label = config_label(r["config"].get<std::string>(), r["dims"].get<std::vector<int64_t>>(), 28);
    if (!r["ours"].is_object()) {
      out += fmt::format("{:<16} {:<28} {:<5} {:<6} {:>10} {:>14} {:>7} {:>9} {:>10} {:>10}\n",
                         r["type"].get<std::string>(), label, r["dtype"].get<std::string>(), "FAILED", "-", "-", "-",
                         "-", "-", "-");
      continue;
    }
    const auto& o = r["ours"];
    out +=
        fmt::format("{:<16} {:<28} {:<5} {:<6} {:>10.2f} {:>14} {:>7} {:>9} {:>10} {:>10}\n",
                    r["type"].get<std::string>(), label, r["dtype"].get<std::string>(), o["backend"].get<std::string>(),
                    o["us"].get<double>(), rate(o["throughput"].get<double>()) + " " + r["metric"].get<std::string>(),
                    r["pct_of_ceiling"].is_number() ? fmt::format("{:.1f}%", r["pct_of_ceiling"].get<double>()) : "-",
                    ratio(r["speedup"]["eager"]), ratio(r["speedup"]["compile"]), ratio(r["speedup"]["library"]));
  }
  for (const auto& k : doc["kernels"]) {
    if (k["status"] != "passed")
      out += fmt::format("failed: {} {}: {}\n", k["type"].get<std::string>(), k["backend"].get<std::string>(),
                         k["message"].get<std::string>());
  }
  for (const auto& r : doc["rows"]) {
    for (const char* b : {"eager", "compile", "library"}) {
      if (r[b].is_object() && r[b].contains("error")) {
        out += fmt::format("baseline failed: {} {} {} {}: {}\n", r["type"].get<std::string>(),
                           r["config"].get<std::string>(), r["dtype"].get<std::string>(), b,
                           r[b]["error"].get<std::string>());
      }
    }
    if (r.contains("baseline_error")) {
      out +=
          fmt::format("baseline failed: {} {} {}: {}\n", r["type"].get<std::string>(), r["config"].get<std::string>(),
                      r["dtype"].get<std::string>(), r["baseline_error"].get<std::string>());
    }
  }
  for (const auto& type : doc["settings"]["types"]) {
    out += summary_line(type.get<std::string>(), doc["summary"]["types"][type.get<std::string>()]) + "\n";
  }
  out += summary_line("overall", doc["summary"]["overall"]) + "\n";
  out +=
      "us: median time of one call of our fastest correct backend (ours). throughput: GB/s (bytes a call must move) or "
      "TFLOP/s.\n%ceil: memory-bound types of the measured copy bandwidth; matmul of cuBLAS, flash_attention of SDPA "
      "flash, fused_mlp of eager, at the same shape.\nvs X: X's time / ours (above 1: ours is faster).\n";
  return out;
}

}  // namespace ak::suite
