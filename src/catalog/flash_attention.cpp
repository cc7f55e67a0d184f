// flash_attention: o = softmax(q k^T * scale [+ causal mask]) v for q, o [B,H,S,D] and k, v [B,HKV,S,D].
// dims = B,H,S,D,causal[,HKV] (causal 0 or 1; HKV divides H, missing means H); scalars = causal,
// scale = 1/sqrt(D). Grouped-query attention is native: query head h reads kv head h / (H / HKV)
// (HKV == H: multi-head, HKV == 1: multi-query), and k, v are never repeated in memory.
// Layouts (kernel_abi.h): q, k, v come as a model makes them, the transpose of [B,S,H,D] memory (timed), contiguous,
// or slices of one packed [B,S,H+2*HKV,D] projection; o is always given in [B,S,H,D] memory order.
#include <cmath>
#include <limits>

#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

/// The kv heads of a shape: its 6th dim, or H where there is none (plain multi-head attention).
int64_t kv_heads(const std::vector<int64_t>& dims) { return dims.size() > 5 ? dims[5] : dims.at(1); }

class FlashAttention final : public KernelType {
 public:
  std::string_view name() const override { return "flash_attention"; }
  std::string_view dims_doc() const override { return "B,H,S,D,causal[,HKV]"; }
  std::string dims_error(const std::vector<int64_t>& d) const override {
    if (d.size() < 6) return "";  // multi-head
    const auto H = d[1], HKV = d[5];
    if (HKV < 1 || H % HKV != 0) return fmt::format("HKV={} must be at least 1 and divide H={}", HKV, H);
    return "";
  }

