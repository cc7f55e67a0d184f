// decode_attention: one decode step's attention over a KV cache. q, o [B,H,1,D] (one new token per sequence),
// k, v [B,HKV,S,D] (the cache as allocated, S positions), and the valid length L_b of each sequence (keys 0..L_b-1
// are attended, nothing beyond; the new token's key is already written at L_b-1):
//   o[b,h] = softmax(q[b,h] k[b,h/G,:L_b]^T * scale) v[b,h/G,:L_b],   G = H / HKV.
// Two forms of the ABI. The host's: inputs q, k, v and scalars = L, scale (L_b = L for every sequence, 1 <= L <= S;
// a DynamicCache's call, k exactly the L keys it holds). The device's: a 4th input, lengths [B] (int64, on the
// device, 1 <= lengths[b] <= S), and scalars = an upper bound of the lengths (the exported op passes S), scale: a
// StaticCache's call under CUDA graphs, where the valid length (cache_position + 1) changes between replays of one
// captured graph and the host never learns it.
// dims = B,H,S,D,L[,HKV] like flash_attention's (HKV divides H, missing means H; 1 <= L <= S); scale = 1/sqrt(D).
// The form follows the cache, as the exported op's calls do: L = S (a DynamicCache's k, exactly the keys it holds)
// is the host's form, L < S (a StaticCache's, allocated further) the device's, every lengths[b] = L, the bound S.
// The adversarial cases are all the device's form with lengths that differ per sequence (1, S, L and one between),
// but "host_length", the host's form at L < S. Grouped-query heads are native: query head h reads kv head h / G,
// k and v never repeated. Memory-bound: each valid K and V row is read once for the G query heads that share it.
#include <algorithm>
#include <cmath>
#include <limits>

#include "catalog/types.hpp"

namespace ak::catalog {
namespace {

/// Lengths that differ per sequence, cycling through 1, S, L and one between (odd, in the middle of a split).
std::vector<int64_t> ragged(int64_t B, int64_t S, int64_t L) {
  std::vector<int64_t> len(B);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t pick[4] = {1, S, L, std::max<int64_t>(1, (L / 2) | 1)};
    len[b] = pick[b % 4];
  }
  return len;
}

/// The kv heads of a shape: its 6th dim, or H where there is none (plain multi-head attention).
int64_t kv_heads(const std::vector<int64_t>& d) { return d.size() > 5 ? d[5] : d.at(1); }

class DecodeAttention final : public KernelType {
 public:
  std::string_view name() const override { return "decode_attention"; }
  std::string_view dims_doc() const override { return "B,H,S,D,L[,HKV]"; }
  std::string dims_error(const std::vector<int64_t>& d) const override {
    if (d.size() < 5) return "";
    const auto H = d[1], S = d[2], L = d[4], HKV = kv_heads(d);
    if (L < 1 || L > S) return fmt::format("L={} must be in 1..S={} (the cache's valid length)", L, S);
    if (HKV < 1 || H % HKV != 0) return fmt::format("HKV={} must be at least 1 and divide H={}", HKV, H);
    return "";
  }

  Shape smoke_shape() const override { return {"tiny", {2, 8, 80, 64, 77, 2}}; }
  /// Multi-head, groups of 4 and 8 (MQA at 8 heads), D 64 and 128, and Llama-3-8B's decode (32 query heads over
  /// 8 kv heads, D 128) at batch 1, 8, 32 and cache lengths 512, 4096 and 32768 (32k at batch 1: the cache of
  /// batch 32 at 32k is 4 GiB a layer in bf16, and the f64 oracle four times that).
  std::vector<Shape> sweep_shapes() const override {
    return {{"mha_d64", {4, 8, 512, 64, 512}},
            {"kv4_d64_part", {4, 16, 1024, 64, 1000, 4}},
            {"mqa8_d128", {8, 8, 2048, 128, 2048, 1}},
            {"llama3_8b_b1_512", {1, 32, 512, 128, 512, 8}},
            {"llama3_8b_b8_512", {8, 32, 512, 128, 512, 8}},
            {"llama3_8b_b32_512", {32, 32, 512, 128, 512, 8}},
            {"llama3_8b_b1_4k", {1, 32, 4096, 128, 4096, 8}},
            {"llama3_8b_b8_4k", {8, 32, 4096, 128, 4096, 8}},
            {"llama3_8b_b1_32k", {1, 32, 32768, 128, 32768, 8}}};
  }
  /// L = 1 (only the new token), L not a multiple of any split size, L < S (the cache allocated further).
  std::vector<Shape> edge_shapes() const override {
    return {{"l1_kv2", {3, 8, 16, 64, 1, 2}},
            {"l1_s1_d128", {1, 4, 1, 128, 1}},
            {"odd_l33_d64", {1, 4, 40, 64, 33}},
            {"odd_l127_kv2", {5, 8, 255, 64, 127, 2}},
            {"odd_l300_kv4", {8, 16, 512, 128, 300, 4}},
            {"odd_l1023_mqa", {2, 8, 1024, 128, 1023, 1}},
            {"odd_l4097_kv8", {1, 32, 4100, 128, 4097, 8}}};
  }
  std::vector<std::string> adversarial_generators() const override {
    return {"large_logits", "one_key_dominates", "identical_keys", "ragged_lengths", "host_length"};
  }
  /// Batch 4: room for lengths that differ per sequence (1, S, L and one between: ragged()).
  Shape adversarial_shape() const override { return {"adversarial", {4, 8, 512, 64, 389, 2}}; }
  std::vector<Shape> bench_shapes() const override {
    return {{"llama3_8b_b8_4k", {8, 32, 4096, 128, 4096, 8}},
            {"llama3_8b_b1_32k", {1, 32, 32768, 128, 32768, 8}},
            {"llama3_8b_b32_512", {32, 32, 512, 128, 512, 8}},
            {"llama3_8b_b1_512", {1, 32, 512, 128, 512, 8}}};
  }

