// The trace analysis on recorded traces (tests/data/traces/): what each example model must be found to
// run, at the shapes its recorded config implies, and a hand-written CUDA-format trace whose every
// number is worked out below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include "catalog/kernel_type.hpp"
#include "profile/op_types.hpp"
#include "profile/profile.hpp"
#include "profile/trace.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak::profile {
namespace {

std::filesystem::path traces_dir() { return test::source_dir() / "tests/data/traces"; }

const KernelUse* row(const ModelProfile& p, const std::string& name) {
  for (const auto& k : p.kernels) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

bool has_shape(const KernelUse* k, const std::vector<int64_t>& dims, const std::string& dtype) {
  if (!k) return false;
  for (const auto& s : k->shapes) {
    if (s.dims == dims && s.dtype == dtype) return true;
  }
  return false;
}

std::string shapes_of(const KernelUse* k) {
  if (!k) return "(no such row)";
  std::string out;
  for (const auto& s : k->shapes) out += catalog::shape_string(s.dims) + " " + s.dtype + "; ";
  return out;
}

void expect_adds_up(const ModelProfile& p) {
  double time = 0, share = 0;
  for (const auto& k : p.kernels) {
    time += k.time_us;
    share += k.share;
    double shape_time = 0;
    for (const auto& s : k.shapes) shape_time += s.time_us;
    if (k.supported) {
      EXPECT_NEAR(shape_time, k.time_us, 1e-6 * p.total_us) << k.name;
    }
  }
  EXPECT_NEAR(time, p.total_us, 1e-6 * p.total_us);
  EXPECT_NEAR(share, 1.0, 1e-9);
}

TEST(SyntheticCudaTrace, LinksEveryKernelToItsLaunchByCorrelationOrFlow) {
  auto t = read_trace(traces_dir() / "synthetic/cuda_format.json");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->gpu.size(), 10u);  // 8 kernels (one outside the step) + 1 memcpy + the orphan; no annotation
  std::map<std::string, std::string> launched_by;
  for (const auto& g : t->gpu) launched_by[g.name] = g.launch >= 0 ? t->cpu[g.launch].name : "";
  EXPECT_EQ(launched_by["flash_fwd_kernel"], "cudaLaunchKernel");  // only its ac2g flow says so
  EXPECT_EQ(launched_by["sm90_xmma_gemm_bf16bf16_bf16f32"], "cudaLaunchKernel");
  EXPECT_EQ(launched_by["Memcpy DtoD (Device -> Device)"], "cudaMemcpyAsync");
  EXPECT_EQ(launched_by["orphan_kernel"], "");
}

TEST(SyntheticCudaTrace, AttributesGpuTimeThroughTheLaunchingOpAndModule) {
  auto t = read_trace(traces_dir() / "synthetic/cuda_format.json");
  ASSERT_TRUE(t);
  auto p = analyze(*t, {});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->basis, "gpu");
  EXPECT_EQ(p->steps, 1);
  // rmsnorm: the RMSNorm module's pow, mean and mul kernels, 10 + 6 + 4 us.
  // skinny_gemm (4 tokens): linear -> matmul -> mm -> cuLaunchKernelEx, 50 us. flash_attention: 80 us, causal.
  // gelu: 20 us (tanh). The copy's memcpy 8 is unsupported; 12 us were launched outside any op, and the
  // orphan's 3 us have no launch. The mm after the step (40 us) is not counted. 193 us in all.
  EXPECT_DOUBLE_EQ(p->total_us, 193.0);
  const std::map<std::string, double> want = {{"rmsnorm", 20},
                                              {"skinny_gemm", 50},
                                              {"flash_attention", 80},
                                              {"gelu", 20},
                                              {"aten::copy_", 8},
                                              {std::string(k_no_op_row), 12},
                                              {std::string(k_unlinked_row), 3}};
  ASSERT_EQ(p->kernels.size(), want.size());
  for (const auto& [name, us] : want) {
    const auto* k = row(*p, name);
    ASSERT_TRUE(k) << name;
    EXPECT_DOUBLE_EQ(k->time_us, us) << name;
    EXPECT_EQ(k->supported, name == "rmsnorm" || name == "skinny_gemm" || name == "flash_attention" || name == "gelu")
        << name;
  }
  EXPECT_EQ(p->kernels.front().name, "flash_attention");  // ranked by time
  EXPECT_TRUE(has_shape(row(*p, "rmsnorm"), {4, 128}, "bf16")) << shapes_of(row(*p, "rmsnorm"));
  EXPECT_TRUE(has_shape(row(*p, "skinny_gemm"), {4, 256, 128}, "bf16")) << shapes_of(row(*p, "skinny_gemm"));
  EXPECT_TRUE(has_shape(row(*p, "gelu"), {4, 256, 1}, "bf16")) << shapes_of(row(*p, "gelu"));
  EXPECT_TRUE(has_shape(row(*p, "flash_attention"), {1, 2, 4, 64, 1}, "bf16"));
  EXPECT_EQ(row(*p, "rmsnorm")->ops, std::vector<std::string>{"RMSNorm module"});
  EXPECT_EQ(row(*p, "rmsnorm")->shapes.front().modules, std::vector<std::string>{"norm"});
  EXPECT_EQ(row(*p, "skinny_gemm")->gpu_kernels, std::vector<std::string>{"sm90_xmma_gemm_bf16bf16_bf16f32"});
  expect_adds_up(*p);
}

