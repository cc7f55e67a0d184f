// rotary_embedding: rotate interleaved pairs (x[2i], x[2i+1]) of x[B,H,S,D] by angle theta[s,i]:
//   y[2i] = x[2i] cos - x[2i+1] sin,  y[2i+1] = x[2i] sin + x[2i+1] cos,  cos/sin given as [S, D/2].
// dims = B,H,S,D. The form of Meta's LLaMA (complex multiplication of pairs).
#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

constexpr double k_rope_base = 10000.0;

class Rotary final : public KernelType {
 public:
  std::string_view name() const override { return "rotary_embedding"; }
  std::string_view dims_doc() const override { return "B,H,S,D"; }

  Shape smoke_shape() const override { return {"tiny", {1, 4, 64, 64}}; }
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {2, 8, 256, 64}},        {"medium", {2, 16, 512, 64}},     {"gptj", {4, 16, 1024, 64}},
            {"large", {2, 32, 1024, 128}},     {"llama7b", {1, 32, 2048, 128}},  {"llama13b", {1, 40, 2048, 128}},
            {"xlarge", {2, 32, 2048, 128}},    {"long", {2, 32, 4096, 128}},     {"gqa_kv", {1, 8, 8192, 128}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_3x5x33x32", {3, 5, 33, 32}}, {"edge_s127", {1, 8, 127, 64}}, {"edge_s1023", {1, 8, 1023, 128}},
            {"edge_s4097", {1, 2, 4097, 64}}};
  }
  std::vector<std::string> adversarial_generators() const override { return {"large_values", "far_positions"}; }
  Shape adversarial_shape() const override { return {"adversarial", {1, 4, 256, 128}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"xlarge", {2, 32, 2048, 128}}, {"long", {2, 32, 4096, 128}}, {"llama7b", {1, 32, 2048, 128}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto B = spec.shape.dims.at(0), H = spec.shape.dims.at(1), S = spec.shape.dims.at(2),
               D = spec.shape.dims.at(3);
    double first_position = 0;
    at::Tensor x;
    if (spec.generator == "random") {
      x = detail::randn({B, H, S, D}, spec.dtype, dev, spec.seed);
    } else if (spec.generator == "large_values") {
      x = detail::randn({B, H, S, D}, at::kFloat, dev, spec.seed).mul(spec.dtype == at::kHalf ? 1e4 : 1e6).to(spec.dtype);
    } else if (spec.generator == "far_positions") {
      // Positions near 10^5: every angle wraps many times, as in long-context decoding.
      x = detail::randn({B, H, S, D}, spec.dtype, dev, spec.seed);
      first_position = 100000;
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    // theta[s, i] = position * base^(-2i/D), computed in f64 then rounded like a model's cached table.
    auto pos = at::arange(S, detail::opts(at::kDouble, dev)).add(first_position);
    auto inv_freq = at::pow(k_rope_base, at::arange(0, D, 2, detail::opts(at::kDouble, dev)).div(double(D)).neg());
    auto theta = at::outer(pos, inv_freq);
    return {{x, theta.cos().to(spec.dtype), theta.sin().to(spec.dtype)}, {}, {{B, H, S, D}}, {spec.dtype}};
  }
  static at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    auto pairs = x.unflatten(-1, {-1, 2});
    auto x1 = pairs.select(-1, 0), x2 = pairs.select(-1, 1);
    return at::stack({x1 * cos - x2 * sin, x1 * sin + x2 * cos}, -1).flatten(-2);
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    return {rotate(p.inputs[0].to(at::kDouble), p.inputs[1].to(at::kDouble), p.inputs[2].to(at::kDouble))};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override {
    return {rotate(p.inputs[0], p.inputs[1], p.inputs[2])};
  }

  double flops(const Shape& s) const override { return 3.0 * s.dims[0] * s.dims[1] * s.dims[2] * s.dims[3]; }
  double bytes(const Shape& s, at::ScalarType t) const override {
    const double n = 1.0 * s.dims[0] * s.dims[1] * s.dims[2] * s.dims[3];
    return (2.0 * n + 1.0 * s.dims[2] * s.dims[3]) * dtype_bytes(t);
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf: return {2e-3, 2e-3};      // output rounding 2^-11
      case at::kBFloat16: return {1e-2, 1e-2};  // output rounding 2^-8
      default: return {1e-5, 1e-5};             // two f32 products and a sum
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_rotary_embedding() { return std::make_unique<Rotary>(); }
}  // namespace ak::catalog
