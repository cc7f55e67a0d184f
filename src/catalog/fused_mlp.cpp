// fused_mlp (SwiGLU): y[M,E] = (silu(x w_gate^T) * (x w_up^T)) w_down^T, weights in nn.Linear layout:
// w_gate, w_up [F,E], w_down [E,F]. dims = M,E,F (tokens, model dim, hidden dim).
#include <cmath>

#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

class FusedMlp final : public KernelType {
 public:
  std::string_view name() const override { return "fused_mlp"; }
  std::string_view dims_doc() const override { return "M,E,F"; }

  Shape smoke_shape() const override { return {"tiny", {32, 64, 128}}; }
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {128, 256, 512}},        {"medium", {256, 512, 1024}},       {"mid", {1024, 1024, 2048}},
            {"large", {2048, 2048, 5504}},     {"llama7b", {2048, 4096, 11008}},   {"llama7b_b4k", {4096, 4096, 11008}},
            {"llama13b", {1024, 5120, 13824}}, {"openllama3b", {2048, 3200, 8640}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_33x64x96", {33, 64, 96}},
            {"odd_127x96x160", {127, 96, 160}},
            {"edge_1023", {1023, 1024, 2048}},
            {"edge_4097", {4097, 512, 1024}}};
  }
  std::vector<std::string> adversarial_generators() const override { return {"dynamic_range", "saturated_gate"}; }
  Shape adversarial_shape() const override { return {"adversarial", {64, 256, 512}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"llama7b", {2048, 4096, 11008}}, {"large", {2048, 2048, 5504}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto M = spec.shape.dims.at(0), E = spec.shape.dims.at(1), F = spec.shape.dims.at(2);
    auto wg = detail::randn({F, E}, spec.dtype, dev, spec.seed + 1, 1.0 / std::sqrt(double(E)));
    auto wu = detail::randn({F, E}, spec.dtype, dev, spec.seed + 2, 1.0 / std::sqrt(double(E)));
    auto wd = detail::randn({E, F}, spec.dtype, dev, spec.seed + 3, 1.0 / std::sqrt(double(F)));
    at::Tensor x;
    if (spec.generator == "random") {
      x = detail::randn({M, E}, spec.dtype, dev, spec.seed);
    } else if (spec.generator == "dynamic_range") {
      auto scale = at::pow(10.0, detail::rand({M, 1}, at::kFloat, dev, spec.seed + 4).mul(4.0).sub(2.0));
      x = detail::randn({M, E}, at::kFloat, dev, spec.seed).mul(scale).to(spec.dtype);
    } else if (spec.generator == "saturated_gate") {
      // Gate pre-activations near +-100: silu(x) = x * sigmoid(x) must not become NaN where exp overflows.
      x = detail::randn({M, E}, spec.dtype, dev, spec.seed, 30.0);
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    return {{x, wg, wu, wd}, {}, {{M, E}}, {spec.dtype}};
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    auto x = p.inputs[0].to(at::kDouble);
    auto g = at::matmul(x, p.inputs[1].to(at::kDouble).t());
    auto u = at::matmul(x, p.inputs[2].to(at::kDouble).t());
    return {at::matmul(at::silu(g) * u, p.inputs[3].to(at::kDouble).t())};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override {
    const auto& x = p.inputs[0];
    return {at::linear(at::silu(at::linear(x, p.inputs[1])) * at::linear(x, p.inputs[2]), p.inputs[3])};
  }

  double flops(const Shape& s) const override { return 6.0 * s.dims[0] * s.dims[1] * s.dims[2]; }
  double bytes(const Shape& s, at::ScalarType t) const override {
    const double M = s.dims[0], E = s.dims[1], F = s.dims[2];
    return (2 * M * E + 3 * E * F) * dtype_bytes(t);
  }
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
};

}  // namespace
std::unique_ptr<KernelType> make_fused_mlp() { return std::make_unique<FusedMlp>(); }
}  // namespace ak::catalog
