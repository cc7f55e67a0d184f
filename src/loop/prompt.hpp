// What both external proposers (a coding agent, an LLM endpoint) are told about a kernel, in one place: the
// playbook used when there is no program.md, the kernel's source in a fence its text cannot close, its knobs,
// where it stands, its last experiments and what was tried. Each proposer adds only its own part: the agent
// the file to edit and its rules, the LLM the reply format.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "loop/proposer.hpp"

namespace ak::loop::prompt {

inline constexpr std::size_t k_history_rows = 15;  // enough to see a trend; older rows only cost tokens
inline constexpr std::size_t k_tried = 60;         // rows and knob configurations listed as already tried

/// The essentials when there is no program.md: what the harness checks, the rules it enforces.
std::string_view fallback_playbook();

/// The code fence's language for a backend's files ("cuda", "python", "cpp").
std::string fence_language(const std::string& backend);

/// A fence of more backticks than any run of them in `source`, so the source cannot close it early.
std::string fence_for(const std::string& source);

/// Free text as one markdown table cell: one line, no column separators.
std::string cell(const std::string& s);

/// The kernel as Markdown sections: its current source, its knobs, the best so far, its last experiments
/// (oldest first) and what was already tried (rows and knob configurations).
std::string kernel_facts(const KernelState& s);

}  // namespace ak::loop::prompt