/// What each example model's recorded trace must show, at the configs of bench/record_traces.sh.
struct Expectation {
  std::string type;
  std::vector<int64_t> dims;
};
const std::map<std::string, std::vector<Expectation>> k_expected = {
    // dim 64, 4 heads of 16, hidden 172, vocab 512, 64 tokens.
    {"llama",
     {{"skinny_gemm", {64, 192, 64}},              // qkv: 64 tokens, a linear of at most 64 rows
      {"skinny_gemm", {64, 512, 64}},              // lm_head
      {"rmsnorm", {64, 64}},                       // the first layer's first norm, of the embeddings
      {"add_rmsnorm", {64, 64}},                   // every other norm, with the residual add before it
      {"rotary_embedding", {1, 4, 64, 16, 4, 0}},  // q and k (4 heads each), interleaved
      {"fused_mlp", {64, 64, 172}},
      {"flash_attention", {1, 4, 64, 16, 1}}}},
    // n_embd 64, 4 heads, vocab 512, 64 tokens; its MLP is GELU, so no fused_mlp.
    {"gpt2",
     {{"skinny_gemm", {64, 192, 64}},
      {"skinny_gemm", {64, 256, 64}},
      {"layernorm", {64, 64}},
      {"flash_attention", {1, 4, 64, 16, 1}}}},
    // hidden 64, 4 heads: attention written out, so softmax over [1, 4, 64, 64] and batched matmuls.
    {"bert",
     {{"softmax", {256, 64}}, {"matmul", {256, 64, 16}}, {"skinny_gemm", {64, 256, 64}}, {"layernorm", {64, 64}}}},
    // 2 x 64 tokens (128 rows: matmul's), vocab 4096, dim 64.
    {"lm_loss", {{"cross_entropy", {128, 4096}}, {"matmul", {128, 4096, 64, 1}}, {"layernorm", {128, 64}}}},
};
/// Rows that must not appear: work a module scope claimed, or a type the model does not have.
const std::map<std::string, std::vector<std::string>> k_absent = {
    {"llama", {"aten::silu", "aten::pow", "aten::rsqrt", "reduce", "aten::stack", "layernorm", "aten::add"}},
    {"gpt2", {"fused_mlp", "rmsnorm", "softmax"}},
    {"bert", {"flash_attention", "fused_mlp"}},
    {"lm_loss", {"aten::log_softmax", "aten::nll_loss", "flash_attention"}},
};

