// Agent-driven mode: an outside agent edits a workspace kernel, then asks `autokernel keep` to judge the
// edit as one experiment (commit, five stages, timing, kept only if correct and faster beyond the noise,
// else reverted) or `autokernel revert` to drop it. Same primitives, same rules as `autokernel run`.
#include "backends/candidate.hpp"
#include "cli/commands.hpp"
#include "loop/experiment.hpp"
#include "workspace/workspace.hpp"
#include "util/fs.hpp"

namespace ak::cli {
namespace {

struct Args {
  std::string workspace = "workspace", tag = "run", kernel, description, dtype;
  int case_timeout_s = 60;
};

void add_common(CLI::App* cmd, Args& a) {
  cmd->add_option("--workspace", a.workspace, "the run's folder")->capture_default_str();
  cmd->add_option("--tag", a.tag, "the run's tag (branch autokernel/<tag>)")->capture_default_str();
  cmd->add_option("--kernel", a.kernel, "the workspace kernel's name, e.g. rmsnorm_cuda")->required();
  cmd->add_option("--description", a.description, "one line: what the edit changed and why");
}

void print_row(const workspace::ResultRow& r) {
  fmt::print("[exp {}] {} {}: {:.2f} us, {:.3f}x torch | {}\n", r.experiment, r.kernel, r.status, r.latency_us,
             r.speedup_vs_reference, r.description);
}

}  // namespace

Runner add_keep_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("keep", "judge a hand (or agent) edit of a workspace kernel as one experiment");
  auto a = std::make_shared<Args>();
  add_common(cmd, *a);
  cmd->add_option("--dtype", a->dtype, "dtype the kernel is timed in (default: the model's, from extract; else f16)")
      ->check(timing_dtype());
  cmd->add_option("--case-timeout", a->case_timeout_s, "seconds without progress before a case is a hang")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return [a] {
    auto ws = value_or_throw(
        workspace::Workspace::open(a->workspace, a->tag, [](const std::string& l) { fmt::print("{}\n", l); }));
    const auto k = value_or_throw(ws->kernel(a->kernel));
    const auto changed = value_or_throw(ws->repo().changed_paths());
    if (std::find(changed.begin(), changed.end(), k.file.string()) == changed.end()) {
      throw Fatal(Error{fmt::format("nothing to keep: {} is unchanged since its last kept version", k.file.string()),
                        "edit the file first, then run `autokernel keep` again"});
    }
    const auto edited = value_or_throw(util::read_file(ws->dir() / k.file));
    loop::BenchSettings settings;
    settings.dtype = a->dtype;
    settings.case_timeout_s = a->case_timeout_s;
    if (!ws->best(k.name)) {
      // No baseline yet: measure the committed version first, then judge the edit against it.
      value_or_throw(ws->repo().discard(k.file.string()));
      print_row(value_or_throw(loop::run_baseline(*ws, k, settings)));
    }
    auto knobs = backends::parse_knobs(edited);
    auto config = knobs ? [&] {
      std::map<std::string, std::string> v;
      for (const auto& kn : *knobs) v[kn.name] = kn.default_value;
      return backends::config_string(v);
    }()
                        : std::string();
    const auto row = value_or_throw(
        loop::run_experiment(*ws, k, edited, a->description.empty() ? "hand edit" : a->description, config, settings));
    print_row(row);
    return row.status == workspace::Status::kept ? k_exit_ok : k_exit_rejected;
  };
}

Runner add_revert_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("revert", "drop the uncommitted edit of a workspace kernel, and log it");
  auto a = std::make_shared<Args>();
  add_common(cmd, *a);
  return [a] {
    auto ws = value_or_throw(
        workspace::Workspace::open(a->workspace, a->tag, [](const std::string& l) { fmt::print("{}\n", l); }));
    const auto k = value_or_throw(ws->kernel(a->kernel));
    const auto changed = value_or_throw(ws->repo().changed_paths());
    if (std::find(changed.begin(), changed.end(), k.file.string()) == changed.end()) {
      throw Fatal(Error{fmt::format("nothing to revert: {} is unchanged since its last kept version", k.file.string()),
                        "`autokernel revert` drops an edit that is not wanted; there is none"});
    }
    print_row(value_or_throw(ws->record_revert(k, a->description.empty() ? "dropped the edit" : a->description)));
    return k_exit_ok;
  };
}

}  // namespace ak::cli
