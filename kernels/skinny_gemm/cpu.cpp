// @autokernel type=skinny_gemm
// y[M,N] = x[M,K] W[N,K]^T on the host (a decode step's linear layer: M small, W streamed once). x is
// converted to f32 once; each row of W is converted once and dotted with every row of x, in f32 with
// LANES independent partial sums that the compiler vectorises. Any M, N, K.
// Limits: single-threaded; (M + 1) * K * 4 bytes of scratch.
// @knob LANES=8 {1,4,8,16} independent partial sums per dot product
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef LANES
#define LANES 8
#endif
static_assert(LANES >= 1, "LANES must be positive");

static float dot(const float* a, const float* b, int64_t n) {
  float s[LANES] = {};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; ++l) s[l] += a[i + l] * b[i + l];
  for (; i < n; ++i) s[0] += a[i] * b[i];
  float r = 0.0f;
  for (int l = 0; l < LANES; ++l) r += s[l];
  return r;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 2 || call->n_outputs != 1) return 1;
  const ak_tensor *X = &call->inputs[0], *W = &call->inputs[1], *Y = &call->outputs[0];
  if (X->ndim != 2 || W->ndim != 2 || Y->ndim != 2) return 1;
  const int64_t M = X->shape[0], K = X->shape[1], N = W->shape[0];
  if (W->shape[1] != K || Y->shape[0] != M || Y->shape[1] != N) return 1;
  if (X->dtype == AK_I64 || W->dtype == AK_I64 || Y->dtype == AK_I64) return 1;

  std::vector<float> x(M * K), w(K);
  for (int64_t i = 0; i < M * K; ++i) x[i] = ak_load(X, i);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) w[k] = ak_load(W, n * K + k);
    for (int64_t m = 0; m < M; ++m) ak_store(Y, m * N + n, dot(&x[m * K], w.data(), K));
  }
  return 0;
}
