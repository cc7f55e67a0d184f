// @autokernel type=matmul
// Right product, but B read as if row-major (the ABI before K-major B): right on contiguous B, wrong wherever B is
// F.linear's weight as it is (b_kmajor), which the sweep's second case already is: stage 2.
#include <cstdint>

#include "autokernel/cpu_types.h"

extern "C" int ak_kernel(const ak_call* call) {
  const ak_tensor *A = &call->inputs[0], *B = &call->inputs[1], *C = &call->outputs[0];
  const int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int64_t k = 0; k < K; ++k) acc += ak_load(A, m * K + k) * ak_load(B, k * N + n);
      ak_store(C, m * N + n, acc);
    }
  return 0;
}
