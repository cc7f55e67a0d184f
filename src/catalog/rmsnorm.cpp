// rmsnorm: y = x * rsqrt(mean(x^2) + eps) * weight over the last dim (LLaMA's RMSNorm). dims = M,N; eps = 1e-6.
#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

constexpr double k_eps = 1e-6;  // LLaMA's default

class RmsNorm final : public KernelType {
 public:
  std::string_view name() const override { return "rmsnorm"; }
  std::string_view dims_doc() const override { return "M,N"; }

  Shape smoke_shape() const override { return {"tiny", {32, 128}}; }
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {256, 512}},      {"gpt2", {1024, 768}},    {"medium", {4096, 1024}},
            {"llama7b", {2048, 4096}},  {"large", {4096, 4096}},  {"llama13b", {4096, 5120}},
            {"llama70b", {2048, 8192}}, {"xlarge", {8192, 4096}}, {"xxlarge", {8192, 8192}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_7x4097", {7, 4097}},
            {"odd_127x1537", {127, 1537}},
            {"edge_1023x768", {1023, 768}},
            {"edge_4097x1024", {4097, 1024}}};
  }
  std::vector<std::string> adversarial_generators() const override {
    return {"large_values", "tiny_values", "zero_rows"};
  }
  Shape adversarial_shape() const override { return {"adversarial", {64, 4096}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"xxlarge", {8192, 8192}}, {"xlarge", {8192, 4096}}, {"large", {4096, 4096}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto M = spec.shape.dims.at(0), N = spec.shape.dims.at(1);
    auto w = detail::randn({N}, at::kFloat, dev, spec.seed + 1, 0.1).add_(1.0).to(spec.dtype);
    at::Tensor x;
    if (spec.generator == "random") {
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed);
    } else if (spec.generator == "large_values") {
      // x^2 overflows f16 (300^2 > 65504): the sum of squares must be f32.
      x = detail::randn({M, N}, at::kFloat, dev, spec.seed).mul(spec.dtype == at::kHalf ? 300.0 : 1e4).to(spec.dtype);
    } else if (spec.generator == "tiny_values") {
      // mean(x^2) far below eps: eps must be added inside the root, not dropped.
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed, 1e-4);
    } else if (spec.generator == "zero_rows") {
      x = detail::randn({M, N}, at::kFloat, dev, spec.seed);
      x.slice(0, 0, M, 2).zero_();  // every other row all zeros: the answer is 0, never NaN
      x = x.to(spec.dtype);
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    return {{x, w}, {k_eps}, {{M, N}}, {spec.dtype}};
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    auto x = p.inputs[0].to(at::kDouble);
    auto r = at::rsqrt(x.pow(2).mean(-1, true).add(p.scalars[0]));
    return {x * r * p.inputs[1].to(at::kDouble)};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override {
    const auto N = p.inputs[0].size(-1);
    return {at::rms_norm(p.inputs[0], {N}, p.inputs[1], p.scalars[0])};
  }

  double flops(const Shape& s) const override { return 4.0 * s.dims[0] * s.dims[1]; }
  double bytes(const Shape& s, at::ScalarType t) const override {
    return (2.0 * s.dims[0] * s.dims[1] + s.dims[1]) * dtype_bytes(t);
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {2e-3, 2e-3};  // output rounding 2^-11
      case at::kBFloat16:
        return {1e-2, 1e-2};  // output rounding 2^-8
      default:
        return {1e-4, 1e-4};
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_rmsnorm() { return std::make_unique<RmsNorm>(); }
}  // namespace ak::catalog