  Problem make_problem(const InputSpec& spec, const at::Device& dev) const override {
    const auto& d = spec.shape.dims;
    const auto B = d.at(0), H = d.at(1), S = d.at(2), D = d.at(3), L = d.at(4), HKV = kv_heads(d);
    if (const auto why = dims_error(d); !why.empty()) {
      throw Fatal(Error{fmt::format("{}: shape {}: {}", name(), shape_string(d), why)});
    }
    // The valid length of each sequence (on the host here; the device's form gets it as a tensor).
    const bool adversarial = spec.generator != "random";
    const bool host_form = adversarial ? spec.generator == "host_length" : L == S;
    std::vector<int64_t> len(B, L);
    if (adversarial && !host_form) len = ragged(B, S, L);
    at::Tensor q, k, v = detail::randn({B, HKV, S, D}, spec.dtype, dev, spec.seed + 2);
    if (spec.generator == "random" || spec.generator == "ragged_lengths" || spec.generator == "host_length") {
      q = detail::randn({B, H, 1, D}, spec.dtype, dev, spec.seed);
      k = detail::randn({B, HKV, S, D}, spec.dtype, dev, spec.seed + 1);
    } else if (spec.generator == "large_logits") {
      // Scores with std ~100: exp without a running max overflows f32 (e^88), a 16-bit one far sooner.
      q = detail::randn({B, H, 1, D}, spec.dtype, dev, spec.seed, 10.0);
      k = detail::randn({B, HKV, S, D}, spec.dtype, dev, spec.seed + 1, 10.0);
    } else if (spec.generator == "one_key_dominates") {
      // The last valid key of each sequence (the new token's, in the last, partial split) is 4 q of the group's
      // first head: its score ~4 sqrt(D) against ~N(0, 0.01) for the rest, so that head's output is v[L_b-1] to
      // within e^-30, and every other split's weight must vanish in the combine, not be averaged in.
      q = detail::randn({B, H, 1, D}, spec.dtype, dev, spec.seed);
      k = detail::randn({B, HKV, S, D}, spec.dtype, dev, spec.seed + 1, 0.1);
      const auto group = H / HKV;
      for (int64_t b = 0; b < B; ++b) {
        k.select(0, b).narrow(1, len[b] - 1, 1).copy_(q.select(0, b).slice(0, 0, H, group).mul(4.0));
      }
    } else if (spec.generator == "identical_keys") {
      // Every score equal: the output is the plain mean of v over the L valid rows, so splits of unequal length
      // (the last one shorter) must be weighted by their sums, not counted alike.
      q = detail::randn({B, H, 1, D}, spec.dtype, dev, spec.seed);
      k = detail::randn({B, HKV, 1, D}, spec.dtype, dev, spec.seed + 1).expand({B, HKV, S, D}).contiguous();
    } else {
      detail::unknown_generator(name(), spec.generator);
    }
    // The cache past a sequence's length is not the sequence's: NaN there fails a kernel that reads it, even one
    // that weights it 0.
    for (int64_t b = 0; b < B; ++b) {
      if (len[b] == S) continue;
      k.select(0, b).narrow(1, len[b], S - len[b]).fill_(std::numeric_limits<double>::quiet_NaN());
      v.select(0, b).narrow(1, len[b], S - len[b]).fill_(std::numeric_limits<double>::quiet_NaN());
    }
    const double scale = 1.0 / std::sqrt(double(D));
    if (host_form) return {{q, k, v}, {double(L), scale}, {{B, H, 1, D}}, {spec.dtype}};
    const auto lengths = at::tensor(len, at::TensorOptions().dtype(at::kLong)).to(dev);
    Problem p{{q, k, v, lengths}, {double(S), scale}, {{B, H, 1, D}}, {spec.dtype}};
    // PyTorch's call reads the cache as a StaticCache holds it, zeros past each sequence (0 x NaN is NaN).
    p.eager_inputs = {k.nan_to_num(0.0), v.nan_to_num(0.0)};
    return p;
  }

