// The correct core the matmul bad kernels below start from: C = A B (+ bias) (+ residual), element by element, with
// how B and the optional inputs are read left to the includer: B_AT(B, k, n, N) is b(k, n)'s index in B, ADD_BIAS 1
// adds bias[n], ADD_RESIDUAL 1 (the default) adds residual[m, n].
#pragma once
#include <cstdint>

#include "autokernel/cpu_types.h"

#ifndef ADD_RESIDUAL
#define ADD_RESIDUAL 1
#endif

inline int matmul(const ak_call* call) {
  const ak_tensor *A = &call->inputs[0], *B = &call->inputs[1], *C = &call->outputs[0];
  const ak_tensor *bias = nullptr, *res = nullptr;  // told apart by ndim (kernel_abi.h)
  for (int i = 2; i < call->n_inputs; ++i) (call->inputs[i].ndim == 1 ? bias : res) = &call->inputs[i];
  if (!ADD_BIAS) bias = nullptr;
  if (!ADD_RESIDUAL) res = nullptr;
  const int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float acc = (bias ? ak_load(bias, n) : 0.0f) + (res ? ak_load(res, m * N + n) : 0.0f);
      for (int64_t k = 0; k < K; ++k) acc += ak_load(A, m * K + k) * ak_load(B, B_AT(B, k, n, N));
      ak_store(C, m * N + n, acc);
    }
  return 0;
}
