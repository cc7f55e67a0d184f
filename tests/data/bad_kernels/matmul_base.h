// The correct core the matmul bad kernels below start from: C = A B (+ bias), element by element, with how B and
// the bias are read left to the includer: B_AT(B, k, n, N) is b(k, n)'s index in B, ADD_BIAS 1 adds bias[n].
#pragma once
#include <cstdint>

#include "autokernel/cpu_types.h"

inline int matmul(const ak_call* call) {
  const ak_tensor *A = &call->inputs[0], *B = &call->inputs[1], *C = &call->outputs[0];
  const ak_tensor* bias = call->n_inputs > 2 && ADD_BIAS ? &call->inputs[2] : nullptr;
  const int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float acc = bias ? ak_load(bias, n) : 0.0f;
      for (int64_t k = 0; k < K; ++k) acc += ak_load(A, m * K + k) * ak_load(B, B_AT(B, k, n, N));
      ak_store(C, m * N + n, acc);
    }
  return 0;
}
