// Operators to kernel types and the model's shapes in each type's dims, from recorded op arguments.
#include <gtest/gtest.h>

#include "profile/op_types.hpp"

namespace ak::profile {
namespace {

CpuEvent op(std::string name, nlohmann::json dims, nlohmann::json types, nlohmann::json concrete = nullptr) {
  CpuEvent e;
  e.kind = CpuKind::op;
  e.name = std::move(name);
  e.args["Input Dims"] = std::move(dims);
  e.args["Input type"] = std::move(types);
  if (!concrete.is_null()) e.args["Concrete Inputs"] = std::move(concrete);
  return e;
}

TEST(OpTypes, MapsOperatorNamesNotKernelNames) {
  EXPECT_EQ(type_of_op("aten::addmm"), "matmul");
  EXPECT_EQ(type_of_op("aten::_scaled_dot_product_efficient_attention"), "flash_attention");
  EXPECT_EQ(type_of_op("aten::native_layer_norm"), "layernorm");
  EXPECT_EQ(type_of_op("aten::_fused_rms_norm"), "rmsnorm");
  EXPECT_EQ(type_of_op("aten::nll_loss_nd"), "cross_entropy");
  EXPECT_EQ(type_of_op("aten::amax"), "reduce");
  EXPECT_EQ(type_of_op("aten::gelu"), "gelu");
  EXPECT_EQ(type_of_op("aten::silu"), "");
  EXPECT_EQ(type_of_op("ampere_sgemm_128x64_nn"), "");  // a kernel's name says nothing here
}

TEST(OpTypes, AddmmReadsItsOperandsAfterTheBias) {
  // The bias, one value per column, is the catalogue's 5th dim (the kernel adds it in its epilogue).
  auto c = classify_op(op("aten::addmm", {{256}, {32, 128}, {128, 256}}, {"c10::Half", "c10::Half", "c10::Half"}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dims, (std::vector<int64_t>{32, 256, 128, 0, 1}));
  EXPECT_EQ(c->dtype, "f16");
  // A bias broadcast from [M, N] is not that: a plain matmul.
  c = classify_op(op("aten::addmm", {{32, 256}, {32, 128}, {128, 256}}, {"c10::Half", "c10::Half", "c10::Half"}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dims, (std::vector<int64_t>{32, 256, 128}));
}

TEST(OpTypes, ALinearOfAtMost64RowsIsASkinnyGemm) {
  // A decode step of 8 sequences through Llama-3-8B's gate projection: M = 8 rows, N = 14336, K = 4096, W as
  // it is. One row more than 64 is the matmul type's (in its linear form).
  auto up = classify_op(op("aten::linear", {{8, 1, 4096}, {14336, 4096}, {}}, {"c10::BFloat16", "c10::BFloat16", ""}));
  ASSERT_TRUE(up);
  EXPECT_EQ(up->type, "skinny_gemm");
  EXPECT_EQ(up->dims, (std::vector<int64_t>{8, 14336, 4096}));
  EXPECT_EQ(up->dtype, "bf16");
  auto rows_65 = classify_op(op("aten::linear", {{65, 4096}, {4096, 4096}, {}}, {"float", "float", ""}));
  ASSERT_TRUE(rows_65);
  EXPECT_EQ(rows_65->type, "matmul");
  EXPECT_EQ(rows_65->dims, (std::vector<int64_t>{65, 4096, 4096, 1}));
  // mm / addmm of few rows stay matmul's: their weight is [K, N] (GPT-2's Conv1D), routed to the matmul op.
  for (const auto& [name, dims] : std::vector<std::pair<std::string, std::vector<std::vector<int64_t>>>>{
           {"aten::mm", {{1, 4096}, {4096, 128256}}}, {"aten::addmm", {{256}, {32, 128}, {128, 256}}}}) {
    auto c = classify_op(op(name, dims, {"float", "float", "float"}));
    ASSERT_TRUE(c) << name;
    EXPECT_EQ(c->type, "matmul") << name;
  }
}

TEST(OpTypes, LinearIsTheMatmulOurLinearOpRuns) {
  // x [2, 512, 4096] W^T with W [11008, 4096]: 1024 rows of x (the leading dims folded), 11008 outputs, K = 4096,
  // in the linear form 1 (our op runs x W^T with the weight as it is).
  auto c = classify_op(op("aten::linear", {{2, 512, 4096}, {11008, 4096}, {}}, {"c10::BFloat16", "c10::BFloat16", ""}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dims, (std::vector<int64_t>{1024, 11008, 4096, 1}));
  EXPECT_EQ(c->dtype, "bf16");
  EXPECT_NE(c->note.find("x W^T"), std::string::npos);
  // With a bias: the 5th dim.
  c = classify_op(op("aten::linear", {{2, 512, 4096}, {11008, 4096}, {11008}}, {"float", "float", "float"}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dims, (std::vector<int64_t>{1024, 11008, 4096, 1, 1}));
  // GPT-2's LM head, 50257 outputs: rows x W^T cannot store aligned, so our op runs y^T = W x^T (form 2).
  c = classify_op(op("aten::linear", {{1, 1024, 768}, {50257, 768}, {}}, {"float", "float", ""}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dims, (std::vector<int64_t>{50257, 1024, 768, 2}));
  EXPECT_NE(c->note.find("y^T = W x^T"), std::string::npos);
}

TEST(OpTypes, BatchedMatmulSaysItFoldedTheBatch) {
  auto c = classify_op(op("aten::bmm", {{8, 64, 16}, {8, 16, 64}}, {"float", "float"}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dims, (std::vector<int64_t>{512, 64, 16}));
  EXPECT_FALSE(c->note.empty());
}

TEST(OpTypes, AttentionReadsCausalFromTheConcreteInputs) {
  auto args = nlohmann::json::array({{2, 8, 128, 64}, {2, 8, 128, 64}, {2, 8, 128, 64}, {}, {}, {}, {}, {}});
  auto types =
      nlohmann::json::array({"c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "", "Scalar", "Scalar", "", "Scalar"});
  auto causal =
      classify_op(op("aten::scaled_dot_product_attention", args, types, {"", "", "", "", "0.", "True", "", "False"}));
  auto full =
      classify_op(op("aten::scaled_dot_product_attention", args, types, {"", "", "", "", "0.", "False", "", "False"}));
  ASSERT_TRUE(causal && full);
  EXPECT_EQ(causal->dims, (std::vector<int64_t>{2, 8, 128, 64, 1}));
  EXPECT_EQ(full->dims, (std::vector<int64_t>{2, 8, 128, 64, 0}));  // as many heads: no 6th dim
  EXPECT_EQ(full->note, "");
}

TEST(OpTypes, GroupedQueryAttentionRecordsTheKvHeadsAsTheSixthDim) {
  // F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True), as torch 2.11 records it:
  // Llama-3-8B's 32 query heads over 8 kv heads.
  auto types =
      nlohmann::json::array({"c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "", "Scalar", "Scalar", "", "Scalar"});
  auto gqa = classify_op(op("aten::scaled_dot_product_attention",
                            {{1, 32, 2048, 128}, {1, 8, 2048, 128}, {1, 8, 2048, 128}, {}, {}, {}, {}, {}}, types,
                            {"", "", "", "", "0.", "True", "", "True"}));
  ASSERT_TRUE(gqa);
  EXPECT_EQ(gqa->dims, (std::vector<int64_t>{1, 32, 2048, 128, 1, 8}));
  EXPECT_EQ(gqa->note, "");
  // The flash variants take k and v with their own head count (no enable_gqa argument).
  auto inner =
      classify_op(op("aten::_scaled_dot_product_flash_attention_for_cpu",
                     {{2, 8, 16, 32}, {2, 1, 16, 32}, {2, 1, 16, 32}, {}, {}, {}, {}},
                     {"float", "float", "float", "Scalar", "Scalar", "", ""}, {"", "", "", "0.", "False", "", ""}));
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner->dims, (std::vector<int64_t>{2, 8, 16, 32, 0, 1}));
  // Keys of another length (cross-attention, several new tokens against a cache) are not the type's problem: q
  // and k share S there. One query token against a cache is decode_attention's (the test below).
  EXPECT_FALSE(classify_op(op("aten::scaled_dot_product_attention",
                              {{1, 8, 64, 32}, {1, 2, 96, 32}, {1, 2, 96, 32}, {}, {}, {}, {}, {}}, types,
                              {"", "", "", "", "0.", "False", "", "True"})));
  // Head counts that do not divide are a note.
  auto odd = classify_op(op("aten::scaled_dot_product_attention",
                            {{1, 8, 64, 32}, {1, 3, 64, 32}, {1, 3, 64, 32}, {}, {}, {}, {}, {}}, types,
                            {"", "", "", "", "0.", "False", "", "True"}));
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->dims, (std::vector<int64_t>{1, 8, 64, 32, 0}));
  EXPECT_EQ(odd->note, "keys have 3 heads, queries 8");
}

TEST(OpTypes, OneQueryTokenAgainstTheCacheIsADecodeAttentionOverItsKeys) {
  // Llama-3-8B's decode step, batch 8, as transformers calls SDPA with a DynamicCache: q [8, 32, 1, 128] against
  // the 4096 cached keys (the new token's included) of 8 kv heads, enable_gqa=True, no mask, not causal. L = S:
  // the cache as the model holds it is all valid.
  auto types =
      nlohmann::json::array({"c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "", "Scalar", "Scalar", "", "Scalar"});
  const nlohmann::json step = {{8, 32, 1, 128}, {8, 8, 4096, 128}, {8, 8, 4096, 128}, {}, {}, {}, {}, {}};
  auto gqa =
      classify_op(op("aten::scaled_dot_product_attention", step, types, {"", "", "", "", "0.", "False", "", "True"}));
  ASSERT_TRUE(gqa);
  EXPECT_EQ(gqa->type, "decode_attention");
  EXPECT_EQ(gqa->dims, (std::vector<int64_t>{8, 32, 4096, 128, 4096, 8}));
  EXPECT_EQ(gqa->dtype, "bf16");
  EXPECT_EQ(gqa->note, "");
  // Without enable_gqa SDPA cannot group the heads: not a call the type takes.
  EXPECT_FALSE(
      classify_op(op("aten::scaled_dot_product_attention", step, types, {"", "", "", "", "0.", "False", "", "False"})));
  // Causal with one query and more keys is SDPA's upper-left mask (key 0 alone), not a decode step.
  EXPECT_FALSE(
      classify_op(op("aten::scaled_dot_product_attention", step, types, {"", "", "", "", "0.", "True", "", "True"})));
  // The flash variants (multi-head, the example LLaMA's decode step): no 6th dim.
  auto inner =
      classify_op(op("aten::_scaled_dot_product_flash_attention_for_cpu",
                     {{2, 8, 1, 32}, {2, 8, 17, 32}, {2, 8, 17, 32}, {}, {}, {}, {}},
                     {"float", "float", "float", "Scalar", "Scalar", "", ""}, {"", "", "", "0.", "False", "", ""}));
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner->type, "decode_attention");
  EXPECT_EQ(inner->dims, (std::vector<int64_t>{2, 8, 17, 32, 17}));
  // A mask is said: the package takes the call only without one.
  auto masked = classify_op(op("aten::scaled_dot_product_attention",
                               {{1, 4, 1, 64}, {1, 4, 9, 64}, {1, 4, 9, 64}, {1, 1, 1, 9}, {}, {}, {}, {}}, types,
                               {"", "", "", "", "0.", "False", "", "False"}));
  ASSERT_TRUE(masked);
  EXPECT_EQ(masked->dims, (std::vector<int64_t>{1, 4, 9, 64, 9}));
  EXPECT_EQ(masked->note, "with an explicit mask");
}

TEST(OpTypes, SoftmaxOverAnInnerDimKeepsTheWork) {
  auto last = classify_op(op("aten::softmax", {{4, 8, 32}, {}, {}}, {"float", "Scalar", ""}, {"", "-1", ""}));
  auto inner = classify_op(op("aten::softmax", {{4, 8, 32}, {}, {}}, {"float", "Scalar", ""}, {"", "1", ""}));
  ASSERT_TRUE(last && inner);
  EXPECT_EQ(last->dims, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(inner->dims, (std::vector<int64_t>{128, 8}));  // 4 x 32 rows of 8
  EXPECT_FALSE(inner->note.empty());
}

TEST(OpTypes, SumOfEveryElementIsOneRow) {
  auto c = classify_op(op("aten::sum", {{16, 1000}, {}}, {"float", ""}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dims, (std::vector<int64_t>{1, 16000}));
}

TEST(OpTypes, CrossEntropyTakesClassesFromDimOne) {
  auto flat = classify_op(op("aten::cross_entropy_loss", {{4096, 32000}, {4096}}, {"float", "long int"}));
  auto spatial = classify_op(op("aten::cross_entropy_loss", {{2, 1000, 7}, {2, 7}}, {"float", "long int"}));
  ASSERT_TRUE(flat && spatial);
  EXPECT_EQ(flat->dims, (std::vector<int64_t>{4096, 32000}));
  EXPECT_EQ(spatial->dims, (std::vector<int64_t>{14, 1000}));
}

TEST(OpTypes, AnOpWithoutRecordedShapesIsNotClassified) {
  CpuEvent e;
  e.name = "aten::mm";
  EXPECT_FALSE(classify_op(e));  // a trace recorded without record_shapes=True
}

/// A module scope holding some ops, built as parse_trace would nest them.
Trace scope_with(const std::string& cls, const std::vector<CpuEvent>& ops) {
  Trace t;
  CpuEvent s;
  s.kind = CpuKind::scope;
  s.name = "ak.module:" + cls + ":m";
  s.module_class = cls;
  s.module_path = "m";
  t.cpu.push_back(s);
  for (const auto& o : ops) {
    t.cpu.push_back(o);
    t.cpu.back().parent = 0;
    t.cpu[0].children.push_back(static_cast<int>(t.cpu.size()) - 1);
  }
  return t;
}

TEST(OpTypes, AGeluMlpIsNotAFusedSwiGlu) {
  auto lin = op("aten::linear", {{64, 32}, {128, 32}, {}}, {"float", "float", ""});
  auto gelu = op("aten::gelu", {{64, 128}}, {"float"});
  auto silu = op("aten::silu", {{64, 128}}, {"float"});
  auto down = op("aten::linear", {{64, 128}, {32, 128}, {}}, {"float", "float", ""});
  EXPECT_FALSE(classify_scope(scope_with("MLP", {lin, gelu, down}), 0));
  auto swiglu = classify_scope(scope_with("LlamaMLP", {lin, silu, lin, down}), 0);
  ASSERT_TRUE(swiglu);
  EXPECT_EQ(swiglu->type, "fused_mlp");
  EXPECT_EQ(swiglu->dims, (std::vector<int64_t>{64, 32, 128}));  // M, E, F
}

TEST(OpTypes, GeluIsRowsTimesColumnsInTheRecordedForm) {
  // GPT-2's MLP activation over [2, 64, 3072]: F.gelu(approximate="tanh") records the string quoted.
  auto tanh = classify_op(op("aten::gelu", {{2, 64, 3072}, {}}, {"c10::BFloat16", ""}, {"", "'tanh'"}));
  ASSERT_TRUE(tanh);
  EXPECT_EQ(tanh->type, "gelu");
  EXPECT_EQ(tanh->dims, (std::vector<int64_t>{128, 3072, 1}));
  EXPECT_EQ(tanh->dtype, "bf16");
  EXPECT_EQ(tanh->note, "");
  auto erf = classify_op(op("aten::gelu", {{64, 256}, {}}, {"float", ""}, {"", "'none'"}));
  ASSERT_TRUE(erf);
  EXPECT_EQ(erf->dims, (std::vector<int64_t>{64, 256, 0}));
  // A trace that kept no string (the recorded example traces): aten's default, said so.
  auto unknown = classify_op(op("aten::gelu", {{64, 256}, {}}, {"float", ""}));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->dims, (std::vector<int64_t>{64, 256, 0}));
  EXPECT_EQ(unknown->note, "approximate not recorded: the erf form assumed");
}

TEST(OpTypes, ARotaryModuleThatOnlyBuildsTablesIsNotARotaryKernel) {
  // Like transformers' LlamaRotaryEmbedding: cos/sin from positions, no [B, H, S, D] tensor touched.
  auto tables = op("aten::matmul", {{1, 32, 1}, {1, 1, 64}}, {"float", "float"});
  EXPECT_FALSE(classify_scope(scope_with("LlamaRotaryEmbedding", {tables}), 0));
  auto apply = op("aten::mul", {{1, 32, 64, 128}, {64, 64}}, {"c10::BFloat16", "c10::BFloat16"});
  auto r = classify_scope(scope_with("RotaryEmbedding", {apply}), 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dims, (std::vector<int64_t>{1, 32, 64, 128, 32, 0}));  // B,H,S,D, HKV = H, interleaved
}

const nlohmann::json k_bf16x2 = {"c10::BFloat16", "c10::BFloat16"};

TEST(OpTypes, ARotaryModuleReadsKvHeadsFromKAndSeesRotateHalf) {
  // q [1, 32, 64, 128], k [1, 8, 64, 128] (GQA), each as x * cos + cat(-x2, x1) * sin.
  std::vector<CpuEvent> ops;
  for (int64_t heads : {32, 8}) {
    ops.push_back(op("aten::mul", {{1, heads, 64, 128}, {1, 1, 64, 128}}, k_bf16x2));
    ops.push_back(op("aten::neg", {{1, heads, 64, 64}}, {"c10::BFloat16"}));
    ops.push_back(op("aten::cat", {{{1, heads, 64, 64}, {1, heads, 64, 64}}, {}}, {"TensorList", "Scalar"}));
    ops.push_back(
        op("aten::add", {{1, heads, 64, 128}, {1, heads, 64, 128}, {}}, {"c10::BFloat16", "c10::BFloat16", "Scalar"}));
  }
  auto r = classify_scope(scope_with("MyRotaryEmbedding", ops), 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dims, (std::vector<int64_t>{1, 32, 64, 128, 8, 1}));
  EXPECT_EQ(r->dtype, "bf16");
  // Interleaved (pairs stacked, no cat): style 0.
  auto stacked = classify_scope(scope_with("RoPE", {ops[0], ops[1], ops[3], ops[4]}), 0);
  ASSERT_TRUE(stacked);
  EXPECT_EQ(stacked->dims, (std::vector<int64_t>{1, 32, 64, 128, 8, 0}));
}

/// A declared-kind scope (ak.kind:<type>:<variant>:m) holding some ops.
Trace kind_with(const std::string& type, const std::string& variant, const std::vector<CpuEvent>& ops) {
  Trace t = scope_with("", ops);
  t.cpu[0].name = "ak.kind:" + type + ":" + (variant.empty() ? "-" : variant) + ":m";
  t.cpu[0].module_class.clear();
  t.cpu[0].kind_type = type;
  t.cpu[0].kind_variant = variant;
  return t;
}

TEST(OpTypes, ADeclaredKindIsThatTypeWhateverItsOps) {
  const auto q = op("aten::mul", {{2, 4, 16, 64}, {16, 32}}, {"float", "float"});
  const auto k = op("aten::mul", {{2, 1, 16, 64}, {16, 32}}, {"float", "float"});
  auto half = classify_scope(kind_with("rotary_embedding", "half", {q, k}), 0);
  ASSERT_TRUE(half);
  EXPECT_EQ(half->type, "rotary_embedding");
  EXPECT_EQ(half->dims, (std::vector<int64_t>{2, 4, 16, 64, 1, 1}));  // the variant alone says rotate-half
  auto pairs = classify_scope(kind_with("rotary_embedding", "interleaved", {q}), 0);
  ASSERT_TRUE(pairs);
  EXPECT_EQ(pairs->dims, (std::vector<int64_t>{2, 4, 16, 64, 4, 0}));
  // Nothing of [B, H, S, D] ran: no dims to give, so no claim.
  EXPECT_FALSE(classify_scope(kind_with("rotary_embedding", "half", {op("aten::mul", {{16, 32}}, {"float"})}), 0));
  // A SwiGLU whose gate is x * sigmoid(x): three matmuls are enough once declared.
  auto lin = op("aten::linear", {{64, 32}, {128, 32}, {}}, {"float", "float", ""});
  auto sig = op("aten::sigmoid", {{64, 128}}, {"float"});
  auto down = op("aten::linear", {{64, 128}, {32, 128}, {}}, {"float", "float", ""});
  EXPECT_FALSE(classify_scope(scope_with("LlamaMLP", {lin, sig, lin, down}), 0));
  auto mlp = classify_scope(kind_with("fused_mlp", "", {lin, sig, lin, down}), 0);
  ASSERT_TRUE(mlp);
  EXPECT_EQ(mlp->dims, (std::vector<int64_t>{64, 32, 128}));
  // Phi-3's form: gate and up in one projection E -> 2F, then down F -> E.
  auto gate_up = op("aten::linear", {{64, 32}, {256, 32}, {}}, {"float", "float", ""});
  auto fused = classify_scope(kind_with("fused_mlp", "", {gate_up, sig, down}), 0);
  ASSERT_TRUE(fused);
  EXPECT_EQ(fused->dims, (std::vector<int64_t>{64, 32, 128}));
  EXPECT_FALSE(classify_scope(kind_with("fused_mlp", "", {gate_up}), 0));  // one matmul is not an MLP
  auto norm = classify_scope(kind_with("rmsnorm", "", {op("aten::pow", {{8, 256}, {}}, {"float", "Scalar"})}), 0);
  ASSERT_TRUE(norm);
  EXPECT_EQ(norm->dims, (std::vector<int64_t>{8, 256}));
  // GELU from pieces (GPT-2's NewGELUActivation: mul, pow, add, tanh) under the module route's scope.
  const auto cube = op("aten::pow", {{2, 8, 3072}, {}}, {"float", "Scalar"});
  const auto th = op("aten::tanh", {{2, 8, 3072}}, {"float"});
  auto gelu = classify_scope(kind_with("gelu", "tanh", {cube, th}), 0);
  ASSERT_TRUE(gelu);
  EXPECT_EQ(gelu->dims, (std::vector<int64_t>{16, 3072, 1}));
  auto exact = classify_scope(kind_with("gelu", "none", {op("aten::erf", {{16, 64}}, {"float"})}), 0);
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->dims, (std::vector<int64_t>{16, 64, 0}));
  // A type with no scope form here leaves its ops to be counted one by one.
  EXPECT_FALSE(classify_scope(kind_with("softmax", "", {op("aten::softmax", {{8, 256}}, {"float"})}), 0));
}

TEST(OpTypes, AGeluGatedMlpIsFusedMlpWithItsFormAsAct) {
  // Gemma's MLP: gate and up read x [64, 32] into 128, GELU on the gate, down back to 32: M,E,F,ACT.
  const auto lin = op("aten::linear", {{64, 32}, {128, 32}, {}}, {"float", "float", ""});
  const auto down = op("aten::linear", {{64, 128}, {32, 128}, {}}, {"float", "float", ""});
  const auto tanh = op("aten::gelu", {{64, 128}, {}}, {"float", ""}, {"", "'tanh'"});
  const auto erf = op("aten::gelu", {{64, 128}, {}}, {"float", ""}, {"", "'none'"});
  auto gemma = classify_scope(scope_with("GemmaMLP", {lin, tanh, lin, down}), 0);
  ASSERT_TRUE(gemma);
  EXPECT_EQ(gemma->type, "fused_mlp");
  EXPECT_EQ(gemma->dims, (std::vector<int64_t>{64, 32, 128, 1}));
  auto exact = classify_scope(scope_with("MLP", {lin, erf, lin, down}), 0);
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->dims, (std::vector<int64_t>{64, 32, 128, 2}));
  auto unrecorded = classify_scope(scope_with("MLP", {lin, op("aten::gelu", {{64, 128}}, {"float"}), lin, down}), 0);
  ASSERT_TRUE(unrecorded);
  EXPECT_EQ(unrecorded->dims, (std::vector<int64_t>{64, 32, 128, 2}));
  EXPECT_EQ(unrecorded->note, "GELU's approximate not recorded: the erf form assumed");
  // Three layers in a row (32 -> 128 -> 128 -> 32) are not gated: left to their parts.
  const auto mid = op("aten::linear", {{64, 128}, {128, 128}, {}}, {"float", "float", ""});
  EXPECT_FALSE(classify_scope(scope_with("MLP", {lin, tanh, mid, down}), 0));
  // Declared by the package's route: the variant names the form, silu's ("-") keeps three dims.
  auto declared = classify_scope(kind_with("fused_mlp", "gelu_tanh", {lin, lin, down}), 0);
  ASSERT_TRUE(declared);
  EXPECT_EQ(declared->dims, (std::vector<int64_t>{64, 32, 128, 1}));
  auto declared_erf = classify_scope(kind_with("fused_mlp", "gelu_erf", {lin, lin, down}), 0);
  ASSERT_TRUE(declared_erf);
  EXPECT_EQ(declared_erf->dims, (std::vector<int64_t>{64, 32, 128, 2}));
  auto swiglu = classify_scope(kind_with("fused_mlp", "", {lin, lin, down}), 0);
  ASSERT_TRUE(swiglu);
  EXPECT_EQ(swiglu->dims, (std::vector<int64_t>{64, 32, 128}));
}

TEST(OpTypes, DtypeNames) {
  EXPECT_EQ(dtype_of("float"), "f32");
  EXPECT_EQ(dtype_of("c10::Half"), "f16");
  EXPECT_EQ(dtype_of("c10::BFloat16"), "bf16");
}

}  // namespace
}  // namespace ak::profile