TEST(RecordedTraces, EachExampleModelShowsItsKernelTypesAtItsOwnShapes) {
  int checked = 0;
  static const std::regex k_trace_name(R"(([a-z0-9_]+)\.(cpu|cuda)\.json)");
  for (const auto& entry : std::filesystem::directory_iterator(traces_dir())) {
    std::smatch m;
    const auto file = entry.path().filename().string();
    if (!std::regex_match(file, m, k_trace_name)) continue;
    SCOPED_TRACE(file);
    const auto model = m[1].str(), device = m[2].str();
    auto meta_text = util::read_file(traces_dir() / (model + "." + device + ".meta.json"));
    ASSERT_TRUE(meta_text) << "each trace comes with its meta";
    const auto meta = nlohmann::json::parse(*meta_text);
    auto t = read_trace(entry.path());
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->has_gpu(), device == "cuda");
    auto p = analyze(*t, meta);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->basis, device == "cuda" ? "gpu" : "cpu");
    EXPECT_EQ(p->steps, meta["iterations"].get<int>());
    expect_adds_up(*p);
    const auto dtype = meta["dtype"] == "fp32" ? "f32" : meta["dtype"] == "fp16" ? "f16" : "bf16";
    ASSERT_TRUE(k_expected.contains(model)) << "add the expectations of " << model;
    for (const auto& e : k_expected.at(model)) {
      const auto* k = row(*p, e.type);
      EXPECT_TRUE(has_shape(k, e.dims, dtype))
          << e.type << " " << catalog::shape_string(e.dims) << " not among " << shapes_of(k);
      if (k) {
        EXPECT_TRUE(k->supported);
      }
    }
    for (const auto& name : k_absent.at(model)) EXPECT_FALSE(row(*p, name)) << name << " should have been claimed";
    // Calls per step follow from the config: llama has 2 layers, each with 2 RMSNorms, plus the final one;
    // all but the first read the residual add just before them (h = x + attention(...), then the next
    // norm of h), so 4 are add_rmsnorm and 1 rmsnorm; and one rotary call rotating q and k. The CUDA trace was recorded
    // before the rotary module took both (it was called once for q and once for k then), so it shows two per layer,
    // each read as q with k alike.
    if (model == "llama") {
      EXPECT_DOUBLE_EQ(row(*p, "rmsnorm")->calls, 1.0);
      ASSERT_TRUE(row(*p, "add_rmsnorm"));
      EXPECT_DOUBLE_EQ(row(*p, "add_rmsnorm")->calls, 4.0);
      EXPECT_NE(std::find(row(*p, "add_rmsnorm")->ops.begin(), row(*p, "add_rmsnorm")->ops.end(),
                          "RMSNorm module + aten::add"),
                row(*p, "add_rmsnorm")->ops.end());
      EXPECT_DOUBLE_EQ(row(*p, "rotary_embedding")->calls, device == "cpu" ? 2.0 : 4.0);
    }
    ++checked;
  }
  EXPECT_GE(checked, 4) << "the four example models' CPU traces are committed";
}

const ShapeUse* shape_of(const KernelUse* k, const std::vector<int64_t>& dims) {
  if (!k) return nullptr;
  for (const auto& s : k->shapes) {
    if (s.dims == dims) return &s;
  }
  return nullptr;
}

TEST(SyntheticKindScopes, TheRunnersDeclaredKindsParse) {
  auto t = read_trace(traces_dir() / "synthetic/kind_scopes.json");
  ASSERT_TRUE(t) << t.error().message;
  std::map<std::string, const CpuEvent*> by_name;
  for (const auto& e : t->cpu) by_name[e.name] = &e;
  const auto* half = by_name["ak.kind:rotary_embedding:half:model.layers.0.self_attn"];
  ASSERT_TRUE(half);
  EXPECT_EQ(half->kind, CpuKind::scope);
  EXPECT_EQ(half->kind_type, "rotary_embedding");
  EXPECT_EQ(half->kind_variant, "half");
  EXPECT_EQ(half->module_path, "model.layers.0.self_attn");
  EXPECT_EQ(half->module_class, "");
  const auto* norm = by_name["ak.kind:rmsnorm:-:model.norm"];
  ASSERT_TRUE(norm);
  EXPECT_EQ(norm->kind_type, "rmsnorm");
  EXPECT_EQ(norm->kind_variant, "");  // "-": no variant
  EXPECT_EQ(norm->module_path, "model.norm");
}

