// fused_mlp (a gated MLP): y[M,E] = (act(x w_gate^T) * (x w_up^T)) w_down^T, weights in nn.Linear layout:
// w_gate, w_up [F,E], w_down [E,F]. dims = M,E,F[,ACT] (tokens, model dim, hidden dim, activation); the scalar
// is ACT: 0 silu (SwiGLU: Llama, Mistral, Qwen; the default where the dim is absent), 1 the GELU's tanh form
// 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) (GeGLU: Gemma's gelu_pytorch_tanh), 2 the exact GELU
// 0.5 g (1 + erf(g / sqrt(2))).
#include <cmath>

#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

/// The activation: the 4th dim, or 0 (silu) where there is none.
int64_t act_of(const std::vector<int64_t>& d) { return d.size() > 3 ? d[3] : 0; }

/// act(g) in g's dtype: the reference calls it on f64, eager on the inputs' dtype.
at::Tensor activate(const at::Tensor& g, int64_t act) {
  switch (act) {
    case 1:
      return at::gelu(g, "tanh");
    case 2:
      return at::gelu(g, "none");
    default:
      return at::silu(g);
  }
}

class FusedMlp final : public KernelType {
 public:
  std::string_view name() const override { return "fused_mlp"; }
  std::string_view dims_doc() const override { return "M,E,F[,ACT]"; }
  std::string dims_error(const std::vector<int64_t>& d) const override {
    if (const auto a = act_of(d); a < 0 || a > 2)
      return fmt::format("ACT={} must be 0 (silu), 1 (GELU, tanh form) or 2 (GELU, erf form)", a);
    return "";
  }

