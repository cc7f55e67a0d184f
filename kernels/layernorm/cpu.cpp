// @autokernel type=layernorm
// y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim, on the host. Two-pass
// statistics in double (mean first, then the centred sum of squares), so rows with a large mean
// and tiny spread (mean 100, std 1e-4) stay exact. Limits: single-threaded, one row of scratch.
// @knob LANES=4 {1,2,4,8} independent partial accumulators in the statistics loops
#include <cmath>
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef LANES
#define LANES 4
#endif
static_assert(LANES >= 1, "LANES must be positive");

// @shared begin cpu_sum: copied in other starters, every copy the same (tests/test_starter_regions.py)
static double sum(const float* v, int64_t n) {
  double s[LANES] = {};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; ++l) s[l] += v[i + l];
  for (; i < n; ++i) s[0] += v[i];
  double r = 0.0;
  for (int l = 0; l < LANES; ++l) r += s[l];
  return r;
}
// @shared end cpu_sum

static double centred_sum_sq(const float* v, int64_t n, double mean) {
  double s[LANES] = {};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; ++l) {
      const double d = v[i + l] - mean;
      s[l] += d * d;
    }
  for (; i < n; ++i) s[0] += (v[i] - mean) * (v[i] - mean);
  double r = 0.0;
  for (int l = 0; l < LANES; ++l) r += s[l];
  return r;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 3 || call->n_outputs != 1 || call->n_scalars < 1) return 1;
  const ak_tensor *X = &call->inputs[0], *W = &call->inputs[1], *Bi = &call->inputs[2];
  const ak_tensor* Y = &call->outputs[0];
  if (X->ndim < 1 || X->dtype == AK_I64 || W->dtype == AK_I64 || Bi->dtype == AK_I64 ||
      Y->dtype == AK_I64)
    return 1;
  const int64_t N = X->shape[X->ndim - 1], M = N ? ak_numel(X) / N : 0;
  if (ak_numel(W) != N || ak_numel(Bi) != N || ak_numel(Y) != ak_numel(X)) return 1;
  const double eps = call->scalars[0];

  std::vector<float> buf(N), w(N), b(N);
  for (int64_t i = 0; i < N; ++i) w[i] = ak_load(W, i), b[i] = ak_load(Bi, i);
  for (int64_t r = 0; r < M; ++r) {
    for (int64_t i = 0; i < N; ++i) buf[i] = ak_load(X, r * N + i);
    const double mean = sum(buf.data(), N) / (double)N;
    const double var = centred_sum_sq(buf.data(), N, mean) / (double)N;
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < N; ++i)
      ak_store(Y, r * N + i, (float)((buf[i] - mean) * rstd) * w[i] + b[i]);
  }
  return 0;
}
