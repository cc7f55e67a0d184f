// softmax: y[M,N] = softmax(x[M,N]) over the last dim. dims = M,N.
#include <limits>

#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

class Softmax final : public KernelType {
 public:
  std::string_view name() const override { return "softmax"; }
  std::string_view dims_doc() const override { return "M,N"; }

  Shape smoke_shape() const override { return {"tiny", {32, 128}}; }
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {256, 512}},          {"medium", {1024, 1024}},      {"large", {4096, 4096}},
            {"xlarge", {8192, 8192}},       {"wide", {1024, 32768}},       {"narrow", {32768, 128}},
            {"llama_vocab", {2048, 32000}}, {"gpt2_vocab", {1024, 50257}}, {"attn_scores", {16384, 2048}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_7x127", {7, 127}},
            {"odd_33x1537", {33, 1537}},
            {"edge_1023", {1023, 1023}},
            {"edge_4097", {4097, 4097}},
            {"edge_127x50257", {127, 50257}}};
  }
  std::vector<std::string> adversarial_generators() const override {
    return {"large_equal_rows", "large_spread", "masked_neg_inf"};
  }
  Shape adversarial_shape() const override { return {"adversarial", {64, 4096}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"large", {4096, 4096}}, {"xlarge", {8192, 8192}}, {"llama_vocab", {2048, 32000}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto M = spec.shape.dims.at(0), N = spec.shape.dims.at(1);
    const double big = spec.dtype == at::kHalf ? 6e4 : 1e4;  // f16 tops out at 65504
    at::Tensor x;
    if (spec.generator == "random") {
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed);
    } else if (spec.generator == "large_equal_rows") {
      // Every element equal and large: exp without the max subtracted overflows; the answer is 1/N.
      x = at::full({M, N}, big, detail::opts(spec.dtype, dev));
    } else if (spec.generator == "large_spread") {
      x = detail::randn({M, N}, at::kFloat, dev, spec.seed).mul(big / 4).clamp(-big, big).to(spec.dtype);
    } else if (spec.generator == "masked_neg_inf") {
      // Half the entries masked with -inf, as attention masks do; never a whole row.
      x = detail::randn({M, N}, at::kFloat, dev, spec.seed);
      auto mask = detail::rand({M, N}, at::kFloat, dev, spec.seed + 1).lt(0.5);
      mask.select(1, 0).fill_(false);
      x = x.masked_fill(mask, -std::numeric_limits<float>::infinity()).to(spec.dtype);
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    return {{x}, {}, {{M, N}}, {spec.dtype}};
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    return {at::softmax(p.inputs[0].to(at::kDouble), -1)};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override { return {at::softmax(p.inputs[0], -1)}; }

  double flops(const Shape& s) const override { return 5.0 * s.dims[0] * s.dims[1]; }
  double bytes(const Shape& s, at::ScalarType t) const override { return 2.0 * s.dims[0] * s.dims[1] * dtype_bytes(t); }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {1e-3, 2e-3};  // rounding of the output: 2^-11 relative
      case at::kBFloat16:
        return {1e-2, 1e-2};  // 2^-8 relative
      default:
        return {1e-5, 1e-4};  // f32 exp and sum: a few ulp
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_softmax() { return std::make_unique<Softmax>(); }
}  // namespace ak::catalog
