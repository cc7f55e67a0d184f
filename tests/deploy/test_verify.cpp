// `autokernel verify` end to end on the CPU: profile the LLaMA-style example (tiny), extract, run, then
// swap the kept kernels into the model; and a kernel committed behind the harness's back that breaks the
// model's output, found by --diagnose.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

namespace fs = std::filesystem;

const std::string k_llama = (test::source_dir() / "examples/models/llama.py:Llama").string();
const std::string k_tiny = R"({"dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 172, "vocab_size": 512})";

/// profile -> extract (cpu) -> a baseline for each kernel.
fs::path llama_workspace(const std::string& name) {
  const auto ws = fs::temp_directory_path() / ("ak_ws_verify_" + name);
  (void)util::remove_tree(ws);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"profile", "--workspace", ws.string(), "--model", k_llama, "--input-shape", "1,32", "--device", "cpu",
            "--init-args", k_tiny},
           // All six supported types: on a CPU, attention and the one unfused norm take ~8% each and swap
           // places from run to run, so a --top 5 would leave either out.
           {"extract", "--workspace", ws.string(), "--top", "6", "--backend", "cpu"},
           {"run", "--workspace", ws.string(), "--max-experiments", "6"}}) {
    const auto r = test::autokernel(args);
    if (r.exit_code != 0) throw std::runtime_error(args[0] + ": " + r.output);
  }
  return ws;
}

nlohmann::json verify_json(const fs::path& ws) { return nlohmann::json::parse(*util::read_file(ws / "verify.json")); }

