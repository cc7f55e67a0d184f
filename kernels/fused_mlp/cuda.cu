// @autokernel type=fused_mlp
// SwiGLU MLP: y[M,E] = (silu(x Wg^T) * (x Wu^T)) Wd^T with Wg, Wu [F,E], Wd [E,F]. Two launches
// of one shared-memory tiled SIMT GEMM ("NT": both operands are contiguous along the reduction
// dim), f32 accumulation:
//   1. h[M,F] = silu(x Wg^T) * (x Wu^T): the gate and up products share the staged x tile and
//      the silu * mul is fused into the epilogue; h is kept in f32;
//   2. y = h Wd^T.
// h needs M*F*4 bytes of scratch: the ABI gives no allocator, so this starter takes it from the
// stream-ordered pool (cudaMallocAsync / cudaFreeAsync on the call's stream; no sync, no leak).
// A fully fused kernel (h tile kept on chip) is the tuner's job. No tensor cores.
// @knob TILE=64 {32,64,128} rows and columns of the output tile per block
// @knob BK=16 {8,16,32} depth of the shared-memory K slice
// @knob TM=4 {2,4,8} each thread computes a TM x TM micro-tile (blocks over 1024 threads do not compile)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "autokernel/kernel_abi.h"

#ifndef TILE
#define TILE 64
#endif
#ifndef BK
#define BK 16
#endif
#ifndef TM
#define TM 4
#endif

constexpr int kSide = TILE / TM;  // threads along each side of the tile
constexpr int kThreads = kSide * kSide;
static_assert(TILE % TM == 0, "TM must divide TILE");
static_assert(kThreads <= 1024, "(TILE/TM)^2 threads must be <= 1024");

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

__device__ __forceinline__ float silu(float g) { return g / (1.0f + expf(-g)); }  // -0, not NaN, for g << 0

// Stage a TILE x BK slice of a row-major [rows, K] operand, transposed into smem[BK][TILE + 1]
// (zero past the edges). Consecutive threads read consecutive k: coalesced; the +1 pad keeps
// the transposing store free of bank conflicts.
template <typename T>
__device__ __forceinline__ void stage_tile(float (*dst)[TILE + 1], const T* __restrict__ src, int row0,
                                           int rows, int k0, int K) {
  for (int e = threadIdx.x; e < TILE * BK; e += kThreads) {
    const int r = e / BK, c = e % BK, gr = row0 + r, gk = k0 + c;
    dst[c][r] = (gr < rows && gk < K) ? to_f32(src[(int64_t)gr * K + gk]) : 0.0f;
  }
}

// ---- kernel --------------------------------------------------------------------------------
// C[m,n] = sum_k A[m,k] W0[n,k]                                   (kGated = false)
// C[m,n] = silu(sum_k A[m,k] W0[n,k]) * sum_k A[m,k] W1[n,k]      (kGated = true)
template <typename TA, typename TW, typename TC, bool kGated>
__global__ void __launch_bounds__(kThreads)
    gemm_nt_kernel(const TA* __restrict__ A, const TW* __restrict__ W0, const TW* __restrict__ W1,
                   TC* __restrict__ C, int M, int N, int K) {
  __shared__ float As[BK][TILE + 1];
  __shared__ float W0s[BK][TILE + 1];
  __shared__ float W1s[kGated ? BK : 1][TILE + 1];

  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  const int m0 = blockIdx.y * TILE, n0 = blockIdx.x * TILE;

  float acc0[TM][TM], acc1[kGated ? TM : 1][kGated ? TM : 1];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TM; ++j) {
      acc0[i][j] = 0.0f;
      if constexpr (kGated) acc1[i][j] = 0.0f;
    }

  for (int k0 = 0; k0 < K; k0 += BK) {
    stage_tile(As, A, m0, M, k0, K);
    stage_tile(W0s, W0, n0, N, k0, K);
    if constexpr (kGated) stage_tile(W1s, W1, n0, N, k0, K);
    __syncthreads();

#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float a[TM], b0[TM], b1[TM];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = As[kk][ty + i * kSide];
#pragma unroll
      for (int j = 0; j < TM; ++j) {
        b0[j] = W0s[kk][tx + j * kSide];
        if constexpr (kGated) b1[j] = W1s[kk][tx + j * kSide];
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TM; ++j) {
          acc0[i][j] = fmaf(a[i], b0[j], acc0[i][j]);
          if constexpr (kGated) acc1[i][j] = fmaf(a[i], b1[j], acc1[i][j]);
        }
    }
    __syncthreads();  // the tiles are overwritten by the next slice
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int gm = m0 + ty + i * kSide;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < TM; ++j) {
      const int gn = n0 + tx + j * kSide;
      if (gn >= N) continue;
      float r = acc0[i][j];
      if constexpr (kGated) r = silu(r) * acc1[i][j];
      C[(int64_t)gm * N + gn] = from_f32<TC>(r);
    }
  }
}

