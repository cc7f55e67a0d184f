// @autokernel type=matmul
// Right product in both B layouts, but the optional bias[N] (kernel_abi.h) never added: right on every shape without
// one, wrong on the catalogue's biased shapes (GPT-2's Conv1D, F.linear with a bias).
#include <cstdint>

#include "autokernel/cpu_types.h"

extern "C" int ak_kernel(const ak_call* call) {
  const ak_tensor *A = &call->inputs[0], *B = &call->inputs[1], *C = &call->outputs[0];
  const int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int64_t k = 0; k < K; ++k) acc += ak_load(A, m * K + k) * ak_load(B, k * B->stride[0] + n * B->stride[1]);
      ak_store(C, m * N + n, acc);
    }
  return 0;
}
