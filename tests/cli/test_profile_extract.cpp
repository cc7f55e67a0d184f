// `autokernel profile` and `autokernel extract` as a user meets them: the example models profiled on the
// CPU (tiny configs, a few seconds each), the workspaces extract makes, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "backends/backend.hpp"
#include "catalog/shape.hpp"
#include "harness/bench.hpp"
#include "workspace/results_log.hpp"
#include "profile/extract.hpp"
#include "profile/model_run.hpp"
#include "profile/profile.hpp"
#include "profile/trace.hpp"
#include "test_support.hpp"
#include "util/python.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / fmt::format("ak_profile_{}_{}", name, ::getpid());
  (void)util::remove_tree(dir);
  return dir;
}

nlohmann::json read_json(const std::filesystem::path& p) {
  auto text = util::read_file(p);
  if (!text) throw std::runtime_error(text.error().message);
  return nlohmann::json::parse(*text);
}

/// The first line that starts with "autokernel: error:", or "".
std::string error_line(const std::string& out) {
  const auto at = out.find("autokernel: error:");
  return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
}

bool transformers_installed() {
  auto probe = util::run_command({util::python_executable(), "-c", "import transformers"}, std::chrono::minutes(2));
  return probe && probe->exit_code == 0;
}

struct ExampleModel {
  std::string name;
  std::vector<std::string> args;
  std::vector<std::string> types;  ///< kernel types its profile must rank
};

class ProfileExample : public ::testing::TestWithParam<ExampleModel> {};

TEST_P(ProfileExample, RanksItsKernelsOnTheCpuAndTheSharesAddUpToTheTotal) {
  const auto& m = GetParam();
  const auto ws = fresh_dir(m.name);
  std::vector<std::string> args = {"profile", "--device", "cpu", "--workspace", ws.string(), "--iters", "2"};
  args.insert(args.end(), m.args.begin(), m.args.end());
  const auto r = test::autokernel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rank  kernel"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("if 2x"), std::string::npos) << r.output;
  const auto j = read_json(ws / "profile.json");
  EXPECT_EQ(j["basis"], "cpu");
  EXPECT_EQ(j["steps"], 2);
  double time = 0, share = 0;
  std::vector<std::string> names;
  for (const auto& k : j["kernels"]) {
    time += k["time_us"].get<double>();
    share += k["share"].get<double>();
    names.push_back(k["name"]);
    // Each row's line in the table shows its share.
    EXPECT_NE(r.output.find(fmt::format("{:.1f}%", 100 * k["share"].get<double>())), std::string::npos) << k["name"];
  }
  EXPECT_NEAR(time, j["total_us"].get<double>(), 1e-6 * j["total_us"].get<double>());
  EXPECT_NEAR(share, 1.0, 1e-9);
  for (const auto& t : m.types) {
    EXPECT_NE(std::find(names.begin(), names.end(), t), names.end()) << t << " missing from " << r.output;
  }
  EXPECT_TRUE(std::filesystem::exists(ws / j["meta"]["trace"].get<std::string>()));
  (void)util::remove_tree(ws);
}

const std::string k_examples = (test::source_dir() / "examples/models").string();

// 32 or 64 tokens: the linear layers (at most 64 rows) are skinny_gemm's.
INSTANTIATE_TEST_SUITE_P(
    Examples, ProfileExample,
    ::testing::Values(ExampleModel{"llama",
                                   {"--model", k_examples + "/llama.py:Llama", "--input-shape", "1,32", "--init-args",
                                    R"({"dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 86, "vocab_size": 256})"},
                                   {"skinny_gemm", "rmsnorm", "rotary_embedding", "fused_mlp", "flash_attention"}},
                      ExampleModel{
                          "gpt2",
                          {"--model", k_examples + "/gpt2.py:GPT2", "--input-shape", "1,32", "--init-args",
                           R"({"n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 256, "n_positions": 64})"},
                          {"skinny_gemm", "layernorm", "flash_attention"}},
                      ExampleModel{"bert",
                                   {"--model", k_examples + "/bert.py:Bert", "--input-shape", "2,32", "--init-args",
                                    R"({"hidden": 32, "layers": 1, "heads": 2, "vocab_size": 256})"},
                                   {"matmul", "layernorm", "softmax"}},
                      ExampleModel{"lm_loss",
                                   {"--model", k_examples + "/lm_loss.py:LMWithLoss", "--inputs",
                                    k_examples + "/lm_loss.py:make_inputs", "--input-shape", "2,32", "--init-args",
                                    R"({"vocab_size": 2048, "dim": 32, "n_layers": 1})"},
                                   {"skinny_gemm", "cross_entropy", "layernorm"}}),
    [](const auto& info) { return info.param.name; });

