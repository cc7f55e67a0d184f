// `autokernel worker`: internal. The child process a bench starts for one candidate (see harness/worker.hpp).
#include "catalog/kernel_type.hpp"
#include "cli/commands.hpp"
#include "harness/worker.hpp"
#include "suite/configs.hpp"

namespace ak::cli {

namespace {

/// "LABEL=AxBxC", as bench.cpp writes it.
catalog::Shape parse_labelled_shape(const std::string& s) {
  const auto eq = s.find('=');
  auto dims = suite::parse_dims(s.substr(eq + 1));
  if (!dims) throw Fatal(Error{fmt::format("bad shape '{}': {}", s, dims.error().message)});
  return {s.substr(0, eq), *dims};
}

}  // namespace

Runner add_worker_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("worker", "internal: run one candidate in this process (started by bench)");
  cmd->group("");  // hidden from --help
  auto o = std::make_shared<harness::WorkerOptions>();
  auto knobs = std::make_shared<std::vector<std::string>>();
  auto shapes = std::make_shared<std::vector<std::string>>();
  auto timing_shapes = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--kernel", o->kernel_path)->required();
  cmd->add_option("--backend", o->backend);
  cmd->add_option("--knob", *knobs);
  cmd->add_flag("--quick", o->quick);
  cmd->add_flag("--no-timing{false}", o->timing);
  cmd->add_option("--dtype", o->timing_dtype);
  cmd->add_option("--timing-shapes", o->max_timing_shapes);
  cmd->add_option("--model-shape", *shapes, "LABEL=AxBxC");
  cmd->add_option("--timing-shape", *timing_shapes, "LABEL=AxBxC: time exactly these (repeatable)");
  cmd->add_option("--timing-dtype", o->timing_dtypes, "time in each of these (repeatable)");
  cmd->add_option("--max-speedup", o->max_speedup);
  return [o, knobs, shapes, timing_shapes] {
    o->knobs = parse_assignments(*knobs);
    for (const auto& s : *shapes) o->model_shapes.push_back(parse_labelled_shape(s));
    for (const auto& s : *timing_shapes) o->timing_shapes.push_back(parse_labelled_shape(s));
    return harness::run_worker(*o);
  };
}

}  // namespace ak::cli
