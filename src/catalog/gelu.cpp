// gelu: y = gelu(x) elementwise over x[M,N] (a model's [..., N] flattened to rows). The scalar `approximate`:
//   0: exact, 0.5 x (1 + erf(x / sqrt(2))) (nn.GELU(), BERT, GPT-J);
//   1: the tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GPT-2's NewGELUActivation,
//      gelu_pytorch_tanh).
// dims = M,N[,approximate], like rotary_embedding's style: a shape of 2 dims means the exact form.
#include <numbers>

#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

/// The form: the 3rd dim, or 0 (exact) where there is none.
int64_t approximate_of(const std::vector<int64_t>& d) { return d.size() > 2 ? d[2] : 0; }

class Gelu final : public KernelType {
 public:
  std::string_view name() const override { return "gelu"; }
  std::string_view dims_doc() const override { return "M,N[,approximate]"; }
  std::string dims_error(const std::vector<int64_t>& d) const override {
    if (const auto a = approximate_of(d); a != 0 && a != 1)
      return fmt::format("approximate={} must be 0 (erf) or 1 (tanh)", a);
    return "";
  }

  Shape smoke_shape() const override { return {"tiny", {32, 128, 1}}; }
  /// GPT-2's MLP (768 x 4 = 3072 wide; GPT-2 XL 6400; a 1280-wide model 5120), BERT's, and Llama-like widths.
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {256, 512, 0}},      {"gpt2", {2048, 3072, 1}},       {"gpt2_erf", {2048, 3072, 0}},
            {"bert", {4096, 3072, 0}},     {"gpt2_large", {2048, 5120, 1}}, {"gpt2_xl", {1024, 6400, 1}},
            {"llama7b", {2048, 11008, 0}}, {"llama3_8b", {2048, 14336, 1}}, {"xlarge", {8192, 8192, 0}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_7x4097", {7, 4097, 1}}, {"odd_7x4097_erf", {7, 4097, 0}},  {"odd_127x1537", {127, 1537, 1}},
            {"odd_1x3", {1, 3, 0}},       {"edge_1023x768", {1023, 768, 0}}, {"edge_4097x1024", {4097, 1024, 1}}};
  }
  /// The tanh form, GPT-2's: its cube is where a kernel computing in f16 overflows.
  std::vector<std::string> adversarial_generators() const override {
    return {"large_values", "tiny_values", "zeros", "negative_large"};
  }
  Shape adversarial_shape() const override { return {"adversarial", {64, 4096, 1}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"xlarge", {8192, 8192, 1}}, {"gpt2_large", {2048, 5120, 1}}, {"llama7b", {2048, 11008, 0}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto& d = spec.shape.dims;
    const auto M = d.at(0), N = d.at(1), approximate = approximate_of(d);
    if (const auto why = dims_error(d); !why.empty()) {
      throw Fatal(Error{fmt::format("{}: shape {}: {}", name(), shape_string(d), why)});
    }
    at::Tensor x;
    if (spec.generator == "random") {
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed, 2.0);
    } else if (spec.generator == "large_values") {
      // |x| past 40: x^3 overflows f16 (and past 2e12 f32), while tanh and erf are saturated: y = x or -0.
      x = detail::randn({M, N}, at::kFloat, dev, spec.seed).mul(spec.dtype == at::kHalf ? 200.0 : 1e4).to(spec.dtype);
    } else if (spec.generator == "tiny_values") {
      // y ~ x / 2: subnormal in f16; the product must not flush to zero before the final rounding.
      x = detail::randn({M, N}, spec.dtype, dev, spec.seed, 1e-4);
    } else if (spec.generator == "zeros") {
      x = detail::randn({M, N}, at::kFloat, dev, spec.seed);
      x.slice(0, 0, M, 2).zero_();  // every other row zeros: y = 0 exactly, never NaN
      x = x.to(spec.dtype);
    } else if (spec.generator == "negative_large") {
      // x in [-12, -2]: 1 + tanh (or erf) cancels to the last few bits of f32; the result must come from a
      // form without the cancellation (x sigmoid(2u), 0.5 x erfc(-x/sqrt(2))), else it is noise.
      x = detail::rand({M, N}, at::kFloat, dev, spec.seed).mul(-10.0).sub(2.0).to(spec.dtype);
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    return {{x}, {double(approximate)}, {{M, N}}, {spec.dtype}};
  }
  /// The definition in f64, each form written without cancellation (erfc; 1 + tanh(u) = 2 sigmoid(2u)).
  std::vector<at::Tensor> reference(const Problem& p) const override {
    auto x = p.inputs[0].to(at::kDouble);
    if (p.scalars.at(0) == 0) return {x * at::erfc(x.neg() / std::numbers::sqrt2) * 0.5};
    const double c = std::sqrt(2.0 / std::numbers::pi);
    auto u = (x + x.pow(3) * 0.044715) * c;
    return {x * at::sigmoid(u * 2.0)};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override {
    return {at::gelu(p.inputs[0], p.scalars.at(0) == 0 ? "none" : "tanh")};
  }

  /// tanh form: about 8 FLOP an element (cube, fma, scale, tanh counted as 1, add, two products); erf alike.
  double flops(const Shape& s) const override { return 8.0 * s.dims[0] * s.dims[1]; }
  /// x read once, y written once: a copy's traffic.
  double bytes(const Shape& s, at::ScalarType t) const override { return 2.0 * s.dims[0] * s.dims[1] * dtype_bytes(t); }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {2e-3, 2e-3};  // output rounding 2^-11
      case at::kBFloat16:
        return {1e-2, 1e-2};  // output rounding 2^-8
      default:
        return {1e-5, 1e-5};  // f32 tanhf / erff within a few ulp, times x
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_gelu() { return std::make_unique<Gelu>(); }
}  // namespace ak::catalog
