// `autokernel verify`: the kept kernels swapped into the model, its outputs checked and timed (see
// deploy/verify.hpp). Exit 0: the outputs match; 1: they do not; 2: it could not run.
#include <fmt/ranges.h>

#include <algorithm>

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
      const auto at = [&](const char* label) { return rate[label].get<double>(); };
      fmt::print("generation: {} tokens, batch {}: eager {:.1f} tokens/s, autokernel {:.1f} ({:.3f}x)",
                 g["tokens"].get<int>(), g["batch"].get<int>(), at("eager"), at("autokernel"),
                 at("autokernel") / at("eager"));
      // Under CUDA graphs (a GPU and a transformers model): the serving setting the decode step is judged in.
      if (rate.contains("compiled")) fmt::print(", torch.compile reduce-overhead {:.1f}", at("compiled"));
      if (rate.contains("compiled") && rate.contains("autokernel_compiled"))
        fmt::print(", autokernel inside it {:.1f} ({:.3f}x reduce-overhead)", at("autokernel_compiled"),
                   at("autokernel_compiled") / at("compiled"));
      fmt::print("; tokens {}\n", g["passed"].get<bool>() ? "as eager's" : "NOT as eager's");
      if (g.contains("streamed_gb_s")) {
        double best = 0;
        for (const auto& [label, gb_s] : g["streamed_gb_s"].items()) best = std::max(best, gb_s.get<double>());
        fmt::print(
            "  the fastest decode step read its weights and KV cache at {:.0f} GB/s, {:.1f}% of the copy "
            "bandwidth ({:.0f} GB/s)\n",
            best, 100 * best / g["copy_gb_s"].get<double>(), g["copy_gb_s"].get<double>());
      }
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
