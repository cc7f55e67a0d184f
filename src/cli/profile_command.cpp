// `autokernel profile --model FILE.py:Class`: run the model under torch.profiler (a child Python), attribute
// its time to our kernel types with the model's own shapes, write <workspace>/profile.json and print the
// ranking with an Amdahl estimate per row.
#include <cstdio>
#include <regex>

#include "backends/backend.hpp"
#include "catalog/type_names.hpp"
#include "cli/commands.hpp"
#include "profile/extract.hpp"
#include "profile/model_run.hpp"
#include "profile/profile.hpp"
#include "profile/trace.hpp"
#include "util/fs.hpp"

namespace ak::cli {
namespace {

struct ProfileArgs {
  profile::ModelRunRequest run;
  std::string workspace = "workspace";
  bool json = false;
  int rows = 25;
  bool decode_given = false, prefill_given = false, iters_given = false;
};

/// --decode N [--prefill L]: the decode workload's own checks, before the generic ones (it makes its inputs).
void check_decode_args(ProfileArgs& a) {
  auto& r = a.run;
  if (a.prefill_given && !a.decode_given) {
    throw Fatal(Error{"--prefill is the prompt before --decode's steps, and there is no --decode",
                      "add --decode N (decode steps profiled), or leave --prefill out"});
  }
  if (!a.decode_given) return;
  const std::string example = "e.g. --decode 8 --input-shape 1,2048 (batch 1, a 2048-token prefill)";
  if (r.decode < 1) throw Fatal(Error{fmt::format("--decode must be at least 1, got {}", r.decode), example});
  if (a.prefill_given && r.prefill < 1) {
    throw Fatal(Error{fmt::format("--prefill must be at least 1, got {}", r.prefill), example});
  }
  if (!r.inputs.empty()) {
    throw Fatal(Error{"--decode makes its own inputs, so it takes no --inputs",
                      "give --input-shape BATCH,PREFILL; or, without --decode, a make_inputs that returns "
                      "the cache among the model's keyword arguments"});
  }
  if (a.iters_given) throw Fatal(Error{"--decode N profiles N decode steps: leave --iters out", example});
  static const std::regex k_batch_prefill("[1-9][0-9]*(,[1-9][0-9]*)?");
  const bool one_dim = r.input_shape.find(',') == std::string::npos;
  if (!std::regex_match(r.input_shape, k_batch_prefill) || (one_dim && !a.prefill_given)) {
    throw Fatal(Error{
        fmt::format("--decode needs --input-shape BATCH,PREFILL (or BATCH with --prefill L), got '{}'", r.input_shape),
        example});
  }
  r.iters = r.decode;
}

void check_args(ProfileArgs& a) {
  check_decode_args(a);
  auto& r = a.run;
  if (!r.model.starts_with("hf:")) {
    const auto colon = r.model.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == r.model.size()) {
      throw Fatal(Error{fmt::format("--model must be FILE.py:Class or hf:NAME, got '{}'", r.model),
                        "e.g. --model examples/models/llama.py:Llama"});
    }
    const auto file = r.model.substr(0, colon);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      throw Fatal(Error{fmt::format("no such model file: {}", file), "e.g. --model examples/models/llama.py:Llama"});
    }
  }
  if (r.input_shape.empty() && r.inputs.empty()) {
    throw Fatal(Error{"give the model's inputs",
                      "--input-shape 1,2048 (token ids or a random tensor) or "
                      "--inputs FILE.py:make_inputs"});
  }
  static const std::regex k_shape("[1-9][0-9]*(,[1-9][0-9]*)*");  // no 0: an empty input profiles nothing
  if (!r.input_shape.empty() && !std::regex_match(r.input_shape, k_shape)) {
    throw Fatal(Error{fmt::format("--input-shape must be positive sizes separated by commas, got '{}'", r.input_shape),
                      "e.g. --input-shape 1,2048"});
  }
  if (!r.init_args.empty()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(r.init_args);
    } catch (const std::exception& e) {
      throw Fatal(
          Error{fmt::format("--init-args is not valid JSON: {}", e.what()), R"(e.g. --init-args '{"n_layer": 2}')"});
    }
    if (!j.is_object()) throw Fatal(Error{"--init-args must be a JSON object", R"(e.g. --init-args '{"n_layer": 2}')"});
  }
  if (r.device.empty()) r.device = backends::cuda_available() ? "cuda" : "cpu";
  if (r.device == "cuda" && !backends::cuda_available()) {
    throw Fatal(Error{"--device cuda, but there is no GPU here", "use --device cpu"});
  }
  if (r.dtype.empty()) r.dtype = r.device == "cuda" ? "bf16" : "fp32";
  if (r.iters < 1 || r.warmup < 0) throw Fatal(Error{"--iters must be at least 1 and --warmup at least 0"});
}

}  // namespace

