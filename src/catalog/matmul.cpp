// matmul: C[M,N] = A[M,K] @ B[K,N], f32 accumulation; A and C row-major, B row-major or K-major (kernel_abi.h; the
// layouts "contiguous" and "b_kmajor", taken in turn by the stages). dims = M,N,K[,linear[,bias[,residual]]].
// linear: the call comes from a model's F.linear(x, W), W [N_out, K] as the model holds it, which our linear op runs
// without copying either operand. 1: y = x W^T (A = x [tokens, K], B = W^T, K-major; M = tokens, N = N_out).
// 2, where N_out is not a multiple of 8 (GPT-2's vocabulary, 50257: rows no GEMM kernel can store aligned):
// y^T = W x^T (A = W, B = x^T, K-major; M = N_out, N = tokens), the output handed back transposed. PyTorch's eager
// call is the model's, F.linear(x, W): that is the time the kernel must beat in that model.
// bias 1 (forms 0 and 1): a third input bias[N], added to every row in the epilogue (GEMM + bias in one pass, as
// F.linear and GPT-2's Conv1D, torch.addmm, ask and cuBLAS does): C = A B + bias.
// residual 1 (forms 0 and 1): an input residual[M,N] added too, C = A B (+ bias) + residual: a block's projection
// and the residual add after it (h = x + proj(a)) in one pass, the fusion our linear and matmul ops take inside
// torch.compile (kinds/matmul.py's graph pass). PyTorch's eager is the two calls, the GEMM and the add.
#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

class Matmul final : public KernelType {
 public:
  std::string_view name() const override { return "matmul"; }
  std::string_view dims_doc() const override { return "M,N,K[,linear[,bias[,residual]]]"; }

  Shape smoke_shape() const override { return {"tiny", {128, 128, 128}}; }
  std::vector<Shape> sweep_shapes() const override {
    return {{"small", {256, 256, 256}},
            {"xlarge", {4096, 4096, 4096}},
            {"deep_k", {1024, 1024, 8192}},
            {"gpt2_qkv", {1024, 2304, 768, 0, 1}},              // GPT-2's Conv1D: addmm(bias, x, W), W [K, N]
            {"gpt2_proj_residual", {1024, 768, 768, 0, 1, 1}},  // its attention's c_proj and the residual add
            // The LLaMA-7B projections as a model's F.linear makes them (linear form 1: B = W^T, K-major).
            {"llama7b_qkv", {2048, 12288, 4096, 1}},
            {"llama7b_up", {2048, 11008, 4096, 1}},
            {"llama7b_down_residual", {2048, 4096, 11008, 1, 0, 1}},  // w2 and the residual add after it
            // Few tokens (F.linear's x W^T, M = tokens): too few 128x256 tiles for the SMs, so the CUDA starter's
            // per-call plan takes narrower tiles and split-K here (at 132 SMs: 128 tokens 128x128 tiles split 4;
            // 512 tokens 128x256 split 2; small and deep_k above 128x128 and 128x256 split 4).
            {"proj_128tok", {128, 4096, 4096, 1}},
            {"proj_512tok", {512, 4096, 4096, 1}}};
  }
  std::vector<Shape> edge_shapes() const override {
    return {{"odd_33x65x47", {33, 65, 47}},
            {"odd_127x129x131", {127, 129, 131}},
            {"edge_1023", {1023, 1023, 1023}},
            {"edge_1537", {1537, 1537, 1537}},
            {"edge_4097x4097x512", {4097, 4097, 512}},
            // Multiples of 8 (the tensor-core paths) past every tile edge, K past a 64-deep slice, few tiles: the
            // CUDA starter splits K here (1000x200x4104: 128x128 tiles, split 4, its 65 slices as 16/16/16/17;
            // 1032x1048x2056: 128x256, split 2, 16/17), the last slice partial.
            {"ragged_split_1000x200x4104_bias", {1000, 200, 4104, 0, 1}},           // the split's owners add the bias
            {"ragged_split_1032x1048x2056_residual", {1032, 1048, 2056, 0, 0, 1}},  // the owners add the residual
            // F.linear's two forms: a vocabulary of odd size (y^T = W x^T), and K off the tensor-core paths' 8.
            {"linear_t_vocab_1001x72x96", {1001, 72, 96, 2}},
            {"linear_odd_k_bias_40x72x100", {40, 72, 100, 1, 1}},
            {"linear_bias_136x264x520", {136, 264, 520, 1, 1}},  // the tensor-core paths' epilogue, edge tiles
            {"linear_bias_residual_136x264x520", {136, 264, 520, 1, 1, 1}},
            {"odd_residual_33x65x47", {33, 65, 47, 0, 0, 1}}};  // the SIMT path's
  }
  static int64_t linear(const Shape& s) { return s.dims.size() > 3 ? s.dims[3] : 0; }
  static bool bias(const Shape& s) { return s.dims.size() > 4 && s.dims[4] != 0; }
  static bool residual(const Shape& s) { return s.dims.size() > 5 && s.dims[5] != 0; }
  std::string dims_error(const std::vector<int64_t>& d) const override {
    const Shape s{"", d};
    if (linear(s) < 0 || linear(s) > 2) return "the 4th dim, linear, is 0, 1 or 2";
    if (d.size() > 4 && d[4] != 0 && d[4] != 1) return "the 5th dim, bias, is 0 or 1";
    if (bias(s) && linear(s) == 2) return "bias is per column of C: not with linear 2 (y^T = W x^T)";
    if (d.size() > 5 && d[5] != 0 && d[5] != 1) return "the 6th dim, residual, is 0 or 1";
    if (residual(s) && linear(s) == 2) return "residual is C's shape: not with linear 2 (y^T = W x^T)";
    return "";
  }
  std::vector<std::string> layouts() const override { return {"contiguous", "b_kmajor"}; }
  std::string layout_of(const InputSpec& spec) const override {
    return linear(spec.shape) != 0 ? "b_kmajor" : KernelType::layout_of(spec);  // B is the model's W^T (or x^T)
  }

