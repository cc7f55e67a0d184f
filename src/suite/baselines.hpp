// The baselines of a suite run, measured by a child Python process
// (python/autokernel_support/suite_baselines.py): PyTorch eager, torch.compile and the vendor library per
// configuration, and the copy ceiling once. This side writes its request, runs it and reads its result.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "suite/plan.hpp"

namespace ak::suite {

/// The torch.compile mode the suite measures on a GPU (on the CPU: torch's default).
inline constexpr std::string_view k_compile_mode = "max-autotune-no-cudagraphs";

/// Run the child; `print` gets its progress lines. The result is its JSON (`results`, `ceiling`, `torch`,
/// ...); `done` is false when it died part way (what it measured before is kept). An Error means it could
/// not run at all: no Python, no torch, no GPU for torch.
Expected<nlohmann::json> run_baselines(const Plan& plan, const std::filesystem::path& work_dir,
                                       const std::function<void(const std::string&)>& print);

/// The child's result for one configuration ({} when it has none).
nlohmann::json baseline_for(const nlohmann::json& baselines, const std::string& type, const std::string& label,
                            const std::string& dtype);

}  // namespace ak::suite