Runner add_profile_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("profile", "run a model under torch.profiler and rank its kernels by share of time");
  auto a = std::make_shared<ProfileArgs>();
  auto& r = a->run;
  cmd->add_option("--model", r.model, "FILE.py:Class, or hf:NAME (transformers, random weights)")->required();
  cmd->add_option("--input-shape", r.input_shape, "input size, e.g. 1,2048 (token ids for models with an embedding)");
  cmd->add_option("--inputs", r.inputs, "FILE.py:make_inputs, called with any of (model, device, dtype, shape)");
  cmd->add_option("--dtype", r.dtype, "fp16 | bf16 | fp32 (default: bf16 on a GPU, fp32 on the CPU)")
      ->check(CLI::IsMember({"fp16", "bf16", "fp32"}));
  cmd->add_option("--init-args", r.init_args, "the model's constructor arguments, as a JSON object");
  cmd->add_option("--workspace", a->workspace, "where profile.json goes")->capture_default_str();
  cmd->add_option("--device", r.device, "cuda | cpu (default: cuda with a GPU, else cpu)")
      ->check(CLI::IsMember({"cuda", "cpu"}));
  cmd->add_option("--warmup", r.warmup, "model steps run before profiling")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  auto* iters_opt = cmd->add_option("--iters", r.iters, "model steps profiled")->capture_default_str();
  auto* decode_opt = cmd->add_option("--decode", r.decode,
                                     "profile N decode steps (one new token per sequence) against a KV cache "
                                     "filled by a prefill; batch and prefill from --input-shape BATCH,PREFILL");
  auto* prefill_opt =
      cmd->add_option("--prefill", r.prefill, "the prefill's length for --decode (tokens in the cache)");
  cmd->add_option("--rows", a->rows, "rows of the table shown")->capture_default_str();
  cmd->add_flag("--json", a->json, "print profile.json on stdout instead of the table");
  return [a, iters_opt, decode_opt, prefill_opt] {
    a->iters_given = iters_opt->count() > 0;
    a->decode_given = decode_opt->count() > 0;
    a->prefill_given = prefill_opt->count() > 0;
    check_args(*a);
    const std::filesystem::path ws = a->workspace;
    a->run.out_dir = ws / ".autokernel" / "profile";
    std::FILE* progress = a->json ? stderr : stdout;
    const auto& req = a->run;
    const auto prefill =
        req.prefill > 0 ? std::to_string(req.prefill) : req.input_shape.substr(req.input_shape.find(',') + 1);
    fmt::print(progress, "profiling {} on {} ({}): {} warm-up + {} profiled {}\n", req.model, req.device, req.dtype,
               req.warmup, req.iters,
               req.decode > 0 ? fmt::format("decode steps after a {}-token prefill", prefill) : "steps");
    std::fflush(progress);
    auto run = value_or_throw(profile::run_model(a->run));
    auto trace = value_or_throw(profile::read_trace(run.trace));
    run.meta["trace"] = std::filesystem::relative(run.trace, ws).string();
    auto prof = value_or_throw(profile::analyze(trace, run.meta), "analysing " + run.trace.string());
    const auto path = ws / profile::k_profile_file;
    value_or_throw(util::write_file_atomic(path, prof.to_json().dump(2) + "\n"));
    if (a->json) {
      fmt::print("{}\n", prof.to_json().dump(2));
    } else {
      std::string inputs;
      for (const auto& in : run.meta.value("inputs", nlohmann::json::array())) {
        std::string dims;
        for (auto d : in.value("shape", std::vector<int64_t>{})) dims += (dims.empty() ? "" : ",") + std::to_string(d);
        inputs += inputs.empty() ? "" : ", ";
        // A value that is not a tensor (a KV cache, a flag) as the runner described it.
        inputs += in.contains("shape") ? fmt::format("[{}] {}", dims, in.value("dtype", "")) : in.value("value", "");
      }
      fmt::print("model: {} ({}, {:.1f}M parameters) on {}, {}, inputs {}; {:.2f} ms per step (wall)\n",
                 run.meta.value("model", ""), run.meta.value("class", ""), run.meta.value("parameters", 0.0) / 1e6,
                 run.meta.value("device_name", ""), run.meta.value("dtype", ""), inputs,
                 run.meta.value("step_wall_ms", 0.0));
      if (prof.is_decode()) fmt::print("workload: {}\n", prof.workload());
      fmt::print("{}", profile::ranking_table(prof, a->rows));
      fmt::print("wrote {}\n", path.string());
    }
    if (prof.supported().empty()) {
      std::string top;
      for (std::size_t i = 0; i < prof.kernels.size() && i < 3; ++i) {
        top += fmt::format("{}{} {:.0f}%", i ? ", " : "", prof.kernels[i].name, 100 * prof.kernels[i].share);
      }
      throw Fatal(Error{"none of the model's time is in a kernel type autokernel supports",
                        "its time goes to " + top + "; supported: " + catalog::type_names()});
    }
    if (!a->json) {
      fmt::print("next: autokernel extract --workspace {} --top {}\n", ws.string(),
                 std::min<std::size_t>(5, prof.supported().size()));
    }
    return k_exit_ok;
  };
}

}  // namespace ak::cli
