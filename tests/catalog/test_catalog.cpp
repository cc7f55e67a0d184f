// The catalogue: thirteen types, their shapes, their oracles and their formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "catalog/kernel_type.hpp"

namespace ak::catalog {
namespace {

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

TEST(Catalog, RegistersTheThirteenKernelTypes) {
  std::vector<std::string> names;
  for (const auto& t : all_types()) names.emplace_back(t->name());
  EXPECT_EQ(names, (std::vector<std::string>{"matmul", "softmax", "layernorm", "rmsnorm", "cross_entropy",
                                             "rotary_embedding", "reduce", "flash_attention", "fused_mlp",
                                             "add_rmsnorm", "skinny_gemm", "gelu", "decode_attention"}));
}

TEST(Catalog, AnUnknownTypeNamesTheKnownOnes) {
  auto t = find_type("conv2d");
  ASSERT_FALSE(t.has_value());
  EXPECT_NE(t.error().message.find("unknown kernel type 'conv2d'"), std::string::npos);
  EXPECT_NE(t.error().message.find("fused_mlp"), std::string::npos);
}

TEST(Catalog, EveryTypeSweepsEightToTenShapesAndEdgesIncludeNonPowersOfTwo) {
  for (const auto& t : all_types()) {
    const auto sweep = t->sweep_shapes();
    EXPECT_GE(sweep.size(), 8u) << t->name();
    EXPECT_LE(sweep.size(), 10u) << t->name();
    bool odd = false;
    for (const auto& s : t->edge_shapes()) {
      for (auto d : s.dims) odd |= d > 1 && !is_power_of_two(d);
    }
    EXPECT_TRUE(odd) << t->name() << " has no non-power-of-two edge size";
    EXPECT_FALSE(t->adversarial_generators().empty()) << t->name();
    EXPECT_FALSE(t->bench_shapes().empty()) << t->name();
  }
}

TEST(Catalog, SweepsIncludeTheSizesRealModelsUse) {
  // LLaMA-7B: hidden 4096, FFN 11008, head dim 128; GPT-2: hidden 768, vocab 50257.
  auto has = [](std::string_view type, std::vector<int64_t> dims) {
    for (const auto& s : (*find_type(type))->sweep_shapes()) {
      if (s.dims == dims) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("matmul", {2048, 11008, 4096, 1}));  // as F.linear makes it (B = W^T, the weight as it is)
  EXPECT_TRUE(has("rmsnorm", {2048, 4096}));
  EXPECT_TRUE(has("cross_entropy", {1024, 50257}));
  EXPECT_TRUE(has("fused_mlp", {2048, 4096, 11008}));
  EXPECT_TRUE(has("skinny_gemm", {1, 4096, 4096}));                     // Llama-3-8B's q/o projection, one decode token
  EXPECT_TRUE(has("skinny_gemm", {1, 128256, 4096}));                   // ... and its LM head
  EXPECT_TRUE(has("gelu", {2048, 3072, 1}));                            // GPT-2's MLP activation, tanh form
  EXPECT_TRUE(has("decode_attention", {8, 32, 4096, 128, 4096, 8}));    // Llama-3-8B's decode, batch 8, 4k cache
  EXPECT_TRUE(has("decode_attention", {1, 32, 32768, 128, 32768, 8}));  // ... batch 1, 32k cache
  EXPECT_TRUE(has("flash_attention", {1, 32, 2048, 128, 1}));
  EXPECT_TRUE(has("flash_attention", {1, 32, 2048, 128, 1, 8}));    // Llama-3-8B, Mistral-7B: GQA, 8 kv heads
  EXPECT_TRUE(has("rotary_embedding", {1, 32, 2048, 128, 32, 0}));  // LLaMA-7B, interleaved
  EXPECT_TRUE(has("rotary_embedding", {1, 32, 2048, 128, 8, 1}));   // Llama-3-8B (8 kv heads), rotate-half
}

TEST(Catalog, RotaryTurnsQAndKInBothStylesAsTheirPyTorchFormulas) {
  const auto* r = *find_type("rotary_embedding");
  for (const auto& dims :
       std::vector<std::vector<int64_t>>{{2, 4, 8, 16, 2, 1}, {2, 4, 8, 16, 4, 0}, {1, 3, 5, 6, 1, 1}}) {
    for (auto dt : r->dtypes()) {
      const auto p = r->make_problem({{"", dims}, dt, "random", 3}, at::kCPU);
      ASSERT_EQ(p.inputs.size(), 4u);
      EXPECT_EQ(p.scalars, std::vector<double>{double(dims[5])});
      EXPECT_EQ(p.inputs[1].sizes(), at::IntArrayRef({dims[0], dims[4], dims[2], dims[3]}));
      EXPECT_EQ(p.inputs[2].sizes(), at::IntArrayRef({dims[2], dims[3] / 2}));
      const auto ref = r->reference(p);
      const auto eager = r->eager(p);  // style 1: Hugging Face's x * cos + rotate_half(x) * sin
      ASSERT_EQ(ref.size(), 2u);
      ASSERT_EQ(eager.size(), 2u);
      for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(ref[i].sizes(), at::IntArrayRef(p.output_shapes[i]));
        const auto tol = r->tolerance(dt);
        const double worst = ((eager[i].to(at::kDouble) - ref[i]).abs() - ref[i].abs() * tol.rtol).max().item<double>();
        EXPECT_LE(worst, tol.atol * r->error_scale(p, ref[i])) << shape_string(dims) << " " << dtype_name(dt);
      }
    }
  }
  // Pair i of rotate-half is (x[i], x[i + D/2]), by hand for one element of k.
  auto p = r->make_problem({{"", {1, 2, 4, 8, 1, 1}}, at::kFloat, "random", 5}, at::kCPU);
  const auto k = p.inputs[1].to(at::kDouble), c = p.inputs[2].to(at::kDouble), sn = p.inputs[3].to(at::kDouble);
  const auto k_out = r->reference(p)[1];
  const double a = k[0][0][3][1].item<double>(), b = k[0][0][3][5].item<double>();
  const double cs = c[3][1].item<double>(), si = sn[3][1].item<double>();
  EXPECT_NEAR(k_out[0][0][3][1].item<double>(), a * cs - b * si, 1e-12);
  EXPECT_NEAR(k_out[0][0][3][5].item<double>(), a * si + b * cs, 1e-12);
  // The other style pairs other elements.
  p.scalars = {0};
  EXPECT_FALSE(at::allclose(r->reference(p)[1], k_out));
  // A shape of the older form (B,H,S,D): HKV = H, interleaved; a style other than 0 or 1 is an error.
  EXPECT_EQ(r->dims_doc(), "B,H,S,D[,HKV,style]");
  EXPECT_EQ(r->dims_error({1, 32, 2048, 128}), "");
  EXPECT_NE(r->dims_error({1, 32, 2048, 128, 5, 1}), "");  // 5 kv heads do not divide 32
  EXPECT_NE(r->dims_error({1, 32, 2048, 127, 8, 1}), "");  // odd D has no pairs
  EXPECT_NE(r->dims_error({1, 32, 2048, 128, 8, 2}), "");
  EXPECT_EQ(r->make_problem({{"", {1, 2, 4, 8}}, at::kFloat, "random", 1}, at::kCPU).inputs[1].size(1), 2);
  EXPECT_THROW(r->make_problem({{"", {1, 2, 4, 8, 2, 2}}, at::kFloat, "random", 1}, at::kCPU), Fatal);
}

TEST(Catalog, AMatmulInTheLinearFormsTakesTheModelsTensorsAsTheyAre) {
  const auto* mm = *find_type("matmul");
  EXPECT_EQ(mm->layouts(), (std::vector<std::string>{"contiguous", "b_kmajor"}));
  EXPECT_EQ(mm->dims_error({96, 40, 32, 2}), "");
  EXPECT_NE(mm->dims_error({96, 40, 32, 3}), "");
  // Form 1, x W^T: M = 40 tokens, N = 96 outputs, K = 32. B is W^T, K-major: W [96, 32] as the model holds it.
  const auto p = mm->make_problem({{"", {40, 96, 32, 1}}, at::kFloat, "random", 3}, at::kCPU);
  EXPECT_EQ(p.inputs[1].sizes(), at::IntArrayRef({32, 96}));
  EXPECT_EQ(p.inputs[1].strides(), at::IntArrayRef({1, 32}));
  EXPECT_TRUE(p.eager_inputs.empty());  // PyTorch's F.linear(x, W) is x @ W^T on the same tensors
  EXPECT_TRUE(at::allclose(mm->eager(p)[0].to(at::kDouble), mm->reference(p)[0], 1e-4, 1e-5));
  // The same values as the plain form's, whose B is row-major (the first layout), and as its b_kmajor layout's.
  const auto plain = mm->make_problem({{"", {40, 96, 32}}, at::kFloat, "random", 3}, at::kCPU);
  EXPECT_TRUE(plain.inputs[1].is_contiguous());
  EXPECT_TRUE(at::equal(plain.inputs[0], p.inputs[0]));
  EXPECT_TRUE(at::equal(plain.inputs[1], p.inputs[1]));
  const auto kmajor = mm->make_problem({{"", {40, 96, 32}}, at::kFloat, "random", 3, "b_kmajor"}, at::kCPU);
  EXPECT_EQ(kmajor.inputs[1].strides(), at::IntArrayRef({1, 32}));
  EXPECT_TRUE(at::equal(kmajor.inputs[1], plain.inputs[1]));
  EXPECT_THROW(mm->make_problem({{"", {40, 96, 32}}, at::kFloat, "random", 3, "bshd"}, at::kCPU), Fatal);
  // Form 2, y^T = W x^T (an odd vocabulary): M = 97 outputs, N = 40 tokens; PyTorch's call is F.linear(x [40, 32],
  // W [97, 32]), x being B^T as it lies in memory, its output seen transposed.
  const auto t = mm->make_problem({{"", {97, 40, 32, 2}}, at::kFloat, "random", 3}, at::kCPU);
  EXPECT_EQ(t.inputs[1].strides(), at::IntArrayRef({1, 32}));
  ASSERT_EQ(t.eager_inputs.size(), 1u);
  EXPECT_EQ(t.eager_inputs[0].sizes(), at::IntArrayRef({40, 32}));
  EXPECT_TRUE(t.eager_inputs[0].is_contiguous());  // the model's layout: no copy inside the timed call
  const auto eager = mm->eager(t)[0];
  EXPECT_EQ(eager.sizes(), at::IntArrayRef({97, 40}));
  EXPECT_TRUE(at::allclose(eager.to(at::kDouble), mm->reference(t)[0], 1e-4, 1e-5));
  // bias (5th dim): a third input bias[N], C = A B + bias (eager: addmm, F.linear's call with a bias); per column
  // of C, so not in form 2, where a column is a token.
  EXPECT_EQ(mm->dims_doc(), "M,N,K[,linear[,bias[,residual]]]");
  EXPECT_EQ(mm->dims_error({40, 96, 32, 1, 1}), "");
  EXPECT_NE(mm->dims_error({40, 96, 32, 1, 2}), "");
  EXPECT_NE(mm->dims_error({97, 40, 32, 2, 1}), "");
  const auto biased = mm->make_problem({{"", {40, 96, 32, 1, 1}}, at::kFloat, "random", 3}, at::kCPU);
  ASSERT_EQ(biased.inputs.size(), 3u);
  EXPECT_EQ(biased.inputs[2].sizes(), at::IntArrayRef({96}));
  const auto product = at::matmul(biased.inputs[0].to(at::kDouble), biased.inputs[1].to(at::kDouble));
  EXPECT_TRUE(at::allclose(mm->reference(biased)[0], product + biased.inputs[2].to(at::kDouble)));
  EXPECT_TRUE(at::allclose(mm->eager(biased)[0].to(at::kDouble), mm->reference(biased)[0], 1e-4, 1e-5));
  EXPECT_DOUBLE_EQ(mm->flops({"", {40, 96, 32, 1, 1}}), 2.0 * 40 * 96 * 32 + 40 * 96);
  // residual (6th dim): an input residual[M,N] after the bias, C = A B (+ bias) + residual (eager: the GEMM, then
  // the add, as the model runs them); C's shape, so not in form 2 either.
  EXPECT_EQ(mm->dims_error({40, 96, 32, 1, 0, 1}), "");
  EXPECT_NE(mm->dims_error({40, 96, 32, 1, 0, 2}), "");
  EXPECT_NE(mm->dims_error({97, 40, 32, 2, 0, 1}), "");
  for (const bool with_bias : {false, true}) {
    const auto res = mm->make_problem({{"", {40, 96, 32, 1, with_bias ? 1 : 0, 1}}, at::kFloat, "random", 3}, at::kCPU);
    ASSERT_EQ(res.inputs.size(), with_bias ? 4u : 3u);
    EXPECT_EQ(res.inputs.back().sizes(), at::IntArrayRef({40, 96}));
    auto want =
        at::matmul(res.inputs[0].to(at::kDouble), res.inputs[1].to(at::kDouble)) + res.inputs.back().to(at::kDouble);
    if (with_bias) want = want + res.inputs[2].to(at::kDouble);
    EXPECT_TRUE(at::allclose(mm->reference(res)[0], want));
    EXPECT_TRUE(at::allclose(mm->eager(res)[0].to(at::kDouble), want, 1e-4, 1e-5));
  }
  EXPECT_DOUBLE_EQ(mm->bytes({"", {40, 96, 32, 1, 0, 1}}, at::kBFloat16), 2.0 * (40 * 32 + 32 * 96 + 2 * 40 * 96));
}

TEST(Catalog, TheEagerOpAgreesWithTheFloat64OracleOnEveryTypeAndDtype) {
  // Proves each oracle computes what the PyTorch op computes (the contract candidates are held to).
  for (const auto& t : all_types()) {
    for (auto dt : t->dtypes()) {
      const auto p = t->make_problem({t->smoke_shape(), dt, "random", 7}, at::kCPU);
      const auto ref = t->reference(p);
      const auto eager = t->eager(p);
      ASSERT_EQ(ref.size(), eager.size());
      for (std::size_t i = 0; i < ref.size(); ++i) {
        EXPECT_EQ(ref[i].scalar_type(), at::kDouble) << t->name();
        EXPECT_EQ(ref[i].sizes(), at::IntArrayRef(p.output_shapes[i])) << t->name();
        auto tol = t->tolerance(dt);
        // Where the eager op returns a narrower dtype than the contract (cross_entropy's loss in bf16
        // instead of f32), allow for the rounding of that dtype as well.
        if (eager[i].scalar_type() != p.output_dtypes[i])
          tol.rtol += eager[i].scalar_type() == at::kBFloat16 ? 4e-3 : 5e-4;
        const double scale = t->error_scale(p, ref[i]);
        const double worst = ((eager[i].to(at::kDouble) - ref[i]).abs() - ref[i].abs() * tol.rtol).max().item<double>();
        EXPECT_LE(worst, tol.atol * scale) << t->name() << " " << dtype_name(dt);
      }
    }
  }
}

TEST(Catalog, TheSameSeedGivesTheSameInputsAndAnotherSeedOthers) {
  for (const auto& t : all_types()) {
    const auto a = t->make_problem({t->smoke_shape(), at::kFloat, "random", 1}, at::kCPU);
    const auto b = t->make_problem({t->smoke_shape(), at::kFloat, "random", 1}, at::kCPU);
    const auto c = t->make_problem({t->smoke_shape(), at::kFloat, "random", 2}, at::kCPU);
    EXPECT_TRUE(at::equal(a.inputs[0], b.inputs[0])) << t->name();
    EXPECT_FALSE(at::equal(a.inputs[0], c.inputs[0])) << t->name();
  }
}

TEST(Catalog, EveryAdversarialGeneratorProducesFiniteInputsOfTheRightShape) {
  for (const auto& t : all_types()) {
    for (const auto& gen : t->adversarial_generators()) {
      auto shape = t->smoke_shape();
      const auto p = t->make_problem({shape, at::kHalf, gen, 3}, at::kCPU);
      const auto ref = t->reference(p);
      EXPECT_EQ(ref[0].sizes(), at::IntArrayRef(p.output_shapes[0])) << t->name() << " " << gen;
    }
  }
}

TEST(Catalog, AnUnknownGeneratorIsAnError) {
  EXPECT_THROW((*find_type("softmax"))->make_problem({{"x", {2, 2}}, at::kFloat, "nope", 1}, at::kCPU), Fatal);
}

TEST(Catalog, FlopAndByteFormulasMatchHandCounts) {
  const auto* mm = *find_type("matmul");
  EXPECT_DOUBLE_EQ(mm->flops({"", {2, 3, 4}}), 2.0 * 2 * 3 * 4);
  EXPECT_DOUBLE_EQ(mm->bytes({"", {2, 3, 4}}, at::kHalf), (2 * 4 + 4 * 3 + 2 * 3) * 2.0);
  const auto* rms = *find_type("rmsnorm");
  EXPECT_DOUBLE_EQ(rms->bytes({"", {8, 16}}, at::kBFloat16), (2 * 8 * 16 + 16) * 2.0);
  const auto* attn = *find_type("flash_attention");
  // Causal attention does half the work of full attention.
  EXPECT_DOUBLE_EQ(attn->flops({"", {1, 2, 64, 32, 1}}) * 2, attn->flops({"", {1, 2, 64, 32, 0}}));
  const auto* ce = *find_type("cross_entropy");
  EXPECT_DOUBLE_EQ(ce->bytes({"", {4, 10}}, at::kFloat), 4 * 10 * 4.0 + 4 * 12.0);
  // rotary: q [1,2,4,8] and k [1,1,4,8] each read and written, cos and sin [4,4] read; 3 FLOP an element.
  const auto* rope = *find_type("rotary_embedding");
  EXPECT_DOUBLE_EQ(rope->bytes({"", {1, 2, 4, 8, 1, 0}}, at::kHalf), (2 * (64 + 32) + 2 * 16) * 2.0);
  EXPECT_DOUBLE_EQ(rope->flops({"", {1, 2, 4, 8, 1, 1}}), 3.0 * (64 + 32));
  EXPECT_DOUBLE_EQ(rope->bytes({"", {1, 2, 4, 8}}, at::kHalf), (2 * (64 + 64) + 2 * 16) * 2.0);  // HKV = H
}

TEST(Catalog, DecodeAttentionCountsTheValidKeysOnlyAndKAndVAtTheirOwnHeads) {
  const auto* dec = *find_type("decode_attention");
  // B 2, H 8, S 64, D 32, L 40, HKV 2: K and V read up to L at 2 heads, q and o at 8 heads.
  EXPECT_DOUBLE_EQ(dec->bytes({"", {2, 8, 64, 32, 40, 2}}, at::kHalf), (2.0 * 2 * 2 * 40 * 32 + 2.0 * 2 * 8 * 32) * 2);
  EXPECT_DOUBLE_EQ(dec->flops({"", {2, 8, 64, 32, 40, 2}}), 4.0 * 2 * 8 * 40 * 32);
  EXPECT_DOUBLE_EQ(dec->bytes({"", {2, 8, 64, 32, 40}}, at::kHalf), dec->bytes({"", {2, 8, 64, 32, 40, 8}}, at::kHalf));
  EXPECT_EQ(dec->dims_error({1, 8, 64, 32, 65, 2}), "L=65 must be in 1..S=64 (the cache's valid length)");
  // The cache past L holds NaN (nothing there is the sequence's), and the oracle never reads it. L < S: the
  // device's form (a StaticCache's), lengths [B] int64 every one L, the scalar their bound S.
  const auto p = dec->make_problem({{"", {1, 4, 16, 8, 5, 2}}, at::kFloat, "random", 1}, at::kCPU);
  EXPECT_TRUE(p.inputs[1].narrow(2, 5, 11).isnan().all().item<bool>());
  EXPECT_TRUE(p.inputs[2].narrow(2, 0, 5).isfinite().all().item<bool>());
  EXPECT_TRUE(dec->reference(p)[0].isfinite().all().item<bool>());
  ASSERT_EQ(p.inputs.size(), 4u);
  EXPECT_EQ(p.inputs[3].scalar_type(), at::kLong);
  EXPECT_TRUE(at::equal(p.inputs[3], at::full({1}, 5, at::kLong)));
  EXPECT_EQ(p.scalars, (std::vector<double>{16.0, 1.0 / std::sqrt(8.0)}));
  // L = S: the host's form (a DynamicCache's k holds exactly the L keys), three inputs, the scalar L.
  const auto host = dec->make_problem({{"", {1, 4, 16, 8, 16, 2}}, at::kFloat, "random", 1}, at::kCPU);
  EXPECT_EQ(host.inputs.size(), 3u);
  EXPECT_EQ(host.scalars, (std::vector<double>{16.0, 1.0 / std::sqrt(8.0)}));
}

TEST(Catalog, DecodeAttentionLengthsDifferPerSequenceAndTheOracleReadsEachOnesOwn) {
  const auto* dec = *find_type("decode_attention");
  // The adversarial cases: lengths 1, S, L and one between; NaN past each sequence's, never read by the oracle.
  const auto p = dec->make_problem({{"", {4, 4, 32, 8, 20, 2}}, at::kFloat, "ragged_lengths", 3}, at::kCPU);
  ASSERT_EQ(p.inputs.size(), 4u);
  EXPECT_TRUE(at::equal(p.inputs[3], at::tensor(std::vector<int64_t>{1, 32, 20, 11}, at::kLong)));
  EXPECT_EQ(p.scalars.at(0), 32.0);
  const auto ref = dec->reference(p)[0];
  EXPECT_TRUE(ref.isfinite().all().item<bool>());
  const std::vector<int64_t> len = {1, 32, 20, 11};
  for (int64_t b = 0; b < 4; ++b) {
    SCOPED_TRACE(b);
    if (len[b] < 32) EXPECT_TRUE(p.inputs[1][b].narrow(1, len[b], 32 - len[b]).isnan().all().item<bool>());
    // Sequence b alone, in the host's form at its own L, is the same oracle.
    Problem one{{p.inputs[0].narrow(0, b, 1), p.inputs[1].narrow(0, b, 1), p.inputs[2].narrow(0, b, 1)},
                {double(len[b]), p.scalars[1]},
                {{1, 4, 1, 8}},
                {at::kFloat}};
    EXPECT_TRUE(at::allclose(ref.narrow(0, b, 1), dec->reference(one)[0], 1e-12, 1e-12));
  }
  // PyTorch's masked SDPA over the cache (zeros past each sequence, as a StaticCache holds it) agrees.
  EXPECT_LE((dec->eager(p)[0].to(at::kDouble) - ref).abs().max().item<double>(), 1e-4);
  // The one dominating key is each sequence's last valid one; "host_length" is the host's form at L < S.
  const auto dom = dec->make_problem({{"", {4, 4, 32, 8, 20, 2}}, at::kFloat, "one_key_dominates", 3}, at::kCPU);
  EXPECT_TRUE(at::equal(dom.inputs[1][3][0][10], dom.inputs[0][3][0][0].mul(4.0)));
  const auto host = dec->make_problem({{"", {4, 4, 32, 8, 20, 2}}, at::kFloat, "host_length", 3}, at::kCPU);
  EXPECT_EQ(host.inputs.size(), 3u);
  EXPECT_EQ(host.scalars.at(0), 20.0);
  EXPECT_TRUE(host.inputs[2].narrow(2, 20, 12).isnan().all().item<bool>());
}

TEST(Catalog, AttentionBytesCountKAndVAtTheirOwnHeads) {
  const auto* attn = *find_type("flash_attention");
  // q and o at H = 8 heads, k and v at HKV = 2: (8 + 8 + 2 + 2) heads of S x D.
  EXPECT_DOUBLE_EQ(attn->bytes({"", {1, 8, 64, 32, 1, 2}}, at::kHalf), 20.0 * 64 * 32 * 2);
  // No 6th dim is multi-head; HKV = H says the same.
  EXPECT_DOUBLE_EQ(attn->bytes({"", {1, 8, 64, 32, 1}}, at::kHalf), attn->bytes({"", {1, 8, 64, 32, 1, 8}}, at::kHalf));
  // The work is per query head: sharing kv heads saves none of it.
  EXPECT_DOUBLE_EQ(attn->flops({"", {1, 8, 64, 32, 1, 2}}), attn->flops({"", {1, 8, 64, 32, 1}}));
}

TEST(Catalog, GroupedQueryAttentionIsMultiHeadAttentionOnRepeatedKvHeads) {
  const auto* attn = *find_type("flash_attention");
  EXPECT_EQ(attn->dims_doc(), "B,H,S,D,causal[,HKV]");
  const std::vector<std::vector<int64_t>> cases = {{2, 6, 40, 16, 1, 2}, {1, 4, 33, 8, 0, 1}, {2, 28, 17, 8, 0, 4}};
  for (const auto& dims : cases) {
    SCOPED_TRACE(shape_string(dims));
    const auto H = dims[1], HKV = dims[5];
    const auto p = attn->make_problem({{"gqa", dims}, at::kFloat, "random", 5}, at::kCPU);
    ASSERT_EQ(p.inputs.size(), 3u);
    EXPECT_EQ(p.inputs[0].sizes(), at::IntArrayRef({dims[0], H, dims[2], dims[3]}));
    EXPECT_EQ(p.inputs[1].sizes(), at::IntArrayRef({dims[0], HKV, dims[2], dims[3]}));  // no copies per query head
    EXPECT_EQ(p.inputs[2].sizes(), at::IntArrayRef({dims[0], HKV, dims[2], dims[3]}));
    EXPECT_EQ(p.output_shapes, (std::vector<std::vector<int64_t>>{{dims[0], H, dims[2], dims[3]}}));
    // The oracle equals the multi-head oracle with each kv head repeated for its group of query heads.
    auto mha = p;
    mha.inputs[1] = p.inputs[1].repeat_interleave(H / HKV, 1);
    mha.inputs[2] = p.inputs[2].repeat_interleave(H / HKV, 1);
    const auto ref = attn->reference(p)[0];
    EXPECT_TRUE(at::equal(ref, attn->reference(mha)[0]));
    // Query head h reads kv head h / (H / HKV): the last query head of a batch attends over its last kv head.
    auto single = p;
    single.inputs = {p.inputs[0].narrow(1, H - 1, 1), p.inputs[1].narrow(1, HKV - 1, 1),
                     p.inputs[2].narrow(1, HKV - 1, 1)};
    EXPECT_TRUE(at::allclose(ref.narrow(1, H - 1, 1), attn->reference(single)[0], 1e-12, 1e-12));
    // PyTorch's own SDPA with enable_gqa agrees.
    const auto eager = attn->eager(p)[0];
    EXPECT_LE((eager.to(at::kDouble) - ref).abs().max().item<double>(), 1e-4);
    // So do the adversarial generators' inputs, k and v at HKV heads too.
    for (const auto& gen : attn->adversarial_generators()) {
      const auto a = attn->make_problem({{"gqa", dims}, at::kHalf, gen, 3}, at::kCPU);
      EXPECT_EQ(a.inputs[1].size(1), HKV) << gen;
      EXPECT_EQ(a.inputs[2].size(1), HKV) << gen;
      EXPECT_TRUE(at::isfinite(attn->reference(a)[0]).all().item<bool>()) << gen;
    }
  }
}

// kernel_abi.h's layouts: the same values in each of the three input layouts, the outputs in [B,S,H,D] memory.
TEST(Catalog, AttentionAndRotaryDrawTheSameValuesInEachInputLayout) {
  for (const auto* type : {*find_type("flash_attention"), *find_type("rotary_embedding")}) {
    SCOPED_TRACE(std::string(type->name()));
    EXPECT_EQ(type->layouts(), (std::vector<std::string>{"bshd", "contiguous", "packed"}));
    const bool attn = type->name() == "flash_attention";
    const std::vector<int64_t> dims =
        attn ? std::vector<int64_t>{2, 6, 40, 16, 1, 2} : std::vector<int64_t>{2, 6, 40, 16, 2, 1};
    const int64_t H = 6, HKV = 2, S = 40, D = 16, heads = attn ? 3 : 2;
    const auto plain = type->make_problem({{"", dims}, at::kHalf, "random", 5, "contiguous"}, at::kCPU);
    for (int i = 0; i < heads; ++i) EXPECT_TRUE(plain.inputs[i].is_contiguous()) << i;
    // The first layout, the one timed, is what an InputSpec without one gets.
    const auto timed = type->make_problem({{"", dims}, at::kHalf, "random", 5}, at::kCPU);
    EXPECT_EQ(timed.inputs[0].strides(), at::IntArrayRef({S * H * D, D, H * D, 1}));
    for (const auto& layout : type->layouts()) {
      SCOPED_TRACE(layout);
      const auto p = type->make_problem({{"", dims}, at::kHalf, "random", 5, layout}, at::kCPU);
      ASSERT_EQ(p.inputs.size(), plain.inputs.size());
      for (std::size_t i = 0; i < p.inputs.size(); ++i) {
        EXPECT_TRUE(at::equal(p.inputs[i], plain.inputs[i])) << "input " << i;
        EXPECT_EQ(p.inputs[i].stride(-1), 1) << "input " << i;
      }
      const int64_t Hi[3] = {H, HKV, HKV};
      for (int i = 0; i < heads; ++i) {
        const auto st = p.inputs[i].strides();
        if (layout == "bshd") EXPECT_EQ(st, at::IntArrayRef({S * Hi[i] * D, D, Hi[i] * D, 1})) << i;
        // One [B, S, H + 2*HKV, D] buffer (rotary: its v part unused), q then k then v along its heads.
        if (layout == "packed") {
          const int64_t W = H + 2 * HKV;
          EXPECT_EQ(st, at::IntArrayRef({S * W * D, D, W * D, 1})) << i;
          EXPECT_EQ(p.inputs[i].storage().data(), p.inputs[0].storage().data()) << i;
          EXPECT_EQ(p.inputs[i].storage_offset(), (i == 0 ? 0 : H + (i - 1) * HKV) * D) << i;
        }
      }
      // The outputs: [B,H,S,D] shapes in [B,S,H,D] memory order, whatever the inputs' layout.
      ASSERT_EQ(p.output_strides.size(), p.output_shapes.size());
      for (std::size_t o = 0; o < p.output_shapes.size(); ++o) {
        const auto h = p.output_shapes[o][1];
        EXPECT_EQ(p.output_strides[o], (std::vector<int64_t>{S * h * D, D, h * D, 1})) << o;
      }
      const auto ref = type->reference(p), ref_plain = type->reference(plain);
      for (std::size_t o = 0; o < ref.size(); ++o) EXPECT_TRUE(at::equal(ref[o], ref_plain[o])) << o;
    }
  }
}

TEST(Catalog, TypesWithoutLayoutsOfTheirOwnAreContiguous) {
  for (const auto& t : all_types()) {
    if (t->name() == "flash_attention" || t->name() == "rotary_embedding" || t->name() == "matmul") continue;
    EXPECT_EQ(t->layouts(), std::vector<std::string>{"contiguous"}) << t->name();
    const auto p = t->make_problem({t->smoke_shape(), at::kFloat, "random", 1}, at::kCPU);
    EXPECT_TRUE(p.output_strides.empty()) << t->name();
  }
}

TEST(Catalog, AttentionRefusesKvHeadsThatDoNotDivideTheQueryHeads) {
  const auto* attn = *find_type("flash_attention");
  EXPECT_EQ(attn->dims_error({1, 8, 64, 32, 1}), "");
  EXPECT_EQ(attn->dims_error({1, 8, 64, 32, 1, 2}), "");
  EXPECT_NE(attn->dims_error({1, 8, 64, 32, 1, 3}), "");
  EXPECT_NE(attn->dims_error({1, 8, 64, 32, 1, 0}), "");
  EXPECT_THROW(attn->make_problem({{"x", {1, 8, 64, 32, 1, 3}}, at::kFloat, "random", 1}, at::kCPU), Fatal);
  // Every catalogue shape is valid.
  auto shapes = attn->sweep_shapes();
  for (const auto& s : attn->edge_shapes()) shapes.push_back(s);
  for (const auto& s : attn->bench_shapes()) shapes.push_back(s);
  for (const auto& s : shapes) EXPECT_EQ(attn->dims_error(s.dims), "") << s.label;
}

TEST(Catalog, DimNamesMayEndInOptionalOnes) {
  const auto plain = dim_names("M,N,K");
  EXPECT_EQ(plain.names, (std::vector<std::string>{"M", "N", "K"}));
  EXPECT_EQ(plain.required, 3u);
  const auto attn = dim_names("B,H,S,D,causal[,HKV]");
  EXPECT_EQ(attn.names, (std::vector<std::string>{"B", "H", "S", "D", "causal", "HKV"}));
  EXPECT_EQ(attn.required, 5u);
}

TEST(Catalog, Fp32MatmulToleranceAdmitsACorrectTf32Kernel) {
  // Emulate TF32: round both operands to 10 mantissa bits, multiply exactly, compare with the f64 oracle.
  const auto* mm = *find_type("matmul");
  const auto p = mm->make_problem({{"", {256, 256, 1024}}, at::kFloat, "random", 5}, at::kCPU);
  auto tf32 = [](const at::Tensor& t) {
    auto bits = t.contiguous().view(at::kInt);
    return (bits.add(1 << 12).bitwise_and(~((1 << 13) - 1))).view(at::kFloat);
  };
  const auto out = at::matmul(tf32(p.inputs[0]).to(at::kDouble), tf32(p.inputs[1]).to(at::kDouble));
  const auto ref = mm->reference(p)[0];
  const auto tol = mm->tolerance(at::kFloat);
  const double rms = ref.pow(2).mean().sqrt().item<double>();
  EXPECT_LE(((out - ref).abs() - ref.abs() * tol.rtol).max().item<double>(), tol.atol * rms);
}

TEST(Catalog, AttentionToleranceAdmitsProbabilitiesRoundedToBf16ButNotRealErrors) {
  // Flash kernels round P to 16 bits before P.V; the error follows |v|, not the (shrinking) output.
  const auto* attn = *find_type("flash_attention");
  const auto p = attn->make_problem({{"", {1, 2, 512, 64, 1}}, at::kBFloat16, "random", 11}, at::kCPU);
  const auto ref = attn->reference(p)[0];
  auto q = p.inputs[0].to(at::kDouble), k = p.inputs[1].to(at::kDouble), v = p.inputs[2].to(at::kDouble);
  auto scores = at::matmul(q, k.transpose(-1, -2)).mul(p.scalars[1]);
  scores.masked_fill_(at::ones({512, 512}, at::kBool).triu(1), -std::numeric_limits<double>::infinity());
  const auto out = at::matmul(at::softmax(scores, -1).to(at::kBFloat16).to(at::kDouble), v);
  const auto tol = attn->tolerance(at::kBFloat16);
  const double scale = attn->error_scale(p, ref);
  EXPECT_NEAR(scale, 1.0, 0.05);  // the RMS of v ~ N(0, 1)
  EXPECT_LE(((out - ref).abs() - ref.abs() * tol.rtol).max().item<double>(), tol.atol * scale);
  auto wrong = out.clone();
  wrong[0][1][300][7] += 0.1;  // a real error: a tenth of |v|
  EXPECT_GT(((wrong - ref).abs() - ref.abs() * tol.rtol).max().item<double>(), tol.atol * scale);
}

TEST(Catalog, ParsesDtypeSpellings) {
  EXPECT_EQ(*parse_dtype("fp16"), at::kHalf);
  EXPECT_EQ(*parse_dtype("bfloat16"), at::kBFloat16);
  EXPECT_EQ(*parse_dtype("float32"), at::kFloat);
  EXPECT_FALSE(parse_dtype("int8").has_value());
}

}  // namespace
}  // namespace ak::catalog