TEST(SyntheticKindScopes, EachDeclaredKindClaimsItsOpsAsThatType) {
  auto t = read_trace(traces_dir() / "synthetic/kind_scopes.json");
  ASSERT_TRUE(t);
  auto p = analyze(*t, {});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->basis, "cpu");
  // rotary_embedding: the rotate-half scope's 16 ops (unsqueeze, mul, slice, neg, cat, add), 85 us, and the
  // PositionMixer's interleaved one, 52 us. fused_mlp: 133 us, rmsnorm: 45 us, skinny_gemm (8 tokens): the q
  // projection and the lm head, 30 + 50 us. 395 us in all, and no other row: every elementwise op was claimed.
  EXPECT_DOUBLE_EQ(p->total_us, 395.0);
  const std::map<std::string, std::pair<double, double>> want = {
      {"rotary_embedding", {137, 2}}, {"fused_mlp", {133, 1}}, {"rmsnorm", {45, 1}}, {"skinny_gemm", {80, 2}}};
  std::string rows;
  for (const auto& k : p->kernels) rows += k.name + " ";
  ASSERT_EQ(p->kernels.size(), want.size()) << rows;
  for (const auto& [name, time_calls] : want) {
    const auto* k = row(*p, name);
    ASSERT_TRUE(k) << name;
    EXPECT_TRUE(k->supported) << name;
    EXPECT_DOUBLE_EQ(k->time_us, time_calls.first) << name;
    EXPECT_DOUBLE_EQ(k->calls, time_calls.second) << name;
  }
  // The rotate-half scope: q [1, 4, 8, 64], k with 2 heads, style 1.
  const auto* rotary = row(*p, "rotary_embedding");
  const auto* half = shape_of(rotary, {1, 4, 8, 64, 2, 1});
  ASSERT_TRUE(half) << shapes_of(rotary);
  EXPECT_EQ(half->dtype, "f32");
  EXPECT_DOUBLE_EQ(half->time_us, 85.0);
  EXPECT_DOUBLE_EQ(half->calls, 1.0);
  EXPECT_EQ(half->modules, std::vector<std::string>{"model.layers.0.self_attn"});
  // A class name no rule matches (PositionMixer) is claimed through its declared kind: interleaved, k like q.
  const auto* mixer = shape_of(rotary, {2, 8, 16, 32, 8, 0});
  ASSERT_TRUE(mixer) << shapes_of(rotary);
  EXPECT_DOUBLE_EQ(mixer->time_us, 52.0);
  EXPECT_EQ(mixer->modules, std::vector<std::string>{"model.layers.0.mixer"});
  EXPECT_EQ(rotary->ops,
            (std::vector<std::string>{"ak.kind rotary_embedding:half", "ak.kind rotary_embedding:interleaved"}));
  // RMSNormedMLP, which the rmsnorm rule matches, declared fused_mlp inside it: the declared type wins, and
  // its gate needs no aten::silu. The final norm's declared kind sits outside its module scope: one call.
  EXPECT_TRUE(has_shape(row(*p, "fused_mlp"), {8, 256, 688}, "f32")) << shapes_of(row(*p, "fused_mlp"));
  EXPECT_EQ(row(*p, "fused_mlp")->ops, std::vector<std::string>{"ak.kind fused_mlp"});
  EXPECT_TRUE(has_shape(row(*p, "rmsnorm"), {8, 256}, "f32"));
  EXPECT_EQ(row(*p, "rmsnorm")->ops, std::vector<std::string>{"ak.kind rmsnorm"});
  EXPECT_TRUE(has_shape(row(*p, "skinny_gemm"), {8, 256, 256}, "f32"));
  EXPECT_TRUE(has_shape(row(*p, "skinny_gemm"), {8, 512, 256}, "f32"));
  expect_adds_up(*p);
}

