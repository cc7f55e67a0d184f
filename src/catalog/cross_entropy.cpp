// cross_entropy: loss[M] (f32) = logsumexp(logits[m,:]) - logits[m, target[m]]; target < 0 is ignored (loss 0).
// dims = M,V. The per-row form (reduction='none'): the mean is the caller's one extra reduction.
#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

constexpr int64_t k_ignore_index = -100;  // F.cross_entropy's default

class CrossEntropy final : public KernelType {
 public:
  std::string_view name() const override { return "cross_entropy"; }
  std::string_view dims_doc() const override { return "M,V"; }

  Shape smoke_shape() const override { return {"tiny", {16, 1024}}; }
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {128, 1000}},     {"medium", {512, 32000}},   {"llama_1k", {1024, 32000}},
            {"large", {4096, 32000}},   {"xlarge", {8192, 32000}},  {"gpt2", {1024, 50257}},
            {"gpt2_4k", {4096, 50257}}, {"gpt2_8k", {8192, 50257}}, {"llama3", {2048, 128256}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_7x1023", {7, 1023}},
            {"odd_127x50257", {127, 50257}},
            {"edge_1023x32000", {1023, 32000}},
            {"edge_4097x1000", {4097, 1000}}};
  }
  std::vector<std::string> adversarial_generators() const override { return {"large_logits", "equal_logits"}; }
  Shape adversarial_shape() const override { return {"adversarial", {64, 32000}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"xlarge", {8192, 32000}}, {"gpt2_8k", {8192, 50257}}, {"large", {4096, 32000}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto M = spec.shape.dims.at(0), V = spec.shape.dims.at(1);
    at::Tensor logits;
    if (spec.generator == "random") {
      logits = detail::randn({M, V}, spec.dtype, dev, spec.seed, 2.0);
    } else if (spec.generator == "large_logits") {
      // exp() overflows without the row max subtracted.
      const double big = spec.dtype == at::kHalf ? 1e4 : 1e5;
      logits = detail::randn({M, V}, at::kFloat, dev, spec.seed).mul(big / 4).clamp(-6e4, 6e4).to(spec.dtype);
    } else if (spec.generator == "equal_logits") {
      logits = at::full({M, V}, 7.0, detail::opts(spec.dtype, dev));  // loss = log(V) exactly
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    auto target = detail::rand({M}, at::kFloat, dev, spec.seed + 1).mul(V).floor().clamp_max(V - 1).to(at::kLong);
    // About one row in 16 is padding, as in real batches.
    auto ignored = detail::rand({M}, at::kFloat, dev, spec.seed + 2).lt(1.0 / 16);
    target = target.masked_fill(ignored, k_ignore_index);
    return {{logits, target}, {}, {{M}}, {at::kFloat}};
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    auto logits = p.inputs[0].to(at::kDouble);
    const auto& target = p.inputs[1];
    auto valid = target.ge(0);
    auto picked = logits.gather(1, target.clamp_min(0).unsqueeze(1)).squeeze(1);
    auto loss = at::logsumexp(logits, {1}) - picked;
    return {loss.masked_fill(valid.logical_not(), 0.0)};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override {
    return {at::cross_entropy_loss(p.inputs[0], p.inputs[1], {}, at::Reduction::None, k_ignore_index)};
  }

  double flops(const Shape& s) const override { return 4.0 * s.dims[0] * s.dims[1]; }
  double bytes(const Shape& s, at::ScalarType t) const override {
    return 1.0 * s.dims[0] * s.dims[1] * dtype_bytes(t) + s.dims[0] * (8.0 + 4.0);
  }
  Tolerance tolerance(at::ScalarType) const override {
    // The loss is f32 computed from exact inputs: only exp/log and summation order differ.
    return {5e-4, 5e-4};
  }
};

}  // namespace
std::unique_ptr<KernelType> make_cross_entropy() { return std::make_unique<CrossEntropy>(); }
}  // namespace ak::catalog
