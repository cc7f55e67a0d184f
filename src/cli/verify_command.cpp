// `autokernel verify`: the kept kernels swapped into the model, its outputs checked and timed (see
// deploy/verify.hpp). Exit 0: the outputs match; 1: they do not; 2: it could not run.
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "deploy/verify.hpp"

namespace ak::cli {

Runner add_verify_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("verify", "swap the kept kernels into the model: check its outputs, time it");
  auto r = std::make_shared<deploy::VerifyRequest>();
  auto workspace = std::make_shared<std::string>("workspace");
  cmd->add_option("--workspace", *workspace, "the run's folder")->capture_default_str();
  cmd->add_option("--model", r->model, "FILE.py:Class or hf:NAME (default: the one profile.json names)");
  cmd->add_option("--input-shape", r->input_shape, "e.g. 1,2048: token ids for a model with an embedding");
  cmd->add_option("--inputs", r->inputs, "FILE.py:make_inputs, called with (model, device, dtype, shape)");
  cmd->add_option("--init-args", r->init_args, "JSON object of the model's constructor arguments");
  cmd->add_option("--dtype", r->dtype, "fp16 | bf16 | fp32 (default: profile.json's, else fp32)");
  cmd->add_option("--device", r->device, "cuda | cpu (default: profile.json's, else cpu)");
  cmd->add_option("--runs", r->runs, "timed runs per variant (median)")->capture_default_str();
  cmd->add_flag("!--no-compile", r->compile, "skip torch.compile of the original");
  cmd->add_flag("--diagnose", r->diagnose, "swap one kernel type at a time to find one that breaks the output");
  cmd->add_option("--inside-compile", r->inside_compile,
                  "auto: time each kernel type inside torch.compile, keep those that make it faster (default on "
                  "cuda); all: every type (default on cpu)")
      ->check(CLI::IsMember({"auto", "all"}));
  cmd->add_flag("--all", r->all, "also swap in kernels no faster than PyTorch at their measured shape");
  cmd->add_option("--generate", r->generate,
                  "also generate N tokens greedily after the input's tokens, eager and patched, and compare them "
                  "(default for a decode profile: its steps, at least 32)")
      ->check(CLI::Range(1, 100000));
  return [r, workspace] {
    r->workspace = *workspace;
    const auto report = value_or_throw(deploy::verify(*r, [](const std::string& l) { fmt::print("{}\n", l); }));
    const auto& t = report["times_ms"];
    fmt::print("\nrelative L2 error vs float32 truth: eager {:.3e}, autokernel {:.3e}, limit {:.3e}\n",
               report["errors"]["eager"].get<double>(), report["errors"]["autokernel"].get<double>(),
               report["tolerance"].get<double>());
    fmt::print("time: eager {:.3f} ms, autokernel {:.3f} ms ({:.3f}x)", t["eager"].get<double>(),
               t["autokernel"].get<double>(), report["speedup_vs_eager"].get<double>());
    if (t.contains("compiled")) {
      fmt::print(", torch.compile {:.3f} ms", t["compiled"].get<double>());
      if (t.contains("autokernel_compiled"))
        fmt::print(", autokernel inside torch.compile {:.3f} ms", t["autokernel_compiled"].get<double>());
      fmt::print("; the better autokernel is {:.3f}x torch.compile", report["speedup_vs_compiled"].get<double>());
    }
    fmt::print("\n");
    if (const auto e = report.value("eager_only", std::vector<std::string>{}); !e.empty())
      fmt::print("left to inductor inside torch.compile (slower there; eager only): {}\n", fmt::join(e, ", "));
    if (report.contains("generation")) {
      const auto& g = report["generation"];
      const auto& rate = g["tokens_per_s"];
      fmt::print("generation: {} tokens, batch {}: eager {:.1f} tokens/s, autokernel {:.1f} ({:.3f}x); tokens {}\n",
                 g["tokens"].get<int>(), g["batch"].get<int>(), rate["eager"].get<double>(),
                 rate["autokernel"].get<double>(), rate["autokernel"].get<double>() / rate["eager"].get<double>(),
                 g["passed"].get<bool>() ? "as eager's" : "NOT as eager's");
    }
    if (report.contains("warning")) fmt::print("warning: {}\n", report["warning"].get<std::string>());
    for (const auto& f : report.value("failures", nlohmann::json::array()))
      fmt::print("failed: {}\n", f.get<std::string>());
    const bool passed = report["passed"].get<bool>();
    fmt::print("verify: {}  (written to {})\n", passed ? "PASS" : "FAIL: the outputs differ beyond the limit",
               (std::filesystem::absolute(r->workspace) / "verify.json").string());
    return passed ? k_exit_ok : k_exit_rejected;
  };
}

}  // namespace ak::cli
