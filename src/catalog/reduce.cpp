// reduce: y[M] = sum of x[M,N] over the last dim, in x's dtype with f32 accumulation. dims = M,N.
#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

class Reduce final : public KernelType {
 public:
  std::string_view name() const override { return "reduce"; }
  std::string_view dims_doc() const override { return "M,N"; }

  Shape smoke_shape() const override { return {"tiny", {32, 128}}; }
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {256, 512}},   {"medium", {1024, 1024}},   {"rows", {4096, 1024}},
            {"llama", {2048, 4096}}, {"large_sq", {4096, 4096}}, {"large", {8192, 8192}},
            {"tall", {16384, 4096}}, {"wide", {1024, 32768}},    {"narrow", {32768, 128}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_7x50257", {7, 50257}},
            {"odd_127x1537", {127, 1537}},
            {"edge_1023x1024", {1023, 1024}},
            {"edge_4096x4097", {4096, 4097}}};
  }
  std::vector<std::string> adversarial_generators() const override { return {"ones", "cancellation"}; }
  Shape adversarial_shape() const override { return {"adversarial", {64, 8192}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"large", {8192, 8192}}, {"tall", {16384, 4096}}, {"wide", {1024, 32768}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto M = spec.shape.dims.at(0), N = spec.shape.dims.at(1);
    at::Tensor x;
    if (spec.generator == "random") {
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed);
    } else if (spec.generator == "ones") {
      // Sum 8192 exactly; an f16 accumulator sticks at 2048 (2048 + 1 rounds back to 2048).
      x = at::ones({M, N}, detail::opts(spec.dtype, dev));
    } else if (spec.generator == "cancellation") {
      // Pairs of +-1000 around small values: the sum is small; a low-precision accumulator loses it.
      auto base = detail::randn({M, N}, at::kFloat, dev, spec.seed);
      auto sign = at::arange(N, detail::opts(at::kFloat, dev)).remainder(2).mul(2).sub(1);
      x = base.add(sign.mul(1000.0)).to(spec.dtype);
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    return {{x}, {}, {{M}}, {spec.dtype}};
  }
  std::vector<at::Tensor> reference(const Problem& p) const override { return {p.inputs[0].to(at::kDouble).sum(-1)}; }
  std::vector<at::Tensor> eager(const Problem& p) const override { return {p.inputs[0].sum(-1)}; }

  double flops(const Shape& s) const override { return 1.0 * s.dims[0] * s.dims[1]; }
  double bytes(const Shape& s, at::ScalarType t) const override {
    return (1.0 * s.dims[0] * s.dims[1] + s.dims[0]) * dtype_bytes(t);
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {2e-3, 2e-3};  // output rounding 2^-11
      case at::kBFloat16:
        return {1e-2, 1e-2};  // output rounding 2^-8
      default:
        return {1e-4, 1e-4};  // f32 sums of 10^4..10^5 terms in any order
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_reduce() { return std::make_unique<Reduce>(); }
}  // namespace ak::catalog
