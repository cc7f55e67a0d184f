// rotary_embedding: rotate q[B,H,S,D] and k[B,HKV,S,D] in one call, pair i at position s by angle
// theta[s,i] (cos/sin given as [S, D/2]):
//   first' = first cos - second sin,  second' = first sin + second cos.
// The scalar `style` says which elements pair up:
//   0: interleaved pairs (x[2i], x[2i+1]), the form of Meta's LLaMA (complex multiplication of pairs);
//   1: rotate-half pairs (x[i], x[i+D/2]), the form of Hugging Face's apply_rotary_pos_emb and GPT-NeoX.
// dims = B,H,S,D[,HKV,style]. A shape of 4 dims (the form before k and style) means HKV = H, style 0.
// Layouts (kernel_abi.h): q and k come as a model makes them, the transpose of [B,S,H,D] memory (timed),
// contiguous, or slices of one packed [B,S,H+2*HKV,D] qkv projection (its v part unread, NaN here); q_out and
// k_out are always given in [B,S,H,D] memory order.
#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

constexpr double k_rope_base = 10000.0;

/// The kv heads of a shape: its 5th dim, or H where there is none.
int64_t kv_heads(const std::vector<int64_t>& d) { return d.size() > 4 ? d[4] : d.at(1); }
/// The pairing: its 6th dim, or 0 (interleaved) where there is none.
int64_t style_of(const std::vector<int64_t>& d) { return d.size() > 5 ? d[5] : 0; }

class Rotary final : public KernelType {
 public:
  std::string_view name() const override { return "rotary_embedding"; }
  /// B,H,S,D alone (the older form) is multi-head and interleaved.
  std::string_view dims_doc() const override { return "B,H,S,D[,HKV,style]"; }
  std::string dims_error(const std::vector<int64_t>& d) const override {
    if (d.size() > 3 && d[3] % 2 != 0) return fmt::format("D={} must be even (it rotates pairs)", d[3]);
    const auto H = d[1], HKV = kv_heads(d), style = style_of(d);
    if (HKV < 1 || H % HKV != 0) return fmt::format("HKV={} must be at least 1 and divide H={}", HKV, H);
    if (style != 0 && style != 1) return fmt::format("style={} must be 0 (interleaved) or 1 (rotate-half)", style);
    return "";
  }

