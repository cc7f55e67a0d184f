// `autokernel report`: report.md, report.html and plots for a workspace's run (see report/report.hpp).
#include "cli/commands.hpp"
#include "report/report.hpp"

namespace ak::cli {

Runner add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "write the run's report: report.md, a self-contained report.html, plots");
  auto o = std::make_shared<report::ReportOptions>();
  auto workspace = std::make_shared<std::string>("workspace");
  auto out = std::make_shared<std::string>(), profile = std::make_shared<std::string>(),
       verify = std::make_shared<std::string>();
  auto no_plots = std::make_shared<bool>(false);
  cmd->add_option("--workspace", *workspace, "the run's folder")->capture_default_str();
  cmd->add_option("--out", *out, "where to write the report (default: <workspace>/report)");
  cmd->add_option("--tag", o->tag, "which run of the workspace (default: the latest)");
  cmd->add_option("--profile", *profile, "shares of model time (default: <workspace>/profile.json, if there)");
  cmd->add_option("--verify", *verify, "verify's measured result (default: <workspace>/verify.json, if there)");
  cmd->add_option(
      "--dtype", o->dtype,
      "the dtype the run timed in, if `run --dtype` named one (places kernels on the roofline; default: each "
      "kernel's model dtype, else f16, as the run chose)");
  cmd->add_flag("--no-plots", *no_plots, "write the report without plots (no Python needed)");
  return [o, workspace, out, profile, verify, no_plots] {
    o->workspace = *workspace;
    o->out = *out;
    o->profile = *profile;
    o->verify = *verify;
    o->plots = !*no_plots;
    const auto files = value_or_throw(report::write_report(*o));
    fmt::print("wrote {}\nwrote {}\n", files.markdown.string(), files.html.string());
    if (files.plots_problem.empty()) {
      fmt::print("wrote {} plots in {}\n", files.plots.size(), (files.markdown.parent_path() / "plots").string());
    } else {
      fmt::print("no plots: {}\n", files.plots_problem);
    }
    return k_exit_ok;
  };
}

}  // namespace ak::cli
