// skinny_gemm: y[M,N] = x[M,K] W[N,K]^T, a decode step's linear layer (M = 1..64 tokens), f32 accumulation.
// W is F.linear's weight as it is, never transposed; no bias (the exported op adds it). dims = M,N,K.
// Memory-bound: W is read once, so the ceiling is the copy bandwidth, not the tensor cores.
#include <cmath>

#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

class SkinnyGemm final : public KernelType {
 public:
  std::string_view name() const override { return "skinny_gemm"; }
  std::string_view dims_doc() const override { return "M,N,K"; }

  Shape smoke_shape() const override { return {"tiny", {4, 64, 96}}; }
  // Every M of a decode batch (1..64) and every Llama-3-8B projection (N,K): q/o 4096x4096, k/v 1024x4096,
  // gate/up 14336x4096, down 4096x14336, LM head 128256x4096; ten of their pairs, not all thirty.
  std::vector<Shape> sweep_shapes() const override {
    return {{"m1_qo", {1, 4096, 4096}},        {"m4_kv", {4, 1024, 4096}},        {"m8_up", {8, 14336, 4096}},
            {"m16_down", {16, 4096, 14336}},   {"m32_qo", {32, 4096, 4096}},      {"m64_kv", {64, 1024, 4096}},
            {"m1_lm_head", {1, 128256, 4096}}, {"m8_lm_head", {8, 128256, 4096}}, {"m64_up", {64, 14336, 4096}},
            {"m1_down", {1, 4096, 14336}}};
  }
  // K not a multiple of 8 (no row of W starts 16-byte aligned), odd N, GPT-2's vocabulary; and K a multiple of 8
  // but not of 32 with odd N and M = 8*5 + 1 (aligned, so the 16-bit tensor-core path's K, N and M tails).
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_7x127x4097", {7, 127, 4097}},     {"odd_63x129x131", {63, 129, 131}},
            {"odd_33x1537x1023", {33, 1537, 1023}}, {"tails_41x1537x1064", {41, 1537, 1064}},
            {"gpt2_lm_head", {1, 50257, 768}},      {"k_1", {5, 33, 1}}};
  }
  std::vector<std::string> adversarial_generators() const override {
    return {"cancelling_sums", "dynamic_range", "zeros_and_ones"};
  }
  Shape adversarial_shape() const override { return {"adversarial", {8, 512, 4096}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"m1_up", {1, 14336, 4096}}, {"m8_up", {8, 14336, 4096}}, {"m32_up", {32, 14336, 4096}},
            {"m1_qo", {1, 4096, 4096}},  {"m8_qo", {8, 4096, 4096}},  {"m32_qo", {32, 4096, 4096}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto M = spec.shape.dims.at(0), N = spec.shape.dims.at(1), K = spec.shape.dims.at(2);
    at::Tensor x, w;
    if (spec.generator == "random") {
      x = detail::randn({M, K}, spec.dtype, dev, spec.seed);
      w = detail::randn({N, K}, spec.dtype, dev, spec.seed + 1, 1.0 / std::sqrt(double(K)));
    } else if (spec.generator == "cancelling_sums") {
      // x = +-100, W = +1 on the first half of K and -1 on the second, a tenth of it zero: every partial sum
      // passes 65504 (f16's largest) on the way to a small exact integer times 100. An f16 accumulator
      // overflows, a bf16 one rounds; f32 is exact.
      x = detail::rand({M, 1}, at::kFloat, dev, spec.seed).gt(0.5).to(at::kFloat).mul(200.0).sub(100.0).expand({M, K});
      auto sign = at::ones({K}, detail::opts(at::kFloat, dev));
      sign.slice(0, K / 2, K).fill_(-1.0);
      w = detail::rand({N, K}, at::kFloat, dev, spec.seed + 1).gt(0.1).to(at::kFloat).mul(sign);
      x = x.contiguous().to(spec.dtype);
      w = w.to(spec.dtype);
    } else if (spec.generator == "dynamic_range") {
      // Rows of x span 10^-3..10^3: an accumulator too narrow for the spread shows in the small rows.
      auto scale = at::pow(10.0, detail::rand({M, 1}, at::kFloat, dev, spec.seed + 2).mul(6.0).sub(3.0));
      x = detail::randn({M, K}, at::kFloat, dev, spec.seed).mul(scale).to(spec.dtype);
      w = detail::randn({N, K}, spec.dtype, dev, spec.seed + 1, 1.0 / std::sqrt(double(K)));
    } else if (spec.generator == "zeros_and_ones") {
      // Exact small integers: any correct kernel is exact, so a wrong row or column shows at once.
      x = detail::rand({M, K}, at::kFloat, dev, spec.seed).gt(0.5).to(spec.dtype);
      w = detail::rand({N, K}, at::kFloat, dev, spec.seed + 1).gt(0.5).to(spec.dtype);
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    return {{x, w}, {}, {{M, N}}, {spec.dtype}};
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    return {at::linear(p.inputs[0].to(at::kDouble), p.inputs[1].to(at::kDouble))};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override { return {at::linear(p.inputs[0], p.inputs[1])}; }

  double flops(const Shape& s) const override { return 2.0 * s.dims[0] * s.dims[1] * s.dims[2]; }
  double bytes(const Shape& s, at::ScalarType t) const override {
    const double M = s.dims[0], N = s.dims[1], K = s.dims[2];
    return (N * K + M * K + M * N) * dtype_bytes(t);  // the weight dominates
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {5e-3, 5e-3};  // output rounding is 2^-11 relative; room for summation order
      case at::kBFloat16:
        return {2e-2, 2e-2};  // output rounding is 2^-8 relative
      default:
        return {5e-3, 5e-3};  // as matmul's: a kernel on TF32 tensor cores passes
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_skinny_gemm() { return std::make_unique<SkinnyGemm>(); }
}  // namespace ak::catalog
