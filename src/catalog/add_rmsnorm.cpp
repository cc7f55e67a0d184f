// add_rmsnorm: the residual add and the RMSNorm after it, in one pass over the rows. A pre-norm decoder block
// (LLaMA, Mistral, Qwen, ...) ends each half with `h = residual + out; y = rmsnorm(h)` and keeps h as the
// next residual, so both are outputs: s = x + residual (the stream, rounded to the dtype as PyTorch stores
// it) and y = s * rsqrt(mean(s^2) + eps) * weight. dims = M,N; eps = 1e-6.
// One kernel reads x and the residual once and writes s and y: 4 row passes of traffic instead of the 5 of
// an add kernel followed by a norm kernel (which reads s back).
#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

constexpr double k_eps = 1e-6;  // LLaMA's default

class AddRmsNorm final : public KernelType {
 public:
  std::string_view name() const override { return "add_rmsnorm"; }
  std::string_view dims_doc() const override { return "M,N"; }
  std::string_view unfused() const override { return "rmsnorm"; }

  Shape smoke_shape() const override { return {"tiny", {32, 128}}; }
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {256, 512}},   {"gpt2", {1024, 768}},      {"medium", {4096, 1024}},   {"llama7b", {2048, 4096}},
            {"large", {4096, 4096}}, {"llama13b", {4096, 5120}}, {"llama70b", {2048, 8192}}, {"xlarge", {8192, 4096}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_7x4097", {7, 4097}},
            {"odd_127x1537", {127, 1537}},
            {"edge_1023x768", {1023, 768}},
            {"edge_4097x1024", {4097, 1024}}};
  }
  std::vector<std::string> adversarial_generators() const override {
    return {"large_values", "tiny_values", "cancelling"};
  }
  Shape adversarial_shape() const override { return {"adversarial", {64, 4096}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"xlarge", {8192, 4096}}, {"large", {4096, 4096}}, {"llama7b", {2048, 4096}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto M = spec.shape.dims.at(0), N = spec.shape.dims.at(1);
    auto w = detail::randn({N}, at::kFloat, dev, spec.seed + 2, 0.1).add_(1.0).to(spec.dtype);
    at::Tensor x, r;
    if (spec.generator == "random") {
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed);
      r = detail::randn({M, N}, spec.dtype, dev, spec.seed + 1);
    } else if (spec.generator == "large_values") {
      // s^2 overflows f16 (300^2 > 65504): the sum of squares must be f32.
      const double scale = spec.dtype == at::kHalf ? 150.0 : 1e4;
      x = detail::randn({M, N}, at::kFloat, dev, spec.seed).mul(scale).to(spec.dtype);
      r = detail::randn({M, N}, at::kFloat, dev, spec.seed + 1).mul(scale).to(spec.dtype);
    } else if (spec.generator == "tiny_values") {
      // mean(s^2) far below eps: eps must be added inside the root, not dropped.
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed, 1e-4);
      r = detail::randn({M, N}, spec.dtype, dev, spec.seed + 1, 1e-4);
    } else if (spec.generator == "cancelling") {
      // residual = -x on every other row: s is exactly 0 there (y must be 0, never NaN), and a kernel that
      // normalises x or the residual alone instead of their sum is far off on the rest.
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed);
      r = detail::randn({M, N}, spec.dtype, dev, spec.seed + 1);
      r.slice(0, 0, M, 2).copy_(x.slice(0, 0, M, 2).neg());
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    return {{x, r, w}, {k_eps}, {{M, N}, {M, N}}, {spec.dtype, spec.dtype}};
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    // s as PyTorch stores it (the sum rounded to the dtype): the norm of the next op reads that s, so the
    // oracle normalises the rounded s too (exact in float64 from there on).
    const auto s = p.inputs[0].to(at::kDouble).add(p.inputs[1].to(at::kDouble));
    const auto stored = s.to(p.inputs[0].scalar_type()).to(at::kDouble);
    const auto r = at::rsqrt(stored.pow(2).mean(-1, true).add(p.scalars[0]));
    return {s, stored * r * p.inputs[2].to(at::kDouble)};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override {
    const auto N = p.inputs[0].size(-1);
    auto s = p.inputs[0] + p.inputs[1];
    return {s, at::rms_norm(s, {N}, p.inputs[2], p.scalars[0])};
  }

  double flops(const Shape& s) const override { return 5.0 * s.dims[0] * s.dims[1]; }
  double bytes(const Shape& s, at::ScalarType t) const override {
    return (4.0 * s.dims[0] * s.dims[1] + s.dims[1]) * dtype_bytes(t);  // read x, residual; write s, y
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {2e-3, 2e-3};  // output rounding 2^-11, as rmsnorm
      case at::kBFloat16:
        return {1e-2, 1e-2};  // output rounding 2^-8
      default:
        return {1e-4, 1e-4};
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_add_rmsnorm() { return std::make_unique<AddRmsNorm>(); }
}  // namespace ak::catalog
