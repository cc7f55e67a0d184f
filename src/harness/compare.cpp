#include "harness/compare.hpp"

#include <cmath>
#include <limits>

namespace ak::harness {
namespace {

/// The poison: a quiet NaN with a payload no arithmetic produces (operations return the canonical NaN),
/// so a NaN the kernel wrote is told apart from an element it never wrote.
constexpr int16_t k_poison_f16 = 0x7E5A;
constexpr int16_t k_poison_bf16 = 0x7FDA;
constexpr int32_t k_poison_f32 = 0x7FC5A5A5;

/// Elements of `t` that still hold the poison bit pattern (flattened, as bool).
at::Tensor poisoned(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kHalf:
      return t.contiguous().view(at::kShort).flatten().eq(k_poison_f16);
    case at::kBFloat16:
      return t.contiguous().view(at::kShort).flatten().eq(k_poison_bf16);
    case at::kFloat:
      return t.contiguous().view(at::kInt).flatten().eq(k_poison_f32);
    default:
      return at::zeros({t.numel()}, t.options().dtype(at::kBool));
  }
}

std::string index_string(int64_t flat, at::IntArrayRef sizes) {
  std::vector<int64_t> idx(sizes.size());
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  std::string s = "[";
  for (std::size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + "]";
}

}  // namespace

Comparison compare(const at::Tensor& out_in, const at::Tensor& ref_in, const catalog::Tolerance& tol, double scale_in) {
  Comparison c;
  if (out_in.sizes() != ref_in.sizes()) {
    c.ok = false;
    c.message = fmt::format("output shape {} != expected {}", catalog::shape_string(out_in.sizes().vec()),
                            catalog::shape_string(ref_in.sizes().vec()));
    return c;
  }
  auto out = out_in.to(at::kDouble).flatten();
  auto ref = ref_in.to(at::kDouble).flatten();
  auto ref_finite = at::isfinite(ref);
  auto out_finite = at::isfinite(out);
  const double rms = scale_in >= 0 ? scale_in : catalog::rms(ref);
  const double scale = rms > 0 ? rms : 1.0;
  auto err = at::where(ref_finite & out_finite, (out - ref).abs(), 0.0);
  auto limit = ref.abs().mul(tol.rtol).add(tol.atol * scale);
  // Non-finite values must match the oracle exactly (same Inf sign, NaN where it is NaN).
  auto nonfinite_match = at::where(ref_finite, out_finite, (out == ref) | (at::isnan(out) & at::isnan(ref)));
  auto bad = (err > limit) | nonfinite_match.logical_not();
  c.bad_count = bad.sum().item<int64_t>();
  c.unwritten = poisoned(out_in).sum().item<int64_t>();
  c.max_abs_err = err.max().item<double>();
  auto significant = ref_finite & (ref.abs() > 1e-3 * scale);
  c.max_rel_err = significant.any().item<bool>()
                      ? at::where(significant, err / ref.abs().clamp_min(1e-300), 0.0).max().item<double>()
                      : 0.0;
  if (c.bad_count == 0) return c;
  c.ok = false;
  const int64_t first = bad.nonzero().select(1, 0).min().item<int64_t>();
  c.first_bad = index_string(first, out_in.sizes());
  c.got = out[first].item<double>();
  c.expected = ref[first].item<double>();
  if (c.unwritten > 0) {
    const int64_t first_unwritten = poisoned(out_in).nonzero().select(1, 0).min().item<int64_t>();
    c.message = fmt::format("{} of {} elements never written (the poison value survives), first at {}", c.unwritten,
                            out.numel(), index_string(first_unwritten, out_in.sizes()));
  } else {
    c.message = fmt::format(
        "{} of {} elements out of tolerance; first at {}: got {:.6g}, expected {:.6g} "
        "(max abs err {:.3g}, max rel err {:.3g}, atol {:.1e} x scale {:.3g}, rtol {:.1e})",
        c.bad_count, out.numel(), c.first_bad, c.got, c.expected, c.max_abs_err, c.max_rel_err, tol.atol, rms,
        tol.rtol);
  }
  return c;
}

bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  auto as_bytes = [](const at::Tensor& t) { return t.contiguous().view(at::kByte); };
  return at::equal(as_bytes(a), as_bytes(b));
}

void poison(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kHalf:
      t.view(at::kShort).fill_(k_poison_f16);
      break;
    case at::kBFloat16:
      t.view(at::kShort).fill_(k_poison_bf16);
      break;
    case at::kFloat:
      t.view(at::kInt).fill_(k_poison_f32);
      break;
    default:
      t.fill_(0x5A5A5A5A);
      break;  // integers: a recognisable garbage value
  }
}

}  // namespace ak::harness