  Shape smoke_shape() const override { return {"tiny", {32, 64, 128}}; }
  /// SwiGLU at Llama widths; GeGLU at Gemma-7B's (tanh form) and a small exact-GELU one that slow backends reach;
  /// and the decode step (M = 1..64 tokens, memory-bound: the weights streamed once) at Llama-3-8B's widths.
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {128, 256, 512}},          {"small_erf", {128, 256, 512, 2}},
            {"large", {2048, 2048, 5504}},       {"llama7b", {2048, 4096, 11008}},
            {"llama13b", {1024, 5120, 13824}},   {"openllama3b", {2048, 3200, 8640}},
            {"gemma7b", {2048, 3072, 24576, 1}}, {"llama3_8b_m1", {1, 4096, 14336}},
            {"llama3_8b_m8", {8, 4096, 14336}},  {"llama3_8b_m32", {32, 4096, 14336}}};
  }
  /// The decode ones (M <= 64: a small-M path's row, column and K tails): odd M, F a multiple of 8 but not of 32
  /// (200, 136, 264; E 72 too), each activation, all but the last within the Triton interpreter's case budget.
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_33x64x96", {33, 64, 96}},
            {"odd_33x64x96_tanh", {33, 64, 96, 1}},
            {"odd_127x96x160", {127, 96, 160}},
            {"odd_127x96x160_erf", {127, 96, 160, 2}},
            {"edge_1023", {1023, 1024, 2048}},
            {"edge_4097", {4097, 512, 1024}},
            {"edge_1023_tanh", {1023, 1024, 2048, 1}},
            {"decode_1x64x96", {1, 64, 96}},
            {"decode_3x96x160_erf", {3, 96, 160, 2}},
            {"decode_5x72x200_tanh", {5, 72, 200, 1}},
            {"decode_17x64x136", {17, 64, 136}},
            {"decode_63x128x264", {63, 128, 264}}};
  }
  /// One adversarial shape serves the three activations: a generator named ..._tanh or ..._erf sets ACT 1 or 2
  /// (the problem's scalar, which the oracle and eager follow), the others keep the shape's (silu).
  std::vector<std::string> adversarial_generators() const override {
    return {"dynamic_range", "saturated_gate", "saturated_gate_tanh", "saturated_gate_erf", "dynamic_range_tanh"};
  }
  Shape adversarial_shape() const override { return {"adversarial", {64, 256, 512}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"llama7b", {2048, 4096, 11008}}, {"large", {2048, 2048, 5504}}, {"llama3_8b_m1", {1, 4096, 14336}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto& d = spec.shape.dims;
    const auto M = d.at(0), E = d.at(1), F = d.at(2);
    if (const auto why = dims_error(d); !why.empty()) {
      throw Fatal(Error{fmt::format("{}: shape {}: {}", name(), shape_string(d), why)});
    }
    auto act = act_of(d);
    std::string_view gen = spec.generator;
    if (gen.ends_with("_tanh")) {
      act = 1, gen.remove_suffix(5);
    } else if (gen.ends_with("_erf")) {
      act = 2, gen.remove_suffix(4);
    }
    auto wg = detail::randn({F, E}, spec.dtype, dev, spec.seed + 1, 1.0 / std::sqrt(double(E)));
    auto wu = detail::randn({F, E}, spec.dtype, dev, spec.seed + 2, 1.0 / std::sqrt(double(E)));
    auto wd = detail::randn({E, F}, spec.dtype, dev, spec.seed + 3, 1.0 / std::sqrt(double(F)));
    at::Tensor x;
    if (gen == "random") {
      x = detail::randn({M, E}, spec.dtype, dev, spec.seed);
    } else if (gen == "dynamic_range") {
      auto scale = at::pow(10.0, detail::rand({M, 1}, at::kFloat, dev, spec.seed + 4).mul(4.0).sub(2.0));
      x = detail::randn({M, E}, at::kFloat, dev, spec.seed).mul(scale).to(spec.dtype);
    } else if (gen == "saturated_gate") {
      // Gate pre-activations near +-100: silu(x) = x * sigmoid(x) must not become NaN where exp overflows, nor
      // the tanh form (its u ~ 0.036 g^3 is far past exp's range) or erfc at g / sqrt(2) ~ -70.
      x = detail::randn({M, E}, spec.dtype, dev, spec.seed, 30.0);
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    return {{x, wg, wu, wd}, {double(act)}, {{M, E}}, {spec.dtype}};
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    auto x = p.inputs[0].to(at::kDouble);
    auto g = at::matmul(x, p.inputs[1].to(at::kDouble).t());
    auto u = at::matmul(x, p.inputs[2].to(at::kDouble).t());
    return {at::matmul(activate(g, act(p)) * u, p.inputs[3].to(at::kDouble).t())};
  }
  /// As the model runs it: F.silu or F.gelu(approximate="tanh" | "none") on the gate's linear.
  std::vector<at::Tensor> eager(const Problem& p) const override {
    const auto& x = p.inputs[0];
    return {at::linear(activate(at::linear(x, p.inputs[1]), act(p)) * at::linear(x, p.inputs[2]), p.inputs[3])};
  }

  /// The activation does not change the work: two GEMMs to F and one back, both GELU forms and silu alike.
  double flops(const Shape& s) const override { return 6.0 * s.dims[0] * s.dims[1] * s.dims[2]; }
  double bytes(const Shape& s, at::ScalarType t) const override {
    const double M = s.dims[0], E = s.dims[1], F = s.dims[2];
    return (2 * M * E + 3 * E * F) * dtype_bytes(t);
  }
  /// The same for every ACT: silu's and both GELUs' slopes lie within [-0.13, 1.13], so h's rounding reaches y
  /// alike (the tanh form's distance from the exact GELU is its formula, which the oracle computes too).
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {1e-2, 1e-2};  // the hidden activation is rounded to f16 between the GEMMs
      case at::kBFloat16:
        return {3e-2, 3e-2};  // ... to bf16 (2^-8), then summed over F
      default:
        return {5e-3, 5e-3};  // TF32 tensor cores allowed
    }
  }

 private:
  static int64_t act(const Problem& p) { return p.scalars.empty() ? 0 : static_cast<int64_t>(p.scalars[0]); }
};

}  // namespace
std::unique_ptr<KernelType> make_fused_mlp() { return std::make_unique<FusedMlp>(); }
}  // namespace ak::catalog
