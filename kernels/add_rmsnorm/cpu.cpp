// @autokernel type=add_rmsnorm
// s = x + residual (stored in the dtype), y = s * rsqrt(mean(s^2) + eps) * weight over the last dim, on
// the host. The norm reads s as stored (rounded), as PyTorch's add-then-norm does. Squares are taken in
// f32 and summed in double. Limits: single-threaded, one row of scratch.
// @knob LANES=4 {1,2,4,8} independent partial accumulators in the sum-of-squares loop
#include <cmath>
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef LANES
#define LANES 4
#endif
static_assert(LANES >= 1, "LANES must be positive");

// @shared begin cpu_sum_sq: copied in other starters, every copy the same (tests/test_starter_regions.py)
static double sum_sq(const float* v, int64_t n) {
  double s[LANES] = {};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; ++l) s[l] += v[i + l] * v[i + l];
  for (; i < n; ++i) s[0] += v[i] * v[i];
  double r = 0.0;
  for (int l = 0; l < LANES; ++l) r += s[l];
  return r;
}
// @shared end cpu_sum_sq

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 3 || call->n_outputs != 2 || call->n_scalars < 1) return 1;
  const ak_tensor *X = &call->inputs[0], *R = &call->inputs[1], *W = &call->inputs[2];
  const ak_tensor *S = &call->outputs[0], *Y = &call->outputs[1];
  if (X->ndim < 1 || X->dtype == AK_I64 || R->dtype == AK_I64 || W->dtype == AK_I64) return 1;
  const int64_t N = X->shape[X->ndim - 1], M = N ? ak_numel(X) / N : 0;
  if (ak_numel(R) != ak_numel(X) || ak_numel(W) != N || ak_numel(S) != ak_numel(X) || ak_numel(Y) != ak_numel(X))
    return 1;
  const double eps = call->scalars[0];

  std::vector<float> buf(N), w(N);
  for (int64_t i = 0; i < N; ++i) w[i] = ak_load(W, i);
  for (int64_t r = 0; r < M; ++r) {
    for (int64_t i = 0; i < N; ++i) {
      ak_store(S, r * N + i, ak_load(X, r * N + i) + ak_load(R, r * N + i));
      buf[i] = ak_load(S, r * N + i);  // the stored (rounded) sum is what the norm reads
    }
    const float rstd = (float)(1.0 / std::sqrt(sum_sq(buf.data(), N) / (double)N + eps));
    for (int64_t i = 0; i < N; ++i) ak_store(Y, r * N + i, buf[i] * rstd * w[i]);
  }
  return 0;
}
