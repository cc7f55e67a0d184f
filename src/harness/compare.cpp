#include "harness/compare.hpp"

#include <cmath>
#include <limits>

namespace ak::harness {
namespace {

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

Comparison compare(const at::Tensor& out_in, const at::Tensor& ref_in, const catalog::Tolerance& tol) {
  Comparison c;
  if (out_in.sizes() != ref_in.sizes()) {
    c.ok = false;
    c.message = fmt::format("output shape {} != expected {}", catalog::detail::shape_string(out_in.sizes().vec()),
                            catalog::detail::shape_string(ref_in.sizes().vec()));
    return c;
  }
  auto out = out_in.to(at::kDouble).flatten();
  auto ref = ref_in.to(at::kDouble).flatten();
  auto ref_finite = at::isfinite(ref);
  auto out_finite = at::isfinite(out);
  const double rms = ref_finite.any().item<bool>()
                         ? at::sqrt(at::where(ref_finite, ref, 0.0).pow(2).mean()).item<double>()
                         : 0.0;
  const double scale = rms > 0 ? rms : 1.0;
  auto err = at::where(ref_finite & out_finite, (out - ref).abs(), 0.0);
  auto limit = ref.abs().mul(tol.rtol).add(tol.atol * scale);
  // Non-finite values must match the oracle exactly (same Inf sign, NaN where it is NaN).
  auto nonfinite_match = at::where(ref_finite, out_finite, (out == ref) | (at::isnan(out) & at::isnan(ref)));
  auto bad = (err > limit) | nonfinite_match.logical_not();
  c.bad_count = bad.sum().item<int64_t>();
  c.unwritten = (at::isnan(out) & ref_finite).sum().item<int64_t>();
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
    c.message = fmt::format("{} of {} elements never written (poison NaN survives), first at {}", c.unwritten,
                            out.numel(), c.first_bad);
  } else {
    c.message = fmt::format("{} of {} elements out of tolerance; first at {}: got {:.6g}, expected {:.6g} "
                            "(max abs err {:.3g}, max rel err {:.3g}, atol {:.1e}*rms {:.3g}, rtol {:.1e})",
                            c.bad_count, out.numel(), c.first_bad, c.got, c.expected, c.max_abs_err, c.max_rel_err,
                            tol.atol, rms, tol.rtol);
  }
  return c;
}

bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
  auto as_bytes = [](const at::Tensor& t) { return t.contiguous().view(at::kByte); };
  return at::equal(as_bytes(a), as_bytes(b));
}

void poison(const at::Tensor& t) {
  if (at::isFloatingType(t.scalar_type())) {
    t.fill_(std::numeric_limits<double>::quiet_NaN());
  } else {
    t.fill_(0x5A5A5A5A);  // integers: a recognisable garbage value
  }
}

}  // namespace ak::harness
