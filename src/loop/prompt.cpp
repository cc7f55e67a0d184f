#include "loop/prompt.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace ak::loop::prompt {

std::string_view fallback_playbook() {
  return R"(You optimise one kernel for autokernel. Each experiment proposes one candidate: the complete new
source file. A fixed harness builds it, checks every output against a float64 PyTorch reference over many
shapes, the dtypes f16/bf16/f32, adversarial inputs and edge sizes, checks that it is deterministic and
leaves its inputs untouched, then times it. A correct candidate measurably faster than the best so far is
kept; anything else is reverted. Aim for the roofline: a memory-bound kernel at the measured copy
bandwidth, a compute-bound one at the matmul ceiling. Rules: keep the `@autokernel type=` line and the entry
point with its calling convention (`extern "C" int ak_kernel(const ak_call*)` for CUDA and CPU,
`kernel_fn(inputs, outputs, scalars)` for Triton); write every output element; no files, no network, no
global state between calls. Tunables are `@knob NAME=default {v1,v2,...} description` comment lines; the
defaults are what gets built.
)";
}

std::string fence_language(const std::string& backend) {
  if (backend == "cuda") return "cuda";
  if (backend == "triton") return "python";
  return "cpp";
}

std::string fence_for(const std::string& source) {
  std::size_t longest = 0, run = 0;
  for (const char c : source) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else {
      out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
  }
  return out;
}

std::string kernel_facts(const KernelState& s) {
  const auto& c = s.best;
  const auto fence = fence_for(c.source);
  std::string out = fmt::format("\n## Its current source\n\n{}{}\n{}{}{}\n", fence, fence_language(c.backend), c.source,
                                c.source.ends_with('\n') ? "" : "\n", fence);

  if (c.knobs.empty()) {
    out += "\nIt declares no knobs.\n";
  } else {
    out += "\n## Its knobs\n\n| knob | value | choices | what |\n|---|---|---|---|\n";
    for (const auto& k : c.knobs) {
      std::string choices;
      for (const auto& v : k.values) choices += (choices.empty() ? "" : ", ") + v;
      const auto it = c.knob_values.find(k.name);
      out += fmt::format("| {} | {} | {} | {} |\n", k.name, it != c.knob_values.end() ? it->second : k.default_value,
                         choices, cell(k.description));
    }
  }

  out += "\n## Where it stands\n\n";
  if (const auto* best = best_row(s.history, s.name)) {
    out += fmt::format(
        "Best so far (experiment {}, {}): {:.2f} us, {:.3f}x the PyTorch op, {:.4g} {} = {:.1f}% of "
        "the measured ceiling ({}-bound).\n",
        best->experiment, status_name(best->status), best->latency_us, best->speedup_vs_reference, best->throughput,
        best->throughput_unit, best->pct_of_ceiling, best->throughput_unit == "GB/s" ? "memory" : "compute");
  } else {
    out += "Not measured yet.\n";
  }

  if (!s.history.empty()) {
    const auto from = s.history.size() > k_history_rows ? s.history.size() - k_history_rows : 0;
    out += fmt::format(
        "\n## Its last experiments (oldest first{})\n\n"
        "| experiment | status | latency_us | speedup_vs_reference | pct_of_ceiling | description |\n"
        "|---|---|---|---|---|---|\n",
        from > 0 ? fmt::format("; the last {} of {}", k_history_rows, s.history.size()) : "");
    for (auto i = from; i < s.history.size(); ++i) {
      const auto& r = s.history[i];
      out += fmt::format("| {} | {} | {:.2f} | {:.3f} | {:.1f} | {} |\n", r.experiment, status_name(r.status),
                         r.latency_us, r.speedup_vs_reference, r.pct_of_ceiling, cell(r.description));
    }
    out += "\n## Already tried (do not repeat these)\n\n";
    const auto tried_from = s.history.size() > k_tried ? s.history.size() - k_tried : 0;
    for (auto i = tried_from; i < s.history.size(); ++i) {
      const auto& r = s.history[i];
      out += fmt::format("- experiment {} ({}{}): {}\n", r.experiment, status_name(r.status),
                         r.config.empty() ? "" : ", knobs " + r.config, cell(r.description));
    }
  }
  if (!s.tried_configs.empty()) {
    out += "\nKnob configurations already measured (repeating one gains nothing): ";
    std::size_t n = 0;
    for (const auto& config : s.tried_configs) {
      if (n == k_tried) {
        out += fmt::format("; and {} more", s.tried_configs.size() - k_tried);
        break;
      }
      out += fmt::format("{}{}", n++ ? "; " : "", config.empty() ? "(no knobs)" : config);
    }
    out += "\n";
  }
  return out;
}

}  // namespace ak::loop::prompt
