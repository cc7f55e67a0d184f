// `autokernel extract --top N`: the starters of the N hottest supported kernel types into the workspace,
// each with the model's own shapes beside it (see profile/extract.hpp).
#include "cli/commands.hpp"
#include "profile/extract.hpp"

namespace ak::cli {

Runner add_extract_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("extract",
                                 "put the hottest kernels of the profile into the workspace, with the model's shapes");
  auto r = std::make_shared<profile::ExtractRequest>();
  auto workspace = std::make_shared<std::string>("workspace");
  cmd->add_option("--workspace", *workspace, "the workspace holding profile.json")->capture_default_str();
  cmd->add_option("--top", r->top, "how many kernel types, hottest first")->capture_default_str();
  cmd->add_option("--backend", r->backend, "cuda | triton | cpu (default: cuda with a GPU, else cpu)");
  cmd->add_option("--tag", r->tag, "the run's branch autokernel/<tag>")->capture_default_str();
  return [r, workspace] {
    r->workspace = *workspace;
    auto prof = value_or_throw(profile::read_profile(r->workspace));
    auto print = [](const std::string& line) { fmt::print("{}\n", line); };
    auto got = value_or_throw(profile::extract(*r, prof, print));
    double share = 0;
    for (const auto& k : got) share += k.use->share;
    fmt::print(
        "extracted {} kernel{} covering {:.1f}% of the model's time ({}); if each became 2x faster the model "
        "would be {:.3f}x faster\n",
        got.size(), got.size() == 1 ? "" : "s", 100 * share, prof.basis == "gpu" ? "GPU time" : "CPU time",
        1.0 / (1.0 - share / 2.0));
    fmt::print("next: autokernel run --workspace {}\n", *workspace);
    return k_exit_ok;
  };
}

}  // namespace ak::cli