  Shape smoke_shape() const override { return {"tiny", {1, 2, 64, 64, 0}}; }
  std::vector<Shape> sweep_shapes() const override {
    // GQA: a group of 4 (non-causal, D 64), multi-query (HKV 1), and Llama-3-8B / Mistral-7B (32 query
    // heads over 8 kv heads, D 128).
    return {{"small", {1, 4, 128, 64, 0}},
            {"small_causal", {1, 4, 128, 64, 1}},
            {"medium_causal_mqa", {2, 8, 256, 64, 1, 1}},
            {"medium_kv4", {2, 16, 512, 64, 0, 4}},
            {"gpt2", {1, 12, 1024, 64, 1}},
            {"large_causal", {2, 32, 1024, 64, 1}},
            {"d128", {2, 32, 1024, 128, 0}},
            {"llama7b", {1, 32, 2048, 128, 1}},
            {"llama3_8b_kv8", {1, 32, 2048, 128, 1, 8}},
            {"long", {1, 32, 4096, 128, 1}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_1x2x33x32_causal", {1, 2, 33, 32, 1}},
            {"odd_2x3x65x128", {2, 3, 65, 128, 0}},
            {"edge_s127_causal", {1, 8, 127, 64, 1}},
            {"edge_s1023", {1, 8, 1023, 64, 0}},
            {"odd_1x4x33x32_mqa", {1, 4, 33, 32, 0, 1}},           // small enough for Triton's interpreter
            {"odd_1x6x127x64_causal_kv2", {1, 6, 127, 64, 1, 2}},  // groups of 3
            {"odd_2x28x65x128_kv4", {2, 28, 65, 128, 0, 4}}};      // groups of 7, as Qwen2-7B
  }
  std::vector<std::string> layouts() const override { return detail::head_layouts(); }
  std::vector<std::string> adversarial_generators() const override { return {"large_logits", "identical_keys"}; }
  Shape adversarial_shape() const override { return {"adversarial", {1, 4, 256, 64, 1}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"llama7b", {1, 32, 2048, 128, 1}},
            {"large_causal", {2, 32, 1024, 64, 1}},
            {"d128", {2, 32, 1024, 128, 0}},
            {"llama3_8b_kv8", {1, 32, 2048, 128, 1, 8}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto& d = spec.shape.dims;
    const auto B = d.at(0), H = d.at(1), S = d.at(2), D = d.at(3), HKV = kv_heads(d);
    if (const auto why = dims_error(d); !why.empty()) {
      throw Fatal(Error{fmt::format("{}: shape {}: {}", name(), shape_string(d), why)});
    }
    const double causal = d.size() > 4 ? double(d[4] != 0) : 0.0;
    at::Tensor q, k, v = detail::randn({B, HKV, S, D}, spec.dtype, dev, spec.seed + 2);
    if (spec.generator == "random") {
      q = detail::randn({B, H, S, D}, spec.dtype, dev, spec.seed);
      k = detail::randn({B, HKV, S, D}, spec.dtype, dev, spec.seed + 1);
    } else if (spec.generator == "large_logits") {
      // Scores with std ~100: exp without a running max overflows.
      q = detail::randn({B, H, S, D}, spec.dtype, dev, spec.seed, 10.0);
      k = detail::randn({B, HKV, S, D}, spec.dtype, dev, spec.seed + 1, 10.0);
    } else if (spec.generator == "identical_keys") {
      // Every score in a row equal: the output is the plain (prefix) mean of v.
      q = detail::randn({B, H, S, D}, spec.dtype, dev, spec.seed);
      k = detail::randn({B, HKV, 1, D}, spec.dtype, dev, spec.seed + 1).expand({B, HKV, S, D}).contiguous();
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    Problem p{detail::heads_in_layout({q, k, v}, layout_of(spec)),
              {causal, 1.0 / std::sqrt(double(D))},
              {{B, H, S, D}},
              {spec.dtype}};
    p.output_strides = {detail::bshd_strides({B, H, S, D})};
    return p;
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    // Explicit f64 attention, one batch at a time so the S x S scores stay small. GQA: each kv head
    // is repeated for the H / HKV query heads of its group (query head h reads kv head h / group).
    const bool causal = p.scalars[0] != 0;
    const double scale = p.scalars[1];
    const auto H = p.inputs[0].size(1), S = p.inputs[0].size(2), group = H / p.inputs[1].size(1);
    auto out = at::empty(p.inputs[0].sizes(), p.inputs[0].options().dtype(at::kDouble));
    at::Tensor mask;
    if (causal) {
      mask = at::ones({S, S}, p.inputs[0].options().dtype(at::kBool)).triu(1);
    }
    for (int64_t b = 0; b < p.inputs[0].size(0); ++b) {
      auto q = p.inputs[0][b].to(at::kDouble), k = p.inputs[1][b].to(at::kDouble), v = p.inputs[2][b].to(at::kDouble);
      if (group > 1) k = k.repeat_interleave(group, 0), v = v.repeat_interleave(group, 0);
      auto scores = at::matmul(q, k.transpose(-1, -2)).mul_(scale);
      if (causal) scores.masked_fill_(mask, -std::numeric_limits<double>::infinity());
      out[b].copy_(at::matmul(at::softmax(scores, -1), v));
    }
    return {out};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override {
    // enable_gqa only where the head counts differ: multi-head calls keep exactly the op they had.
    const bool gqa = p.inputs[1].size(1) != p.inputs[0].size(1);
    return {at::scaled_dot_product_attention(p.inputs[0], p.inputs[1], p.inputs[2], {}, 0.0, p.scalars[0] != 0,
                                             p.scalars[1], gqa)};
  }

  /// Each output row is a convex combination of rows of v, and a kernel that rounds the probabilities
  /// to 16 bits (as flash kernels do) errs in proportion to |v|, not to the output (which shrinks
  /// as rows average over more keys). So atol is relative to the RMS of v.
  double error_scale(const Problem& p, const at::Tensor&) const override { return rms(p.inputs[2]); }

  /// Per query head: a kv head shared by a group does the same arithmetic for each of its query heads.
  double flops(const Shape& s) const override {
    const double full = 4.0 * s.dims[0] * s.dims[1] * double(s.dims[2]) * s.dims[2] * s.dims[3];
    return s.dims.size() > 4 && s.dims[4] ? full / 2 : full;  // causal: only the lower triangle is work
  }
  /// q and o at H heads, k and v at HKV heads.
  double bytes(const Shape& s, at::ScalarType t) const override {
    return 2.0 * s.dims[0] * (s.dims[1] + kv_heads(s.dims)) * s.dims[2] * s.dims[3] * dtype_bytes(t);
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {1e-2, 1e-2};  // P rounded to f16 before P.V, as flash kernels do
      case at::kBFloat16:
        return {2e-2, 2e-2};  // P and output rounded to bf16
      default:
        return {5e-3, 5e-3};  // TF32 tensor cores allowed
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_flash_attention() { return std::make_unique<FlashAttention>(); }
}  // namespace ak::catalog
