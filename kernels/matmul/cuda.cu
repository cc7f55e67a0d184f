// @autokernel type=matmul
// C[M,N] = A[M,K] @ B[K,N], row-major, f32 accumulation for every dtype. Classic shared-memory
// tiled SIMT GEMM: a block computes a BM x BN tile of C, staging BK-deep slices of A and B in
// shared memory (converted to f32 once, zero-filled past the edges), and each thread owns a
// TM x TM micro-tile of outputs spaced BM/TM rows and BN/TM columns apart (conflict-free shared
// reads, coalesced stores). Any M, N, K. No tensor cores: that is the tuner's job.
// @knob BM=64 {32,64,128} rows of C per block
// @knob BN=64 {32,64,128} columns of C per block
// @knob BK=16 {8,16,32} depth of the shared-memory K slice
// @knob TM=4 {2,4,8} each thread computes a TM x TM micro-tile (blocks over 1024 threads do not compile)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "autokernel/kernel_abi.h"

#ifndef BM
#define BM 64
#endif
#ifndef BN
#define BN 64
#endif
#ifndef BK
#define BK 16
#endif
#ifndef TM
#define TM 4
#endif

constexpr int kRowThreads = BM / TM, kColThreads = BN / TM;
constexpr int kThreads = kRowThreads * kColThreads;
static_assert(BM % TM == 0 && BN % TM == 0, "TM must divide BM and BN");
static_assert(kThreads <= 1024, "(BM/TM) * (BN/TM) threads must be <= 1024");

// ---- dtype helpers -------------------------------------------------------------------------
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// ---- kernel --------------------------------------------------------------------------------
template <typename T>
__global__ void __launch_bounds__(kThreads)
    matmul_kernel(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C, int M, int N, int K) {
  // A is stored transposed (k-major) so the compute loop reads a column of the A tile as a row.
  // The +1 pad makes the transposing store conflict-free.
  __shared__ float As[BK][BM + 1];
  __shared__ float Bs[BK][BN];

  const int tid = threadIdx.x;
  const int tx = tid % kColThreads, ty = tid / kColThreads;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;

  float acc[TM][TM];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TM; ++j) acc[i][j] = 0.0f;

  for (int k0 = 0; k0 < K; k0 += BK) {
    // Stage the A tile (BM x BK): consecutive threads read consecutive k of one row.
    for (int e = tid; e < BM * BK; e += kThreads) {
      const int r = e / BK, c = e % BK, gm = m0 + r, gk = k0 + c;
      As[c][r] = (gm < M && gk < K) ? to_f32(A[(int64_t)gm * K + gk]) : 0.0f;
    }
    // Stage the B tile (BK x BN): consecutive threads read consecutive n of one row.
    for (int e = tid; e < BK * BN; e += kThreads) {
      const int r = e / BN, c = e % BN, gk = k0 + r, gn = n0 + c;
      Bs[r][c] = (gk < K && gn < N) ? to_f32(B[(int64_t)gk * N + gn]) : 0.0f;
    }
    __syncthreads();

#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float a[TM], b[TM];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = As[kk][ty + i * kRowThreads];
#pragma unroll
      for (int j = 0; j < TM; ++j) b[j] = Bs[kk][tx + j * kColThreads];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TM; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();  // the tiles are overwritten by the next slice
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int gm = m0 + ty + i * kRowThreads;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < TM; ++j) {
      const int gn = n0 + tx + j * kColThreads;
      if (gn < N) C[(int64_t)gm * N + gn] = from_f32<T>(acc[i][j]);
    }
  }
}

template <typename T>
static int launch(const ak_call* call, int64_t M, int64_t N, int64_t K) {
  const T* A = static_cast<const T*>(call->inputs[0].data);
  const T* B = static_cast<const T*>(call->inputs[1].data);
  T* C = static_cast<T*>(call->outputs[0].data);
  const dim3 grid((unsigned)((N + BN - 1) / BN), (unsigned)((M + BM - 1) / BM));
  matmul_kernel<T><<<grid, kThreads, 0, (cudaStream_t)call->stream>>>(A, B, C, (int)M, (int)N, (int)K);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 2 || call->n_outputs != 1) return 1;
  const ak_tensor *A = &call->inputs[0], *B = &call->inputs[1], *C = &call->outputs[0];
  if (A->ndim != 2 || B->ndim != 2 || C->ndim != 2) return 1;
  if (B->dtype != A->dtype || C->dtype != A->dtype) return 1;
  const int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
  if (B->shape[0] != K || C->shape[0] != M || C->shape[1] != N) return 1;
  // int indices inside the kernel; grid.y is limited to 65535 blocks.
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || (M + BM - 1) / BM > 65535) return 1;
  if (M == 0 || N == 0) return 0;
  switch (A->dtype) {
    case AK_F16: return launch<__half>(call, M, N, K);
    case AK_BF16: return launch<__nv_bfloat16>(call, M, N, K);
    case AK_F32: return launch<float>(call, M, N, K);
    default: return 1;
  }
}
