// @autokernel type=softmax
// y[M,N] = softmax(x) over the last dim on the host: per row, load into an f32 buffer, take the
// max, sum exp(x - max) in double with LANES independent partial sums, then scale. A row of all
// -inf gives NaN (as torch). Limits: single-threaded, one row of f32 scratch.
// @knob LANES=4 {1,2,4,8} independent partial accumulators in the max / sum loops
#include <cmath>
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef LANES
#define LANES 4
#endif
static_assert(LANES >= 1, "LANES must be positive");

// @shared begin cpu_row_max: copied in other starters, every copy the same (tests/test_starter_regions.py)
static float row_max(const float* v, int64_t n) {
  float m[LANES];
  for (int l = 0; l < LANES; ++l) m[l] = -INFINITY;
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; ++l) m[l] = v[i + l] > m[l] ? v[i + l] : m[l];
  for (; i < n; ++i) m[0] = v[i] > m[0] ? v[i] : m[0];
  float r = m[0];
  for (int l = 1; l < LANES; ++l) r = m[l] > r ? m[l] : r;
  return r;
}
// @shared end cpu_row_max

// Overwrites v with exp(v - mx) and returns the sum (in double).
static double exp_and_sum(float* v, int64_t n, float mx) {
  double s[LANES] = {};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; ++l) s[l] += (v[i + l] = std::exp(v[i + l] - mx));
  for (; i < n; ++i) s[0] += (v[i] = std::exp(v[i] - mx));
  double r = 0.0;
  for (int l = 0; l < LANES; ++l) r += s[l];
  return r;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 1 || call->n_outputs != 1) return 1;
  const ak_tensor *X = &call->inputs[0], *Y = &call->outputs[0];
  if (X->ndim < 1 || X->dtype == AK_I64 || Y->dtype == AK_I64 || ak_numel(X) != ak_numel(Y)) return 1;
  const int64_t N = X->shape[X->ndim - 1], M = N ? ak_numel(X) / N : 0;
  std::vector<float> buf(N);
  for (int64_t r = 0; r < M; ++r) {
    for (int64_t i = 0; i < N; ++i) buf[i] = ak_load(X, r * N + i);
    const float mx = row_max(buf.data(), N);
    const float inv = (float)(1.0 / exp_and_sum(buf.data(), N, mx));
    for (int64_t i = 0; i < N; ++i) ak_store(Y, r * N + i, buf[i] * inv);
  }
  return 0;
}