static dim3 grid_for(int64_t rows, int64_t cols) {
  return dim3((unsigned)((cols + TILE - 1) / TILE), (unsigned)((rows + TILE - 1) / TILE));
}

template <typename T>
static int run(const ak_call* call, int M, int E, int F) {
  const T* x = static_cast<const T*>(call->inputs[0].data);
  const T* wg = static_cast<const T*>(call->inputs[1].data);
  const T* wu = static_cast<const T*>(call->inputs[2].data);
  const T* wd = static_cast<const T*>(call->inputs[3].data);
  T* y = static_cast<T*>(call->outputs[0].data);
  cudaStream_t stream = (cudaStream_t)call->stream;

  float* h = nullptr;
  if (F > 0) {
    if (cudaMallocAsync((void**)&h, (size_t)M * F * sizeof(float), stream) != cudaSuccess) return 1;
    gemm_nt_kernel<T, T, float, true><<<grid_for(M, F), kThreads, 0, stream>>>(x, wg, wu, h, M, F, E);
  }
  // F == 0 gives K == 0 here: the GEMM then writes zeros.
  gemm_nt_kernel<float, T, T, false><<<grid_for(M, E), kThreads, 0, stream>>>(h, wd, nullptr, y, M, E, F);
  const cudaError_t launch_err = cudaGetLastError();
  if (h != nullptr && cudaFreeAsync(h, stream) != cudaSuccess) return 1;
  return launch_err == cudaSuccess ? 0 : 1;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 4 || call->n_outputs != 1) return 1;
  const ak_tensor *X = &call->inputs[0], *Wg = &call->inputs[1], *Wu = &call->inputs[2];
  const ak_tensor *Wd = &call->inputs[3], *Y = &call->outputs[0];
  for (const ak_tensor* t : {Wg, Wu, Wd, Y})
    if (t->ndim != 2 || t->dtype != X->dtype) return 1;
  if (X->ndim != 2) return 1;
  const int64_t M = X->shape[0], E = X->shape[1], F = Wg->shape[0];
  if (Wg->shape[1] != E || Wu->shape[0] != F || Wu->shape[1] != E || Wd->shape[0] != E ||
      Wd->shape[1] != F || Y->shape[0] != M || Y->shape[1] != E)
    return 1;
  // int indices inside the kernels; grid.y is limited to 65535 blocks.
  if (M > INT32_MAX || E > INT32_MAX || F > INT32_MAX || (M + TILE - 1) / TILE > 65535) return 1;
  if (M == 0 || E == 0) return 0;
  switch (X->dtype) {
    case AK_F16: return run<__half>(call, (int)M, (int)E, (int)F);
    case AK_BF16: return run<__nv_bfloat16>(call, (int)M, (int)E, (int)F);
    case AK_F32: return run<float>(call, (int)M, (int)E, (int)F);
    default: return 1;
  }
}