  Shape smoke_shape() const override { return {"tiny", {1, 4, 64, 64, 4, 0}}; }
  /// Interleaved and rotate-half, multi-head and grouped-query (Llama-3-8B: 32 query heads over 8 kv heads).
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {2, 8, 256, 64, 8, 0}},
            {"small_half_kv2", {2, 8, 256, 64, 2, 1}},
            {"medium", {2, 16, 512, 64, 16, 0}},
            {"gptj", {4, 16, 1024, 64, 16, 0}},
            {"neox_half", {2, 32, 1024, 128, 32, 1}},
            {"llama7b", {1, 32, 2048, 128, 32, 0}},
            {"llama13b_half", {1, 40, 2048, 128, 40, 1}},
            {"llama3_8b", {1, 32, 2048, 128, 8, 1}},
            {"mqa_half", {1, 16, 4096, 128, 1, 1}},
            {"xlarge", {2, 32, 2048, 128, 32, 0}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_3x5x33x32", {3, 5, 33, 32, 5, 0}},
            {"odd_3x6x33x34_kv2_half", {3, 6, 33, 34, 2, 1}},  // D/2 = 17: no whole 16-byte chunk per half
            {"odd_2x3x7x6_kv1_half", {2, 3, 7, 6, 1, 1}},
            {"odd_1x3x9x10_kv3", {1, 3, 9, 10, 3, 0}},
            {"edge_s127", {1, 8, 127, 64, 8, 0}},
            {"edge_s127_half_kv1", {1, 8, 127, 64, 1, 1}},
            {"edge_s1023_half_kv2", {1, 8, 1023, 128, 2, 1}},
            {"edge_s4097", {1, 2, 4097, 64, 2, 0}}};
  }
  std::vector<std::string> layouts() const override { return detail::head_layouts(); }
  std::vector<std::string> adversarial_generators() const override { return {"large_values", "far_positions"}; }
  Shape adversarial_shape() const override { return {"adversarial", {1, 4, 256, 128, 2, 1}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"xlarge", {2, 32, 2048, 128, 32, 0}},
            {"long", {2, 32, 4096, 128, 32, 0}},
            {"llama7b", {1, 32, 2048, 128, 32, 0}},
            {"llama3_8b", {1, 32, 2048, 128, 8, 1}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto& d = spec.shape.dims;
    const auto B = d.at(0), H = d.at(1), S = d.at(2), D = d.at(3), HKV = kv_heads(d), style = style_of(d);
    if (const auto why = dims_error(d); !why.empty()) {
      throw Fatal(Error{fmt::format("{}: shape {}: {}", name(), shape_string(d), why)});
    }
    double first_position = 0;
    at::Tensor q, k;
    if (spec.generator == "random") {
      q = detail::randn({B, H, S, D}, spec.dtype, dev, spec.seed);
      k = detail::randn({B, HKV, S, D}, spec.dtype, dev, spec.seed + 1);
    } else if (spec.generator == "large_values") {
      const double scale = spec.dtype == at::kHalf ? 1e4 : 1e6;
      q = detail::randn({B, H, S, D}, at::kFloat, dev, spec.seed).mul(scale).to(spec.dtype);
      k = detail::randn({B, HKV, S, D}, at::kFloat, dev, spec.seed + 1).mul(scale).to(spec.dtype);
    } else if (spec.generator == "far_positions") {
      // Positions near 10^5: every angle wraps many times, as in long-context decoding.
      q = detail::randn({B, H, S, D}, spec.dtype, dev, spec.seed);
      k = detail::randn({B, HKV, S, D}, spec.dtype, dev, spec.seed + 1);
      first_position = 100000;
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    // theta[s, i] = position * base^(-2i/D), computed in f64 then rounded like a model's cached table.
    auto pos = at::arange(S, detail::opts(at::kDouble, dev)).add(first_position);
    auto inv_freq = at::pow(k_rope_base, at::arange(0, D, 2, detail::opts(at::kDouble, dev)).div(double(D)).neg());
    auto theta = at::outer(pos, inv_freq);
    auto qk = detail::heads_in_layout({q, k}, layout_of(spec), /*unused_heads=*/HKV);
    Problem p{{qk[0], qk[1], theta.cos().to(spec.dtype), theta.sin().to(spec.dtype)},
              {double(style)},
              {{B, H, S, D}, {B, HKV, S, D}},
              {spec.dtype, spec.dtype}};
    p.output_strides = {detail::bshd_strides({B, H, S, D}), detail::bshd_strides({B, HKV, S, D})};
    return p;
  }

  /// The definition, pair by pair (the oracle runs it in f64).
  static at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, bool half) {
    if (half) {
      auto x1 = x.narrow(-1, 0, x.size(-1) / 2), x2 = x.narrow(-1, x.size(-1) / 2, x.size(-1) / 2);
      return at::cat({x1 * cos - x2 * sin, x1 * sin + x2 * cos}, -1);
    }
    auto pairs = x.unflatten(-1, {-1, 2});
    auto x1 = pairs.select(-1, 0), x2 = pairs.select(-1, 1);
    return at::stack({x1 * cos - x2 * sin, x1 * sin + x2 * cos}, -1).flatten(-2);
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    const bool half = p.scalars.at(0) != 0;
    auto cos = p.inputs[2].to(at::kDouble), sin = p.inputs[3].to(at::kDouble);
    return {rotate(p.inputs[0].to(at::kDouble), cos, sin, half), rotate(p.inputs[1].to(at::kDouble), cos, sin, half)};
  }
  /// Hugging Face's rotate_half(x) = cat(-x[D/2:], x[:D/2]).
  static at::Tensor rotate_half(const at::Tensor& x) {
    const auto h = x.size(-1) / 2;
    return at::cat({x.narrow(-1, h, h).neg(), x.narrow(-1, 0, h)}, -1);
  }
  /// The PyTorch formula of each style: Meta's pairs for 0; for 1 exactly Hugging Face's
  /// apply_rotary_pos_emb, x * cos + rotate_half(x) * sin with the tables repeated to [S, D].
  std::vector<at::Tensor> eager(const Problem& p) const override {
    const auto &q = p.inputs[0], &k = p.inputs[1], &cos = p.inputs[2], &sin = p.inputs[3];
    if (p.scalars.at(0) == 0) return {rotate(q, cos, sin, false), rotate(k, cos, sin, false)};
    auto cos_full = at::cat({cos, cos}, -1), sin_full = at::cat({sin, sin}, -1);
    return {q * cos_full + rotate_half(q) * sin_full, k * cos_full + rotate_half(k) * sin_full};
  }

  /// Elements of q and k together: each is read once and written once, at 3 FLOP (2 products and a sum).
  static double elements(const Shape& s) {
    return double(s.dims[0]) * (s.dims[1] + kv_heads(s.dims)) * s.dims[2] * s.dims[3];
  }
  double flops(const Shape& s) const override { return 3.0 * elements(s); }
  double bytes(const Shape& s, at::ScalarType t) const override {
    return (2.0 * elements(s) + 1.0 * s.dims[2] * s.dims[3]) * dtype_bytes(t);  // + cos and sin, [S, D/2] each
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {2e-3, 2e-3};  // output rounding 2^-11
      case at::kBFloat16:
        return {1e-2, 1e-2};  // output rounding 2^-8
      default:
        return {1e-5, 1e-5};  // two f32 products and a sum
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_rotary_embedding() { return std::make_unique<Rotary>(); }
}  // namespace ak::catalog