  std::vector<std::string> adversarial_generators() const override { return {"dynamic_range", "zeros_and_ones"}; }
  Shape adversarial_shape() const override { return {"small", {256, 256, 256}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"large", {2048, 2048, 2048}},
            {"xlarge", {4096, 4096, 4096}},
            {"llama7b_qkv", {2048, 12288, 4096, 1}},
            {"proj_512tok", {512, 4096, 4096, 1}}};  // 512 tokens: 64 tiles of 128x256 for 132 SMs
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto M = spec.shape.dims.at(0), N = spec.shape.dims.at(1), K = spec.shape.dims.at(2);
    // B K-major: drawn as the [N, K] matrix it lies in (F.linear's W, or x for y^T = W x^T) and handed over as its
    // transposed view, so the values at each (k, n) are the same in both layouts.
    const bool kmajor = layout_of(spec) == "b_kmajor";
    if (!kmajor && layout_of(spec) != "contiguous")
      throw Fatal(Error{fmt::format("unknown input layout '{}' (known: contiguous, b_kmajor)", layout_of(spec))});
    auto draw_b = [&](auto&& make) { return kmajor ? make(N, K).t() : make(N, K).t().contiguous(); };
    at::Tensor a, b, c, r;  // c: the bias, r: the residual, each of about C's size (C's entries are ~N(0, 1))
    if (spec.generator == "random") {
      a = detail::randn({M, K}, spec.dtype, dev, spec.seed);
      b = draw_b([&](int64_t r, int64_t c) {
        return detail::randn({r, c}, spec.dtype, dev, spec.seed + 1, 1.0 / std::sqrt(double(K)));
      });
      c = detail::randn({N}, spec.dtype, dev, spec.seed + 3);
      r = detail::randn({M, N}, spec.dtype, dev, spec.seed + 4);
    } else if (spec.generator == "dynamic_range") {
      // Rows of A span 10^-3..10^3: catches accumulators too narrow for the spread of magnitudes.
      auto scale = at::pow(10.0, detail::rand({M, 1}, at::kFloat, dev, spec.seed + 2).mul(6.0).sub(3.0));
      a = detail::randn({M, K}, at::kFloat, dev, spec.seed).mul(scale).to(spec.dtype);
      b = draw_b([&](int64_t r, int64_t c) {
        return detail::randn({r, c}, spec.dtype, dev, spec.seed + 1, 1.0 / std::sqrt(double(K)));
      });
      c = detail::randn({N}, spec.dtype, dev, spec.seed + 3);
      // Scaled like C's rows, so neither term hides the other's errors.
      r = detail::randn({M, N}, at::kFloat, dev, spec.seed + 4).mul(scale).to(spec.dtype);
    } else if (spec.generator == "zeros_and_ones") {
      // Exact small integers: any correct kernel is exact, so a wrong index shows at once.
      a = detail::rand({M, K}, at::kFloat, dev, spec.seed).gt(0.5).to(spec.dtype);
      b = draw_b([&](int64_t r, int64_t c) {
        return detail::rand({r, c}, at::kFloat, dev, spec.seed + 1).gt(0.5).to(spec.dtype);
      });
      c = detail::rand({N}, at::kFloat, dev, spec.seed + 3).gt(0.5).to(spec.dtype);
      r = detail::rand({M, N}, at::kFloat, dev, spec.seed + 4).gt(0.5).to(spec.dtype);
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    Problem p{{a, b}, {}, {{M, N}}, {spec.dtype}};
    if (bias(spec.shape)) p.inputs.push_back(c);
    if (residual(spec.shape)) p.inputs.push_back(r);
    if (linear(spec.shape) == 2) p.eager_inputs = {b.t()};  // x [tokens, K], contiguous, as the model holds it
    return p;
  }
  std::vector<at::Tensor> reference(const Problem& p) const override {
    auto c = at::matmul(p.inputs[0].to(at::kDouble), p.inputs[1].to(at::kDouble));
    for (std::size_t i = 2; i < p.inputs.size(); ++i) c = c.add(p.inputs[i].to(at::kDouble));  // bias, residual
    return {c};
  }
  std::vector<at::Tensor> eager(const Problem& p) const override {
    // linear 2: the model's F.linear(x, W), its [tokens, N_out] output seen as y^T (a view); linear 1 is x @ W^T as
    // given, which is F.linear's own call.
    // With a bias, addmm: the call F.linear(x, W, b) and GPT-2's Conv1D make (cuBLAS adds it in its epilogue).
    // With a residual, the add after it: what the model runs where our op does not fuse the chain.
    if (!p.eager_inputs.empty()) return {at::linear(p.eager_inputs[0], p.inputs[0]).t()};
    const bool has_bias = p.inputs.size() > 2 && p.inputs[2].dim() == 1;
    auto c = has_bias ? at::addmm(p.inputs[2], p.inputs[0], p.inputs[1]) : at::matmul(p.inputs[0], p.inputs[1]);
    if (p.inputs.back().dim() == 2 && p.inputs.size() > 2) c = c.add(p.inputs.back());
    return {c};
  }

  double flops(const Shape& s) const override {
    const double mn = double(s.dims[0]) * s.dims[1];
    return 2.0 * mn * s.dims[2] + (bias(s) ? mn : 0.0) + (residual(s) ? mn : 0.0);
  }
  double bytes(const Shape& s, at::ScalarType t) const override {
    const double M = s.dims[0], N = s.dims[1], K = s.dims[2];
    return (M * K + K * N + M * N + (bias(s) ? N : 0.0) + (residual(s) ? M * N : 0.0)) * dtype_bytes(t);
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {5e-3, 5e-3};  // output rounding is 2^-11 relative; room for summation order
      case at::kBFloat16:
        return {2e-2, 2e-2};  // output rounding is 2^-8 relative
      // f32: a correct TF32 tensor-core kernel (10-bit mantissa products) must pass: about 1e-3 of RMS typical.
      default:
        return {5e-3, 5e-3};
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_matmul() { return std::make_unique<Matmul>(); }
}  // namespace ak::catalog
