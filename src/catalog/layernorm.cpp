// layernorm: y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim. dims = M,N; eps = 1e-5.
#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

constexpr double k_eps = 1e-5;  // nn.LayerNorm's default

class LayerNorm final : public KernelType {
 public:
  std::string_view name() const override { return "layernorm"; }
  std::string_view dims_doc() const override { return "M,N"; }

  Shape smoke_shape() const override { return {"tiny", {32, 128}}; }
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {256, 512}},      {"medium", {1024, 1024}}, {"large", {4096, 2048}},
            {"xlarge", {8192, 4096}},   {"wide", {1024, 8192}},   {"llama7b", {4096, 4096}},
            {"llama13b", {4096, 5120}}, {"gpt2", {2048, 768}},    {"bert_large", {8192, 1024}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_7x4097", {7, 4097}},
            {"odd_127x1537", {127, 1537}},
            {"edge_1023", {1023, 1023}},
            {"edge_4097", {4097, 4097}}};
  }
  std::vector<std::string> adversarial_generators() const override {
    return {"near_zero_variance", "constant_rows", "large_values"};
  }
  Shape adversarial_shape() const override { return {"adversarial", {64, 4096}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"xlarge", {8192, 4096}}, {"llama13b", {4096, 5120}}, {"large", {4096, 2048}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto M = spec.shape.dims.at(0), N = spec.shape.dims.at(1);
    auto w = detail::randn({N}, at::kFloat, dev, spec.seed + 1, 0.1).add_(1.0).to(spec.dtype);
    auto b = detail::randn({N}, spec.dtype, dev, spec.seed + 2, 0.1);
    at::Tensor x;
    if (spec.generator == "random") {
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed);
    } else if (spec.generator == "near_zero_variance") {
      // Mean 10, std 1e-2: E[x^2] - E[x]^2 in f32 cancels catastrophically; two-pass or Welford is needed.
      x = detail::randn({M, N}, at::kFloat, dev, spec.seed).mul(1e-2).add(10.0).to(spec.dtype);
    } else if (spec.generator == "constant_rows") {
      // Zero variance: the answer is the bias, exactly; a kernel without eps divides by zero.
      x = detail::randn({M, 1}, at::kFloat, dev, spec.seed).expand({M, N}).contiguous().to(spec.dtype);
    } else if (spec.generator == "large_values") {
      // Squares overflow f16: statistics must be accumulated in f32.
      x = detail::randn({M, N}, at::kFloat, dev, spec.seed).mul(spec.dtype == at::kHalf ? 2e3 : 1e4).to(spec.dtype);
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    return {{x, w, b}, {k_eps}, {{M, N}}, {spec.dtype}};
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    const auto N = p.inputs[0].size(-1);
    return {at::layer_norm(p.inputs[0].to(at::kDouble), {N}, p.inputs[1].to(at::kDouble), p.inputs[2].to(at::kDouble),
                           p.scalars[0])};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override {
    const auto N = p.inputs[0].size(-1);
    return {at::layer_norm(p.inputs[0], {N}, p.inputs[1], p.inputs[2], p.scalars[0])};
  }

  double flops(const Shape& s) const override { return 8.0 * s.dims[0] * s.dims[1]; }
  double bytes(const Shape& s, at::ScalarType t) const override {
    return (2.0 * s.dims[0] * s.dims[1] + 2.0 * s.dims[1]) * dtype_bytes(t);
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {2e-3, 2e-3};  // output rounding 2^-11 plus the statistics' rounding
      case at::kBFloat16:
        return {1e-2, 1e-2};  // output rounding 2^-8
      default:
        return {1e-4, 1e-4};  // f32 statistics over rows up to 8192 long
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_layernorm() { return std::make_unique<LayerNorm>(); }
}  // namespace ak::catalog
