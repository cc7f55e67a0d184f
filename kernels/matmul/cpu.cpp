// @autokernel type=matmul
// C[M,N] = A[M,K] @ B[K,N] on the host. B (row-major, or K-major: kernel_abi.h) is converted to a
// row-major f32 copy once; each block of ROW_BLOCK rows of C is accumulated in f32 with a
// broadcast-A / contiguous-B (axpy) inner loop that the compiler vectorises. Limits: single-threaded,
// O(M*N*K), needs K*N*4 bytes of scratch. An optional bias[N] (added to each row) and residual[M,N] (added
// elementwise), told apart by ndim, are added before the one rounding.
// @knob ROW_BLOCK=4 {1,2,4,8} rows of C computed together (each B row is reused ROW_BLOCK times)
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef ROW_BLOCK
#define ROW_BLOCK 4
#endif
static_assert(ROW_BLOCK >= 1, "ROW_BLOCK must be positive");

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs < 2 || call->n_inputs > 4 || call->n_outputs != 1) return 1;
  const ak_tensor *A = &call->inputs[0], *B = &call->inputs[1], *C = &call->outputs[0];
  if (A->ndim != 2 || B->ndim != 2 || C->ndim != 2) return 1;
  const int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
  if (B->shape[0] != K || C->shape[0] != M || C->shape[1] != N) return 1;
  if (A->dtype == AK_I64 || B->dtype == AK_I64 || C->dtype == AK_I64) return 1;
  const ak_tensor *bias = nullptr, *res = nullptr;
  for (int i = 2; i < call->n_inputs; ++i) {
    const ak_tensor* t = &call->inputs[i];
    if (t->ndim == 1 && !bias && !res && t->shape[0] == N) {
      bias = t;
    } else if (t->ndim == 2 && !res && t->shape[0] == M && t->shape[1] == N && (M < 2 || t->stride[0] == N)) {
      res = t;
    } else {
      return 1;
    }
    if (t->dtype == AK_I64) return 1;
  }

  std::vector<float> b(K * N), a(ROW_BLOCK * K), acc(ROW_BLOCK * N);
  // b(k, n) lies at k * stride[0] + n * stride[1]: row-major B, or K-major (F.linear's weight as it is).
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) b[k * N + n] = ak_load(B, k * B->stride[0] + n * B->stride[1]);

  for (int64_t m0 = 0; m0 < M; m0 += ROW_BLOCK) {
    const int rows = (int)(M - m0 < ROW_BLOCK ? M - m0 : ROW_BLOCK);
    for (int r = 0; r < rows; ++r)
      for (int64_t k = 0; k < K; ++k) a[r * K + k] = ak_load(A, (m0 + r) * K + k);
    for (auto& v : acc) v = 0.0f;
    for (int64_t k = 0; k < K; ++k) {
      const float* brow = &b[k * N];
      for (int r = 0; r < rows; ++r) {
        const float av = a[r * K + k];
        float* crow = &acc[r * N];
        for (int64_t n = 0; n < N; ++n) crow[n] += av * brow[n];
      }
    }
    for (int r = 0; r < rows; ++r)
      for (int64_t n = 0; n < N; ++n)
        ak_store(C, (m0 + r) * N + n,
                 acc[r * N + n] + (bias ? ak_load(bias, n) : 0.0f) + (res ? ak_load(res, (m0 + r) * N + n) : 0.0f));
  }
  return 0;
}