TEST(Verify, TheKeptKernelsRunInsideTheModelAndItsOutputsMatch) {
  const auto ws = llama_workspace("pass");
  // The model comes from profile.json; --all: on a CPU some starters are slower than PyTorch.
  const auto r =
      test::autokernel({"verify", "--workspace", ws.string(), "--all", "--no-compile", "--diagnose", "--runs", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("verify: PASS"), std::string::npos) << r.output;
  const auto v = verify_json(ws);
  EXPECT_TRUE(v["passed"].get<bool>());
  EXPECT_FALSE(v.contains("partial")) << "the checkpoints verify writes as it goes are replaced by the result";
  EXPECT_FALSE(fs::exists(ws / "verify.json.tmp"));
  EXPECT_LE(v["errors"]["autokernel"].get<double>(), v["tolerance"].get<double>());
  // Every extracted type was really called inside the model: modules (RMSNorm, rotary, SwiGLU) and
  // functions (F.linear, scaled_dot_product_attention).
  for (const auto* k :
       {"rmsnorm_cpu", "rotary_embedding_cpu", "fused_mlp_cpu", "skinny_gemm_cpu", "flash_attention_cpu"}) {
    ASSERT_TRUE(v["calls"].contains(k)) << k << "\n" << v.dump(1);
    EXPECT_GT(v["calls"][k].get<int>(), 0) << k;
  }
  // add_rmsnorm fuses only inside torch.compile (--no-compile here): uncompiled, its norms are rmsnorm's.
  EXPECT_EQ(v["calls"].value("add_rmsnorm_cpu", 0), 0);
  ASSERT_EQ(v["diagnose"].size(), 6u);
  for (const auto& d : v["diagnose"]) EXPECT_TRUE(d["passed"].get<bool>()) << d.dump();
  EXPECT_GT(v["times_ms"]["eager"].get<double>(), 0);
  EXPECT_GT(v["times_ms"]["autokernel"].get<double>(), 0);

  // Inside torch.compile the residual adds and the norms after them are one add_rmsnorm call each (4 of the
  // 5 norms: every one but the first), counted and checked like the rest, with no graph break.
  const auto c = test::autokernel({"verify", "--workspace", ws.string(), "--all", "--runs", "2"});
  ASSERT_EQ(c.exit_code, 0) << c.output;
  const auto vc = verify_json(ws);
  EXPECT_EQ(vc["calls_compiled"].value("add_rmsnorm_cpu", 0), 4) << vc["calls_compiled"].dump();
  EXPECT_EQ(vc["calls_compiled"].value("rmsnorm_cpu", 0), 1) << vc["calls_compiled"].dump();
  ASSERT_TRUE(vc["op_checks"].contains("add_rmsnorm")) << vc["op_checks"].dump(1);
  EXPECT_TRUE(vc["op_checks"]["add_rmsnorm"]["passed"].get<bool>());
  EXPECT_EQ(vc["graph_breaks"].get<int>(), 0);
  EXPECT_LE(vc["errors"]["autokernel_compiled"].get<double>(), vc["tolerance"].get<double>());

  // --inside-compile auto (a GPU's default): each type that took a call, and the fusion, added in turn to the
  // ones kept so far inside torch.compile; the last kept setting is the compiled variant (its calls routed
  // only to the kept types), and the rest are eager_only. Which win is the CPU's timing noise here; that
  // every type is decided, and the calls and the variant's time follow, is not.
  const auto a =
      test::autokernel({"verify", "--workspace", ws.string(), "--all", "--inside-compile", "auto", "--runs", "2"});
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const auto va = verify_json(ws);
  const auto& tried = va["inside_compile"]["tried_ms"];
  EXPECT_EQ(tried.size(), 6u) << tried.dump();  // the five routed types and add_rmsnorm
  std::set<std::string> kept, eager_only, all_types;
  for (const auto& k : va["inside_compile"]["kept"]) kept.insert(k.get<std::string>());
  for (const auto& k : va["eager_only"]) eager_only.insert(k.get<std::string>());
  for (const auto& k : va["kernels"]) all_types.insert(k["type"].get<std::string>());
  std::set<std::string> decided = kept;
  decided.insert(eager_only.begin(), eager_only.end());
  EXPECT_EQ(decided, all_types);
  for (const auto& [name, calls] : va["calls_compiled"].items()) {
    const auto type = name.substr(0, name.rfind('_'));
    EXPECT_TRUE(kept.contains(type) || (type == "rmsnorm" && kept.contains("add_rmsnorm"))) << name;
  }
  if (kept.empty()) {
    EXPECT_EQ(va["times_ms"]["autokernel_compiled"], va["times_ms"]["routed_compiled"]);
  } else {  // the last kept trial's time, below every earlier kept one's and the yardstick's
    const auto last = va["inside_compile"]["kept"].back().get<std::string>();  // in the order kept
    EXPECT_EQ(va["times_ms"]["autokernel_compiled"], tried[last]);
    EXPECT_LT(va["times_ms"]["autokernel_compiled"].get<double>(), va["times_ms"]["routed_compiled"].get<double>());
  }
  EXPECT_EQ(va["inside_compile"]["none_ms"], va["times_ms"]["routed_compiled"]);
  EXPECT_NE(a.output.find("inside torch.compile, + fused_mlp"), std::string::npos) << a.output;
}

TEST(Verify, DiagnoseNamesTheKernelThatBreaksTheOutput) {
  const auto ws = llama_workspace("broken");
  // A wrong rmsnorm (every element off by 1%) committed by hand, as a bug the harness never saw: the model's
  // own float32 error hides nothing here, but in bf16 it would, and the per-call check must catch it anyway.
  const auto file = ws / "kernels/rmsnorm_cpu/kernel.cpp";
  auto src = *util::read_file(file);
  const std::string store = "buf[i] * rstd * w[i]";
  const auto at = src.find(store);
  ASSERT_NE(at, std::string::npos) << "the rmsnorm starter changed; update this test";
  src.replace(at, store.size(), "buf[i] * rstd * w[i] * 1.01f");
  ASSERT_TRUE(util::write_file_atomic(file, src));
  test::git(ws, {"commit", "-qam", "a hand edit"});
  const auto r =
      test::autokernel({"verify", "--workspace", ws.string(), "--all", "--no-compile", "--diagnose", "--runs", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("verify: FAIL"), std::string::npos) << r.output;
  const auto v = verify_json(ws);
  EXPECT_FALSE(v["op_checks"]["rmsnorm"]["passed"].get<bool>()) << v["op_checks"].dump(1);
  EXPECT_NEAR(v["op_checks"]["rmsnorm"]["error"].get<double>(), 0.01, 1e-3);
  for (const auto& [kind, c] : v["op_checks"].items()) {
    if (kind != "rmsnorm") {
      EXPECT_TRUE(c["passed"].get<bool>()) << kind << ": " << c.dump();
    }
  }
  EXPECT_NE(r.output.find("failed: rmsnorm"), std::string::npos) << r.output;
  for (const auto& d : v["diagnose"]) {
    EXPECT_EQ(d["passed"].get<bool>(), d["type"] != "rmsnorm") << d.dump();
  }
  EXPECT_NE(r.output.find("only rmsnorm"), std::string::npos);
  EXPECT_NE(r.output.find("BREAKS THE OUTPUT"), std::string::npos) << r.output;
}

/// A Hugging Face family from its config (tiny, random weights) through profile -> extract -> run -> verify
/// on the CPU backend: every block routed by what it computes (verify's call counts), and then a kernel of
/// `planted_type` wrong by 1% everywhere, which verify must fail.
void hugging_face_family(const std::string& family, const std::string& config, const std::vector<std::string>& routed,
                         const std::string& planted_type, const std::string& store, const std::string& wrong) {
  const auto ws = fs::temp_directory_path() / ("ak_ws_verify_hf_" + family);
  (void)util::remove_tree(ws);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"profile", "--workspace", ws.string(), "--model", "hf:" + family,
                                              "--input-shape", "1,32", "--device", "cpu", "--init-args", config},
                                             {"extract", "--workspace", ws.string(), "--top", "8", "--backend", "cpu"},
                                             {"run", "--workspace", ws.string(), "--max-experiments", "8"}}) {
    const auto r = test::autokernel(args);
    ASSERT_EQ(r.exit_code, 0) << args[0] << ": " << r.output;
  }
  auto r = test::autokernel({"verify", "--workspace", ws.string(), "--all", "--no-compile", "--runs", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto v = verify_json(ws);
  for (const auto& kind : routed) {
    const auto name = kind + "_cpu";
    ASSERT_TRUE(v["calls"].contains(name)) << family << ": " << name << " took no call\n" << v.dump(1);
    EXPECT_GT(v["calls"][name].get<int>(), 0);
    EXPECT_TRUE(v["op_checks"][kind]["passed"].get<bool>()) << v["op_checks"].dump(1);
  }
  const auto file = ws / "kernels" / (planted_type + "_cpu") / "kernel.cpp";
  auto src = *util::read_file(file);
  const auto at = src.find(store);
  ASSERT_NE(at, std::string::npos) << "the " << planted_type << " starter changed; update this test";
  src.replace(at, store.size(), wrong);
  ASSERT_TRUE(util::write_file_atomic(file, src));
  test::git(ws, {"commit", "-qam", "a kernel wrong by 1%"});
  r = test::autokernel({"verify", "--workspace", ws.string(), "--all", "--no-compile", "--runs", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  v = verify_json(ws);
  EXPECT_FALSE(v["op_checks"][planted_type]["passed"].get<bool>()) << v["op_checks"].dump(1);
}

const std::string k_tiny_decoder =
    R"({"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 512})";

TEST(Verify, HuggingFaceLlamaIsRoutedByWhatItsBlocksCompute) {
  // Grouped-query attention (4 query heads over 2 kv heads) and the rotate-half rotary included; 32 tokens, so the
  // projections and the LM head are skinny_gemm's.
  hugging_face_family("llama", k_tiny_decoder,
                      {"rmsnorm", "fused_mlp", "skinny_gemm", "rotary_embedding", "flash_attention"}, "rmsnorm",
                      "buf[i] * rstd * w[i]", "buf[i] * rstd * w[i] * 1.01f");
}

TEST(Verify, HuggingFaceMistralIsRoutedByWhatItsBlocksCompute) {
  hugging_face_family("mistral", k_tiny_decoder,
                      {"rmsnorm", "fused_mlp", "skinny_gemm", "rotary_embedding", "flash_attention"}, "rmsnorm",
                      "buf[i] * rstd * w[i]", "buf[i] * rstd * w[i] * 1.01f");
}

TEST(Verify, HuggingFaceGpt2IsRoutedByWhatItsBlocksCompute) {
  // GPT-2: LayerNorm, Conv1D (addmm with its [K, N] weight: the matmul ABI as it is), causal attention; its LM
  // head (32 rows) is skinny_gemm's.
  hugging_face_family("gpt2", R"({"n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 512})",
                      {"layernorm", "matmul", "flash_attention"}, "layernorm", "* w[i] + b[i]",
                      "* w[i] * 1.01f + b[i]");
}

