// `autokernel export`: the workspace's kept kernels as a package (see deploy/export.hpp).
#include "cli/commands.hpp"
#include "deploy/export.hpp"

namespace ak::cli {

Runner add_export_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("export", "write the kept kernels as a Python package: autokernel_kernels.patch(model)");
  auto r = std::make_shared<deploy::ExportRequest>();
  auto workspace = std::make_shared<std::string>("workspace");
  auto out = std::make_shared<std::string>("export");
  cmd->add_option("--workspace", *workspace, "the run's folder")->capture_default_str();
  cmd->add_option("--out", *out, "the package goes to OUT/autokernel_kernels")->capture_default_str();
  cmd->add_flag("--all", r->all, "also kernels no faster than PyTorch at their measured shape");
  return [r, workspace, out] {
    r->workspace = *workspace;
    r->out = *out;
    fmt::print("exporting {}:\n", r->workspace.string());
    const auto kernels =
        value_or_throw(deploy::export_package(*r, [](const std::string& l) { fmt::print("{}\n", l); }));
    int n = 0;
    for (const auto& k : kernels) n += k.included;
    const auto pkg = std::filesystem::absolute(r->out) / deploy::k_package_name;
    fmt::print(
        "wrote {} ({} kernel{})\nuse it:\n  import sys; sys.path.insert(0, \"{}\")\n"
        "  import autokernel_kernels; autokernel_kernels.patch(model)\n",
        pkg.string(), n, n == 1 ? "" : "s", pkg.parent_path().string());
    return k_exit_ok;
  };
}

}  // namespace ak::cli