TEST(SyntheticKindScopes, WithoutThemTheClassNamesDecideAsBefore) {
  // The same step as an older runner records it: no ak.kind scopes.
  auto doc = nlohmann::json::parse(*util::read_file(traces_dir() / "synthetic/kind_scopes.json"));
  auto& events = doc["traceEvents"];
  events.erase(std::remove_if(events.begin(), events.end(),
                              [](const nlohmann::json& e) { return e.value("name", "").starts_with("ak.kind:"); }),
               events.end());
  auto t = parse_trace(doc.dump());
  ASSERT_TRUE(t);
  auto p = analyze(*t, {});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_DOUBLE_EQ(p->total_us, 395.0);
  EXPECT_FALSE(row(*p, "rotary_embedding"));  // LlamaAttention and PositionMixer match no rule
  EXPECT_FALSE(row(*p, "fused_mlp"));
  ASSERT_TRUE(row(*p, "aten::neg"));
  EXPECT_FALSE(row(*p, "aten::neg")->supported);
  ASSERT_TRUE(row(*p, "rmsnorm"));
  EXPECT_DOUBLE_EQ(row(*p, "rmsnorm")->calls, 2.0);  // RMSNorm, and RMSNormedMLP by its name
  EXPECT_DOUBLE_EQ(row(*p, "rmsnorm")->time_us, 133.0 + 45.0);
  expect_adds_up(*p);
}

TEST(ModelProfile, RoundTripsThroughItsJson) {
  auto t = read_trace(traces_dir() / "llama.cpu.json");
  ASSERT_TRUE(t);
  auto p = analyze(*t, {{"model", "llama"}});
  ASSERT_TRUE(p);
  auto back = ModelProfile::from_json(p->to_json());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->to_json(), p->to_json());
  EXPECT_EQ(back->meta["model"], "llama");
}

TEST(ModelProfile, RejectsAJsonOfAnotherVersion) {
  auto j = nlohmann::json{{"version", 7}};
  EXPECT_FALSE(ModelProfile::from_json(j));
}

TEST(ModelProfile, AmdahlEstimateOfOneRowTwiceAsFast) {
  KernelUse k;
  k.share = 0.5;  // half the time made 2x faster: 1 / (0.5 + 0.25)
  EXPECT_DOUBLE_EQ(k.speedup_if_2x(), 1.0 / 0.75);
}

TEST(ParseTrace, DeclaredKindScopesOfEveryForm) {
  auto t = parse_trace(R"({"traceEvents": [
    {"ph": "X", "cat": "user_annotation", "name": "ak.kind:rotary_embedding:half:<root>",
      "ts": 0, "dur": 10, "pid": 1, "tid": 1},
    {"ph": "X", "cat": "user_annotation", "name": "ak.kind:rmsnorm", "ts": 20, "dur": 10, "pid": 1, "tid": 1},
    {"ph": "X", "cat": "user_annotation", "name": "ak.kind:fused_mlp:-:blocks.0:mlp",
      "ts": 40, "dur": 10, "pid": 1, "tid": 1},
    {"ph": "X", "cat": "user_annotation", "name": "ak.kind::-:x", "ts": 60, "dur": 10, "pid": 1, "tid": 1}]})");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->cpu.size(), 4u);
  EXPECT_EQ(t->cpu[0].kind_type, "rotary_embedding");
  EXPECT_EQ(t->cpu[0].kind_variant, "half");
  EXPECT_EQ(t->cpu[0].module_path, "");  // the root module
  EXPECT_EQ(t->cpu[1].kind_type, "rmsnorm");
  EXPECT_EQ(t->cpu[1].kind_variant, "");
  EXPECT_EQ(t->cpu[2].module_path, "blocks.0:mlp");  // the rest after the variant, colons and all
  EXPECT_EQ(t->cpu[3].kind_type, "");                // no type: an ordinary scope
  EXPECT_EQ(t->cpu[3].kind, CpuKind::scope);
}

TEST(ParseTrace, ReportsWhatIsWrongWithTheFile) {
  EXPECT_FALSE(parse_trace("not json"));
  auto r = parse_trace(R"({"schemaVersion": 1})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("traceEvents"), std::string::npos);
  auto empty = parse_trace(R"({"traceEvents": []})");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(analyze(*empty, {}));  // nothing to attribute: an error, not a table of zeros
}

}  // namespace
}  // namespace ak::profile
