// @autokernel type=cross_entropy
// loss[m] = logsumexp(logits[m,:]) - logits[m, target[m]] on the host (f32 loss; target < 0 is
// ignored and gives 0). The row max is subtracted before exp and the sum is kept in double.
// Returns non-zero for a target >= V. Limits: single-threaded, one row of scratch.
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

static double sum_exp(const float* v, int64_t n, float mx) {
  double s[LANES] = {};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; ++l) s[l] += std::exp(v[i + l] - mx);
  for (; i < n; ++i) s[0] += std::exp(v[i] - mx);
  double r = 0.0;
  for (int l = 0; l < LANES; ++l) r += s[l];
  return r;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 2 || call->n_outputs != 1) return 1;
  const ak_tensor *L = &call->inputs[0], *T = &call->inputs[1], *Y = &call->outputs[0];
  if (L->ndim != 2 || L->dtype == AK_I64 || T->dtype != AK_I64 || Y->dtype != AK_F32) return 1;
  const int64_t M = L->shape[0], V = L->shape[1];
  if (ak_numel(T) != M || ak_numel(Y) != M) return 1;
  const int64_t* target = (const int64_t*)T->data;
  float* loss = (float*)Y->data;

  std::vector<float> buf(V);
  for (int64_t r = 0; r < M; ++r) {
    const int64_t t = target[r];
    if (t < 0) {
      loss[r] = 0.0f;
      continue;
    }
    if (t >= V) return 1;
    for (int64_t i = 0; i < V; ++i) buf[i] = ak_load(L, r * V + i);
    const float mx = row_max(buf.data(), V);
    loss[r] = (float)((double)mx + std::log(sum_exp(buf.data(), V, mx)) - (double)buf[t]);
  }
  return 0;
}