  /// The valid length of each sequence: the host's L for every one, or the device's lengths read back.
  static std::vector<int64_t> lengths_of(const Problem& p) {
    const auto B = p.inputs[0].size(0);
    if (p.inputs.size() < 4) return std::vector<int64_t>(B, static_cast<int64_t>(p.scalars.at(0)));
    const auto t = p.inputs[3].to(at::kCPU).contiguous();
    return {t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + B};
  }
  /// Explicit f64 attention over each sequence's valid keys; the G query heads of a kv head are one [G, D] x
  /// [D, L_b] product (no repeated copies of k and v, which at 32k keys would be large in f64).
  std::vector<at::Tensor> reference(const Problem& p) const override {
    const double scale = p.scalars.at(1);
    const auto B = p.inputs[0].size(0), H = p.inputs[0].size(1), D = p.inputs[0].size(3);
    const auto HKV = p.inputs[1].size(1), G = H / HKV;
    const auto len = lengths_of(p);
    std::vector<at::Tensor> out;
    for (int64_t b = 0; b < B; ++b) {
      auto q = p.inputs[0].select(0, b).to(at::kDouble).reshape({HKV, G, D});
      auto k = p.inputs[1].select(0, b).narrow(1, 0, len[b]).to(at::kDouble);
      auto v = p.inputs[2].select(0, b).narrow(1, 0, len[b]).to(at::kDouble);
      auto scores = at::matmul(q, k.transpose(-1, -2)).mul_(scale);  // [HKV, G, L_b]
      out.push_back(at::matmul(at::softmax(scores, -1), v).reshape({H, 1, D}));
    }
    return {at::stack(out)};
  }
  /// The host's form: SDPA on the valid slice (a view: no copy timed). The device's: what PyTorch runs under a
  /// StaticCache, SDPA over the whole cache (zeros past each sequence: eager_inputs) with the mask "key position <
  /// lengths[b]". enable_gqa only where the head counts differ.
  std::vector<at::Tensor> eager(const Problem& p) const override {
    const bool gqa = p.inputs[1].size(1) != p.inputs[0].size(1);
    if (p.inputs.size() < 4) {
      const auto L = static_cast<int64_t>(p.scalars.at(0));
      return {at::scaled_dot_product_attention(p.inputs[0], p.inputs[1].narrow(2, 0, L), p.inputs[2].narrow(2, 0, L),
                                               {}, 0.0, false, p.scalars.at(1), gqa)};
    }
    const auto S = p.inputs[1].size(2);
    const auto mask = at::arange(S, p.inputs[3].options()).unsqueeze(0).lt(p.inputs[3].unsqueeze(1));  // [B, S]
    return {at::scaled_dot_product_attention(p.inputs[0], p.eager_inputs.at(0), p.eager_inputs.at(1),
                                             mask.view({-1, 1, 1, S}), 0.0, false, p.scalars.at(1), gqa)};
  }

  /// As flash_attention's: the output is a convex combination of rows of v, so a kernel's rounding errs in
  /// proportion to |v| (its RMS over the finite, valid part), not to the output.
  double error_scale(const Problem& p, const at::Tensor&) const override { return rms(p.inputs[2]); }

  /// q.k and p.v for each query head over the L valid keys: 4 B H L D (the dims' L: every sequence's, as timed).
  double flops(const Shape& s) const override { return 4.0 * s.dims[0] * s.dims[1] * double(s.dims[4]) * s.dims[3]; }
  /// K and V read up to L at HKV heads, q read and o written at H heads.
  double bytes(const Shape& s, at::ScalarType t) const override {
    const double B = s.dims[0], H = s.dims[1], D = s.dims[3], L = s.dims[4], HKV = kv_heads(s.dims);
    return (2.0 * B * HKV * L * D + 2.0 * B * H * D) * dtype_bytes(t);
  }
  Tolerance tolerance(at::ScalarType t) const override {
    switch (t) {
      case at::kHalf:
        return {1e-2, 1e-2};  // P may be rounded to f16 before P.V, as flash kernels do
      case at::kBFloat16:
        return {2e-2, 2e-2};  // P and the output rounded to bf16
      default:
        return {5e-3, 5e-3};  // TF32 tensor cores allowed, as for flash_attention
    }
  }
};

}  // namespace
std::unique_ptr<KernelType> make_decode_attention() { return std::make_unique<DecodeAttention>(); }
}  // namespace ak::catalog
