// @autokernel type=reduce
// y[M] = sum of x[M,N] over the last dim, on the host, accumulated in double with LANES
// independent partial sums. Limits: single-threaded, one row of scratch.
// @knob LANES=4 {1,2,4,8} independent partial accumulators in the sum loop
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

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 1 || call->n_outputs != 1) return 1;
  const ak_tensor *X = &call->inputs[0], *Y = &call->outputs[0];
  if (X->ndim < 1 || X->dtype == AK_I64 || Y->dtype == AK_I64) return 1;
  const int64_t N = X->shape[X->ndim - 1];
  const int64_t M = N ? ak_numel(X) / N : ak_numel(Y);
  if (ak_numel(Y) != M) return 1;
  std::vector<float> buf(N);
  for (int64_t r = 0; r < M; ++r) {
    for (int64_t i = 0; i < N; ++i) buf[i] = ak_load(X, r * N + i);
    ak_store(Y, r, (float)sum(buf.data(), N));
  }
  return 0;
}