TEST(ProfileCommand, AMissingModelFileIsOneErrorLineAndExitCode2) {
  const auto r = test::autokernel({"profile", "--model", "/nonexistent/model.py:Model", "--input-shape", "1,8"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(error_line(r.output), "autokernel: error: no such model file: /nonexistent/model.py") << r.output;
}

TEST(ProfileCommand, AClassNotInTheFileNamesTheClassesThatAre) {
  const auto ws = fresh_dir("no_class");
  const auto r = test::autokernel({"profile", "--model", k_examples + "/llama.py:Mistral", "--input-shape", "1,8",
                                   "--device", "cpu", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(error_line(r.output).find("no 'Mistral' in"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hint: nn.Module classes there: Attention, Block, Llama"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  (void)util::remove_tree(ws);
}

TEST(ProfileCommand, AModelThatFailsOnTheGivenShapesSaysSoWithoutATraceback) {
  const auto ws = fresh_dir("bad_shape");
  // 600 positions, but this BERT has 512 position embeddings.
  const auto r = test::autokernel({"profile", "--model", k_examples + "/bert.py:Bert", "--input-shape", "1,600",
                                   "--init-args", R"({"hidden": 32, "layers": 1, "heads": 2, "vocab_size": 256})",
                                   "--device", "cpu", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(error_line(r.output).find("the model failed on its inputs ([1, 600] int64)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("hint: check --input-shape"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  (void)util::remove_tree(ws);
}

TEST(ProfileCommand, BadConstructorArgumentsAreNamed) {
  const auto ws = fresh_dir("bad_init");
  auto r = test::autokernel({"profile", "--model", k_examples + "/gpt2.py:GPT2", "--input-shape", "1,8", "--init-args",
                             R"({"n_layers": 2})", "--device", "cpu", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(error_line(r.output).find("cannot build GPT2"), std::string::npos) << r.output;
  EXPECT_NE(error_line(r.output).find("n_layers"), std::string::npos) << r.output;
  r = test::autokernel({"profile", "--model", k_examples + "/gpt2.py:GPT2", "--input-shape", "1,8", "--init-args",
                        "[2]", "--device", "cpu", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(error_line(r.output), "autokernel: error: --init-args must be a JSON object") << r.output;
  (void)util::remove_tree(ws);
}

TEST(ProfileCommand, AModelWithNoSupportedKernelsIsAnError) {
  const auto ws = fresh_dir("none");
  const auto r = test::autokernel({"profile", "--model",
                                   (test::source_dir() / "tests/data/models/no_supported.py").string() + ":Elementwise",
                                   "--input-shape", "4,64", "--device", "cpu", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(error_line(r.output), "autokernel: error: none of the model's time is in a kernel type autokernel supports")
      << r.output;
  EXPECT_NE(r.output.find("aten::cumsum"), std::string::npos) << "the hint names where the time goes: " << r.output;
  (void)util::remove_tree(ws);
}

TEST(ProfileCommand, InputsAreRequiredAndTheirShapeChecked) {
  auto r = test::autokernel({"profile", "--model", k_examples + "/gpt2.py:GPT2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(error_line(r.output), "autokernel: error: give the model's inputs") << r.output;
  r = test::autokernel({"profile", "--model", k_examples + "/gpt2.py:GPT2", "--input-shape", "1x2048"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(error_line(r.output).find("--input-shape must be positive sizes separated by commas"), std::string::npos)
      << r.output;
}

TEST(ProfileCommand, CudaWithoutAGpuSaysSo) {
  if (backends::cuda_available()) GTEST_SKIP() << "this machine has a GPU";
  const auto r = test::autokernel(
      {"profile", "--model", k_examples + "/gpt2.py:GPT2", "--input-shape", "1,8", "--device", "cuda"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(error_line(r.output), "autokernel: error: --device cuda, but there is no GPU here") << r.output;
  EXPECT_NE(r.output.find("hint: use --device cpu"), std::string::npos);
}

TEST(ProfileCommand, TransformersModelsByConfigWhenInstalled) {
  if (!transformers_installed()) GTEST_SKIP() << "transformers is not installed";
  const auto ws = fresh_dir("hf");
  const auto r =
      test::autokernel({"profile", "--model", "hf:gpt2", "--input-shape", "1,16", "--device", "cpu", "--workspace",
                        ws.string(), "--init-args", R"({"n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 256})"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("layernorm"), std::string::npos) << r.output;
  // GPT-2's two projections followed by a residual add (attention's c_proj, the MLP's), each a Conv1D addmm, a view
  // and an inference dropout before the add, are matmul calls with the add in their epilogue (the 6th dim, residual;
  // kinds/matmul.py fuses them inside torch.compile); the qkv and c_fc projections, which no add follows, are not.
  const auto prof = profile::read_profile(ws);
  ASSERT_TRUE(prof) << prof.error().message;
  std::map<std::vector<int64_t>, long> calls;  // per step
  for (const auto& k : prof->kernels) {
    if (k.name != "matmul") continue;
    for (const auto& s : k.shapes) calls[s.dims] += std::lround(s.calls);
    EXPECT_NE(std::find(k.ops.begin(), k.ops.end(), "aten::addmm + aten::add"), k.ops.end());
  }
  using D = std::vector<int64_t>;
  EXPECT_EQ(calls, (std::map<D, long>{{D{16, 32, 32, 0, 1, 1}, 1},
                                      {D{16, 128, 32, 0, 1}, 1},
                                      {D{16, 32, 128, 0, 1, 1}, 1},
                                      {D{16, 96, 32, 0, 1}, 1}}));
  (void)util::remove_tree(ws);
}

/// One attention call of a profiled step: its queries' and keys' lengths.
struct AttentionCall {
  int64_t queries = 0, keys = 0;
  bool operator==(const AttentionCall&) const = default;
};

std::ostream& operator<<(std::ostream& os, const AttentionCall& c) {
  return os << c.queries << " queries x " << c.keys << " keys";
}

/// The aten::scaled_dot_product_attention calls inside the trace's profiled steps (ak.step scopes), in time order.
std::vector<AttentionCall> attention_in_steps(const std::filesystem::path& trace) {
  auto t = profile::read_trace(trace);
  if (!t) throw std::runtime_error(t.error().message);
  std::vector<std::pair<double, AttentionCall>> calls;
  for (const auto& e : t->cpu) {
    if (e.name != "aten::scaled_dot_product_attention") continue;
    bool in_step = false;
    for (int p = e.parent; p >= 0 && !in_step; p = t->cpu[p].parent) in_step = t->cpu[p].name == profile::k_step_scope;
    if (!in_step) continue;
    const auto& dims = e.args.at("Input Dims");  // q, k: [B, H, S, D]
    calls.push_back({e.ts_us, {dims[0][2].get<int64_t>(), dims[1][2].get<int64_t>()}});
  }
  std::sort(calls.begin(), calls.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<AttentionCall> out;
  for (const auto& [ts, c] : calls) out.push_back(c);
  return out;
}

/// The tokens one call of a type works on, from its dims in profile.json (the catalogue's).
int64_t tokens_of(const std::string& type, const std::vector<int64_t>& d) {
  if (type == "matmul") return d.size() == 4 && d[3] == 2 ? d[1] : d[0];  // linear form 2 (y^T = W x^T): N; else M
  if (type == "flash_attention" || type == "rotary_embedding") return d[0] * d[2];  // B * S
  return d[0];  // rmsnorm, add_rmsnorm (rows), fused_mlp (M), skinny_gemm (M), decode_attention (B)
}

struct DecodeModel {
  std::string name;
  std::vector<std::string> args;
  std::vector<std::string> types;  ///< kernel types its decode profile must rank
};

class ProfileDecode : public ::testing::TestWithParam<DecodeModel> {};

TEST_P(ProfileDecode, ProfilesDecodeStepsOfOneTokenPerSequenceAgainstAGrowingCache) {
  const auto& m = GetParam();
  if (m.name == "hf_llama" && !transformers_installed()) GTEST_SKIP() << "transformers is not installed";
  const auto ws = fresh_dir("decode_" + m.name);
  // Batch 2; --prefill overrides the 8 of --input-shape.
  std::vector<std::string> args = {"profile", "--device",  "cpu", "--workspace",   ws.string(), "--decode",
                                   "3",       "--prefill", "16",  "--input-shape", "2,8"};
  args.insert(args.end(), m.args.begin(), m.args.end());
  const auto r = test::autokernel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 warm-up + 3 profiled decode steps after a 16-token prefill"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("workload: decode step (batch 2, one new token each) after a 16-token prefill, "
                          "cache length 16..18"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(" per decode step ("), std::string::npos) << r.output;

  const auto j = read_json(ws / "profile.json");
  EXPECT_EQ(j["steps"], 3);
  EXPECT_EQ(j["meta"]["decode"]["cache_length"], nlohmann::json::parse("[16, 18]"));
  EXPECT_EQ(j["workload"].get<std::string>().substr(0, 11), "decode step");
  const auto prof = profile::ModelProfile::from_json(j);
  ASSERT_TRUE(prof) << prof.error().message;
  EXPECT_TRUE(prof->is_decode());
  ASSERT_FALSE(prof->supported().empty()) << r.output;
  std::vector<std::string> names;
  for (const auto* k : prof->supported()) {
    names.push_back(k->name);
    ASSERT_FALSE(k->shapes.empty()) << k->name;
    // Every call of a decode step works on one token per sequence: 2 tokens.
    for (const auto& s : k->shapes) {
      const auto shape = k->name + " " + catalog::shape_string(s.dims) + "\n" + r.output;
      if (k->name == "matmul" && s.dims.size() == 3 && !s.modules.empty() &&
          s.modules[0].find("rotary") != std::string::npos) {
        EXPECT_EQ(s.dims[1], 1) << "Hugging Face's rotary table inv_freq x positions, one new position: " << shape;
      } else {
        EXPECT_EQ(tokens_of(k->name, s.dims), 2) << shape;
      }
    }
  }
  for (const auto& t : m.types) {
    EXPECT_NE(std::find(names.begin(), names.end(), t), names.end()) << t << " missing from " << r.output;
  }
  // One query against the cache is decode_attention's, never flash_attention's (whose q and k share S): B = 2,
  // the keys the cache held at each step (L = S: all of them valid).
  EXPECT_EQ(std::find(names.begin(), names.end(), "flash_attention"), names.end()) << r.output;
  const auto decode = std::find_if(prof->kernels.begin(), prof->kernels.end(),
                                   [](const auto& k) { return k.supported && k.name == "decode_attention"; });
  ASSERT_NE(decode, prof->kernels.end()) << r.output;
  for (const auto& s : decode->shapes) {
    EXPECT_EQ(s.dims[0], 2) << r.output;
    EXPECT_EQ(s.dims[2], s.dims[4]) << r.output;
    EXPECT_TRUE(s.dims[4] >= 17 && s.dims[4] <= 19) << r.output;
  }
  // In the trace: one query per sequence, against the 16 cached keys and its own, one more each step (1 layer).
  const std::vector<AttentionCall> want = {{1, 17}, {1, 18}, {1, 19}};
  EXPECT_EQ(attention_in_steps(ws / j["meta"]["trace"].get<std::string>()), want);
  (void)util::remove_tree(ws);
}

INSTANTIATE_TEST_SUITE_P(
    Models, ProfileDecode,
    ::testing::Values(DecodeModel{"llama",
                                  {"--model", k_examples + "/llama.py:Llama", "--init-args",
                                   R"({"dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 86, "vocab_size": 256})"},
                                  {"skinny_gemm", "fused_mlp", "rotary_embedding", "decode_attention"}},
                      DecodeModel{"hf_llama",
                                  {"--model", "hf:llama", "--init-args",
                                   R"({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                       "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 256})"},
                                  {"skinny_gemm", "fused_mlp", "rotary_embedding", "decode_attention"}}),
    [](const auto& info) { return info.param.name; });

TEST(ProfileDecode, BadCombinationsAreRefusedBeforeTheModelRuns) {
  const auto llama = k_examples + "/llama.py:Llama";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--decode", "0", "--input-shape", "1,16"}, "--decode must be at least 1, got 0"},
      {{"--prefill", "16", "--input-shape", "1,16"},
       "--prefill is the prompt before --decode's steps, and there is no --decode"},
      {{"--decode", "3", "--prefill", "0", "--input-shape", "1,16"}, "--prefill must be at least 1, got 0"},
      {{"--decode", "3", "--input-shape", "1,16", "--inputs", k_examples + "/lm_loss.py:make_inputs"},
       "--decode makes its own inputs, so it takes no --inputs"},
      {{"--decode", "3", "--input-shape", "1,16", "--iters", "5"},
       "--decode N profiles N decode steps: leave --iters out"},
      {{"--decode", "3", "--input-shape", "1"},
       "--decode needs --input-shape BATCH,PREFILL (or BATCH with --prefill L), got '1'"},
      {{"--decode", "3", "--input-shape", "1,16,4"},
       "--decode needs --input-shape BATCH,PREFILL (or BATCH with --prefill L), got '1,16,4'"},
  };
  for (const auto& [extra, message] : cases) {
    std::vector<std::string> args = {
        "profile", "--model", llama, "--device", "cpu", "--workspace", fresh_dir("decode_bad").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = test::autokernel(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(error_line(r.output), "autokernel: error: " + message) << r.output;
    EXPECT_NE(r.output.find("hint: "), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("profiling "), std::string::npos) << "refused before the model runs: " << r.output;
  }
}

TEST(ProfileDecode, AModelWithoutACacheOrWithTooFewPositionsIsOneErrorLine) {
  const auto ws = fresh_dir("decode_model");
  auto r = test::autokernel({"profile", "--model", k_examples + "/gpt2.py:GPT2", "--decode", "3", "--input-shape",
                             "1,16", "--init-args", R"({"n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 256})",
                             "--device", "cpu", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(error_line(r.output), "autokernel: error: --decode: GPT2 takes no KV cache") << r.output;
  EXPECT_NE(r.output.find("hint: a model takes one through forward(tokens, cache=, start_pos=)"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  r = test::autokernel({"profile", "--model", k_examples + "/llama.py:Llama", "--decode", "3", "--input-shape", "1,40",
                        "--init-args",
                        R"({"dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 86, "vocab_size": 256,
                            "max_seq_len": 32})",
                        "--device", "cpu", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(error_line(r.output),
            "autokernel: error: --decode 3 after a 40-token prefill needs 43 positions, but Llama has 32")
      << r.output;
  EXPECT_NE(r.output.find("hint: a shorter --prefill"), std::string::npos) << r.output;
  (void)util::remove_tree(ws);
}

TEST(ProfileCommand, MakeInputsMayReturnAKvCacheThatEveryStepUses) {
  const auto ws = fresh_dir("inputs_cache");
  const auto r = test::autokernel(
      {"profile", "--model", k_examples + "/llama.py:Llama", "--inputs",
       (test::source_dir() / "tests/data/models/llama_decode_inputs.py").string() + ":make_inputs", "--input-shape",
       "2,16", "--init-args", R"({"dim": 32, "n_layers": 1, "n_heads": 2, "hidden_dim": 86, "vocab_size": 256})",
       "--device", "cpu", "--workspace", ws.string(), "--iters", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("inputs [2,1] int64, KVCache, 16;"), std::string::npos) << r.output;
  const auto j = read_json(ws / "profile.json");
  EXPECT_FALSE(j.contains("workload")) << "the runner cannot know it is a decode step";
  // Each step decodes position 16 against the cache make_inputs filled: the same 17 keys every time.
  const std::vector<AttentionCall> want = {{1, 17}, {1, 17}};
  EXPECT_EQ(attention_in_steps(ws / j["meta"]["trace"].get<std::string>()), want);
  (void)util::remove_tree(ws);
}

/// A workspace holding the profile of the recorded LLaMA CPU trace (no Python needed).
std::filesystem::path workspace_with_llama_profile(const std::string& name) {
  const auto ws = fresh_dir(name);
  std::filesystem::create_directories(ws);
  const auto traces = test::source_dir() / "tests/data/traces";
  auto t = profile::read_trace(traces / "llama.cpu.json");
  auto p = profile::analyze(*t, read_json(traces / "llama.cpu.meta.json"));
  if (!p) throw std::runtime_error(p.error().message);
  if (auto w = util::write_file_atomic(ws / "profile.json", p->to_json().dump(2)); !w) {
    throw std::runtime_error(w.error().message);
  }
  return ws;
}

TEST(ExtractCommand, PutsTheHottestStartersInTheWorkspaceWithTheModelsShapes) {
  const auto ws = workspace_with_llama_profile("extract");
  const auto prof = *profile::ModelProfile::from_json(read_json(ws / "profile.json"));
  const auto r = test::autokernel({"extract", "--workspace", ws.string(), "--top", "3", "--backend", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto supported = prof.supported();
  ASSERT_GE(supported.size(), 4u);
  for (std::size_t i = 0; i < supported.size(); ++i) {
    const auto dir = ws / "kernels" / (supported[i]->name + "_cpu");
    if (i >= 3) {
      EXPECT_FALSE(std::filesystem::exists(dir)) << "only the top 3: " << dir;
      continue;
    }
    ASSERT_TRUE(std::filesystem::exists(dir / "kernel.cpp")) << dir;
    const auto m = read_json(dir / "model.json");
    EXPECT_EQ(m["type"], supported[i]->name);
    EXPECT_DOUBLE_EQ(m["share"].get<double>(), supported[i]->share);
    ASSERT_FALSE(m["shapes"].empty());
    EXPECT_EQ(m["shapes"][0]["dims"].get<std::vector<int64_t>>(), supported[i]->shapes[0].dims);
    EXPECT_EQ(m["shapes"][0]["dtype"], "f32");
    EXPECT_EQ(m["dtype"], "f32");
  }
  // Committed on the run's branch, with the profile they came from.
  EXPECT_NE(test::git(ws, {"log", "-1", "--format=%s", "autokernel/run"}).find("extract from the profile"),
            std::string::npos);
  EXPECT_EQ(test::git(ws, {"status", "--porcelain", "--", "profile.json", "kernels"}), "");
  (void)util::remove_tree(ws);
}

TEST(ExtractCommand, TheHarnessChecksAndTimesTheModelsShapesFirst) {
  const auto ws = workspace_with_llama_profile("extract_bench");
  auto r = test::autokernel({"extract", "--workspace", ws.string(), "--top", "5", "--backend", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The residual add and the norm after it, as the profile found them (4 of the model's 5 norms).
  const auto kernel = ws / "kernels/add_rmsnorm_cpu";
  ASSERT_TRUE(std::filesystem::exists(kernel / "model.json")) << r.output;
  const auto want = read_json(kernel / "model.json")["shapes"][0]["dims"].get<std::vector<int64_t>>();
  // rmsnorm comes along as the fusion's unfused form; uncompiled, it runs every chain the fusion would take,
  // so it is ranked by its own share and the fusion's together.
  const auto fused = read_json(kernel / "model.json")["share"].get<double>();
  const auto unfused = read_json(ws / "kernels/rmsnorm_cpu/model.json");
  EXPECT_GT(fused, unfused["share"].get<double>());
  EXPECT_NEAR(unfused["share_uncompiled"].get<double>(), unfused["share"].get<double>() + fused, 1e-12);
  EXPECT_FALSE(read_json(kernel / "model.json").contains("share_uncompiled"));
  EXPECT_NE(r.output.find("uncompiled: a fusion runs as this type where it cannot fuse"), std::string::npos)
      << r.output;

  ::setenv("AUTOKERNEL_BINARY", AK_BINARY, 1);
  harness::BenchRequest req;
  req.kernel_path = kernel.string();
  req.quick = true;
  req.timing_dtype = "f32";
  std::vector<std::string> sweep_cases;
  auto rep = harness::run_bench(req, [&](const nlohmann::json& ev) {
    if (ev.value("event", "") == "case_start" && ev["stage"] == 2) sweep_cases.push_back(ev.value("case", ""));
  });
  ASSERT_TRUE(rep) << rep.error().message;
  ASSERT_TRUE(rep->passed()) << rep->message;
  ASSERT_FALSE(sweep_cases.empty());
  EXPECT_TRUE(sweep_cases.front().starts_with("model_1")) << sweep_cases.front();  // checked first
  ASSERT_FALSE(rep->timings.empty());
  EXPECT_EQ(rep->timings.front().shape, "model_1");  // timed first
  EXPECT_EQ(rep->timings.front().dims, want);

  // The loop's baseline is timed there too, in the model's dtype.
  r = test::autokernel({"run", "--workspace", ws.string(), "--max-experiments", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = workspace::ResultsLog(ws / "results.tsv").read();
  ASSERT_TRUE(rows && rows->size() == 1) << r.output;
  EXPECT_EQ(rows->front().status, workspace::Status::baseline) << rows->front().description;
  // The first kernel is the one with the largest share of the model's time.
  const auto prof = *profile::ModelProfile::from_json(read_json(ws / "profile.json"));
  EXPECT_EQ(rows->front().kernel, prof.supported().front()->name + "_cpu") << r.output;
  EXPECT_NE(rows->front().description.find("timed at model_1"), std::string::npos) << rows->front().description;
  EXPECT_NE(rows->front().description.find(" f32"), std::string::npos) << rows->front().description;
  (void)util::remove_tree(ws);
}

TEST(ExtractCommand, WithoutAProfileSaysToRunProfileFirst) {
  const auto ws = fresh_dir("no_profile");
  const auto r = test::autokernel({"extract", "--workspace", ws.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(error_line(r.output).find("no profile.json in"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hint: run autokernel profile"), std::string::npos) << r.output;
}

TEST(ExtractCommand, AProfileWithNoSupportedKernelsIsAnError) {
  const auto ws = fresh_dir("unsupported");
  std::filesystem::create_directories(ws);
  profile::ModelProfile p;
  p.basis = "cpu";
  p.total_us = 10;
  p.kernels.push_back({"aten::cumsum", false, 10, 1.0, 1, {"aten::cumsum"}, {}, {}});
  ASSERT_TRUE(util::write_file_atomic(ws / "profile.json", p.to_json().dump()));
  const auto r = test::autokernel({"extract", "--workspace", ws.string(), "--backend", "cpu"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(error_line(r.output).find("the profile has no supported kernels"), std::string::npos) << r.output;
  (void)util::remove_tree(ws);
}

}  // namespace
}  // namespace ak