TEST(Verify, BadInputIsOneClearError) {
  const auto ws = fs::temp_directory_path() / "ak_ws_verify_bad";
  (void)util::remove_tree(ws);
  fs::create_directories(ws);
  // No profile.json and no --model.
  auto r = test::autokernel({"verify", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no --model given"), std::string::npos) << r.output;
  // A workspace with kernels, but a model file that does not exist.
  const auto good = llama_workspace("badmodel");
  r = test::autokernel({"verify", "--workspace", good.string(), "--all", "--no-compile", "--model",
                        "/nonexistent/m.py:M", "--input-shape", "1,8"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("autokernel: error: no such file: /nonexistent/m.py"), std::string::npos) << r.output;
  // A decode profile that does not say its batch and prefill length; and --generate with a model's own inputs.
  ASSERT_TRUE(util::write_file_atomic(
      ws / "profile.json", R"({"meta": {"model": "m.py:M", "input_shape": "1,8", "decode": {"steps": 3}}})"));
  r = test::autokernel({"verify", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("is a decode profile without its batch and prefill length"), std::string::npos) << r.output;
  r = test::autokernel(
      {"verify", "--workspace", good.string(), "--generate", "8", "--model", k_llama, "--inputs", "m.py:make_inputs"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--generate makes its prompt from --input-shape"), std::string::npos) << r.output;
}

TEST(Verify, ADecodeProfileGeneratesEagersTokensWithEveryCallChecked) {
  // profile --decode ranks the decode step; verify checks the forward over the prompt, then generates 32
  // tokens (the least it compares) eager and patched, each kernel call checked at the decode step's shapes.
  const auto ws = fs::temp_directory_path() / "ak_ws_verify_decode";
  (void)util::remove_tree(ws);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"profile", "--workspace", ws.string(), "--model", k_llama, "--input-shape", "2,16", "--decode", "4",
            "--device", "cpu", "--init-args", k_tiny},
           {"extract", "--workspace", ws.string(), "--top", "6", "--backend", "cpu"},
           {"run", "--workspace", ws.string(), "--max-experiments", "6"}}) {
    const auto r = test::autokernel(args);
    ASSERT_EQ(r.exit_code, 0) << args[0] << ": " << r.output;
  }
  auto r = test::autokernel({"verify", "--workspace", ws.string(), "--all", "--no-compile", "--runs", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("generation: 32 tokens, batch 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("% of the copy bandwidth"), std::string::npos) << r.output;
  auto v = verify_json(ws);
  const auto& g = v["generation"];
  EXPECT_TRUE(g["passed"].get<bool>()) << g.dump(1);
  // What a decode step reads: the weights, once, and the KV cache.
  EXPECT_GT(g["step_bytes"]["weights"].get<double>(), 0) << g.dump(1);
  EXPECT_GT(g["step_bytes"]["cache"].get<double>(), 0) << g.dump(1);
  for (const auto& s : g["sequences"]) EXPECT_EQ(s["identical"].get<int>(), 32) << g.dump(1);
  // Two layers' norms in each of 32 forwards (the prefill, 31 decode steps), and the final norm.
  ASSERT_TRUE(g["calls"].contains("rmsnorm_cpu")) << g.dump(1);
  EXPECT_EQ(g["calls"]["rmsnorm_cpu"].get<int>(), 5 * 32);
  EXPECT_TRUE(v["op_checks"]["rmsnorm"]["passed"].get<bool>());

  const auto file = ws / "kernels/rmsnorm_cpu/kernel.cpp";
  auto src = *util::read_file(file);
  const std::string store = "buf[i] * rstd * w[i]";
  const auto at = src.find(store);
  ASSERT_NE(at, std::string::npos) << "the rmsnorm starter changed; update this test";
  src.replace(at, store.size(), "buf[i] * rstd * w[i] * 1.01f");
  ASSERT_TRUE(util::write_file_atomic(file, src));
  test::git(ws, {"commit", "-qam", "a kernel wrong by 1%"});
  r = test::autokernel({"verify", "--workspace", ws.string(), "--all", "--no-compile", "--runs", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  v = verify_json(ws);
  EXPECT_FALSE(v["op_checks"]["rmsnorm"]["passed"].get<bool>()) << v["op_checks"].dump(1);
}

}  // namespace
}  // namespace ak
