// @autokernel type=flash_attention
// o = softmax(scale * q k^T [+ causal mask]) v for q, k, v, o [B,H,S,D]; scalars: [0] causal
// (!= 0: key j visible to query i iff j <= i), [1] scale. Online-softmax ("flash") SIMT kernel:
// one block per (batch*head, tile of NWARPS*ROWS_PER_WARP queries); each warp owns
// ROWS_PER_WARP query rows. Per BKV-key tile staged in shared memory (f32): every lane scores
// BKV/32 keys against the row's (pre-scaled) query, the warp takes the tile max, rescales its
// running (max, sum, output) and accumulates p.V with lane d owning output columns d, d+32, ...
// The max is subtracted before exp2, so -inf scores give 0, never NaN (a causal row always sees
// key 0). Head dims up to 256 (padded to a multiple of 32); non-zero is returned above 256 or
// when the shared memory does not fit the device. No tensor cores.
// @knob NWARPS=4 {2,4,8} warps per block
// @knob ROWS_PER_WARP=2 {1,2,4} query rows owned by each warp
// @knob BKV=32 {32,64} keys per shared-memory tile
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "autokernel/kernel_abi.h"

#ifndef NWARPS
#define NWARPS 4
#endif
#ifndef ROWS_PER_WARP
#define ROWS_PER_WARP 2
#endif
#ifndef BKV
#define BKV 32
#endif

constexpr int kThreads = NWARPS * 32;
constexpr int kBlockQ = NWARPS * ROWS_PER_WARP;  // query rows per block
constexpr int kKeyChunks = BKV / 32;             // keys scored by each lane per tile
static_assert(NWARPS >= 1 && NWARPS <= 32, "NWARPS must be in [1, 32]");
static_assert(ROWS_PER_WARP >= 1, "ROWS_PER_WARP must be positive");
static_assert(BKV % 32 == 0 && BKV > 0, "BKV must be a positive multiple of 32");

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

// ---- warp reductions -----------------------------------------------------------------------
__device__ __forceinline__ float warp_reduce_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_reduce_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Shared memory (floats) for a head dim padded to kDP = 32 * DCH.
template <int DCH> constexpr size_t smem_floats() {
  return (size_t)kBlockQ * (32 * DCH) + 2 * (size_t)BKV * (32 * DCH + 1);
}

// ---- kernel --------------------------------------------------------------------------------
template <typename T, int DCH>
__global__ void __launch_bounds__(kThreads)
    flash_attention_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                           T* __restrict__ o, int S, int D, int n_qtiles, float scale_log2e, bool causal) {
  constexpr int kDP = 32 * DCH;  // padded head dim: lane owns output columns lane + 32 * c
  constexpr int kPitch = kDP + 1;  // odd pitch: lanes reading different K rows hit different banks
  extern __shared__ float smem[];
  float* Qs = smem;                  // [kBlockQ][kDP]  q * scale * log2(e)
  float* Ks = Qs + kBlockQ * kDP;    // [BKV][kPitch]   zero past S and past D
  float* Vs = Ks + BKV * kPitch;     // [BKV][kPitch]

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = blockIdx.x / n_qtiles;
  const int q0 = (n_qtiles - 1 - (int)(blockIdx.x % n_qtiles)) * kBlockQ;  // long causal tiles first
  const int64_t base = bh * S * D;

  for (int e = threadIdx.x; e < kBlockQ * D; e += kThreads) {
    const int r = e / D, d = e % D, qi = q0 + r;
    Qs[r * kDP + d] = qi < S ? to_f32(q[base + (int64_t)qi * D + d]) * scale_log2e : 0.0f;
  }

  float m[ROWS_PER_WARP], l[ROWS_PER_WARP], acc[ROWS_PER_WARP][DCH];
#pragma unroll
  for (int r = 0; r < ROWS_PER_WARP; ++r) {
    m[r] = -INFINITY, l[r] = 0.0f;  // l is a per-lane partial sum, reduced once at the end
#pragma unroll
    for (int c = 0; c < DCH; ++c) acc[r][c] = 0.0f;
  }

  const int kv_end = causal ? min(S, q0 + kBlockQ) : S;
  for (int kv0 = 0; kv0 < kv_end; kv0 += BKV) {
    __syncthreads();  // the previous K/V tile is consumed (and Qs is staged, first time round)
    for (int e = threadIdx.x; e < BKV * kDP; e += kThreads) {
      const int j = e / kDP, d = e % kDP, kj = kv0 + j;
      const bool in = kj < S && d < D;
      const int64_t g = base + (int64_t)kj * D + d;
      Ks[j * kPitch + d] = in ? to_f32(k[g]) : 0.0f;
      Vs[j * kPitch + d] = in ? to_f32(v[g]) : 0.0f;
    }
    __syncthreads();

#pragma unroll
    for (int r = 0; r < ROWS_PER_WARP; ++r) {
      const int row = warp * ROWS_PER_WARP + r, qi = q0 + row;
      if (qi >= S || (causal && kv0 > qi)) continue;  // warp-uniform: nothing visible here
      const float* qrow = Qs + row * kDP;

      // Scores (already in log2 units) of this lane's keys; masked keys get -inf.
      float p[kKeyChunks];
      float tile_max = -INFINITY;
#pragma unroll
      for (int c = 0; c < kKeyChunks; ++c) {
        const int j = c * 32 + lane, kj = kv0 + j;
        const float* krow = Ks + j * kPitch;
        float dot = 0.0f;
#pragma unroll 8
        for (int d = 0; d < D; ++d) dot = fmaf(qrow[d], krow[d], dot);
        p[c] = (kj >= S || (causal && kj > qi)) ? -INFINITY : dot;
        tile_max = fmaxf(tile_max, p[c]);
      }
      const float m_new = fmaxf(m[r], warp_reduce_max(tile_max));
      if (m_new == -INFINITY) continue;  // every key so far masked: keep the empty state
      const float alpha = exp2f(m[r] - m_new);  // 0 on the first visible tile
      m[r] = m_new;
      float psum = 0.0f;
#pragma unroll
      for (int c = 0; c < kKeyChunks; ++c) {
        p[c] = exp2f(p[c] - m_new);
        psum += p[c];
      }
      l[r] = l[r] * alpha + psum;

      // acc = acc * alpha + p . V, broadcasting each key's weight from the lane that owns it.
#pragma unroll
      for (int c = 0; c < DCH; ++c) acc[r][c] *= alpha;
#pragma unroll
      for (int c = 0; c < kKeyChunks; ++c)
#pragma unroll 4
        for (int src = 0; src < 32; ++src) {
          const float pj = __shfl_sync(0xffffffffu, p[c], src);
          const float* vrow = Vs + (c * 32 + src) * kPitch;
#pragma unroll
          for (int dc = 0; dc < DCH; ++dc) acc[r][dc] = fmaf(pj, vrow[dc * 32 + lane], acc[r][dc]);
        }
    }
  }

#pragma unroll
  for (int r = 0; r < ROWS_PER_WARP; ++r) {
    const int qi = q0 + warp * ROWS_PER_WARP + r;
    if (qi >= S) continue;
    const float inv = 1.0f / warp_reduce_sum(l[r]);
#pragma unroll
    for (int dc = 0; dc < DCH; ++dc) {
      const int d = dc * 32 + lane;
      if (d < D) o[base + (int64_t)qi * D + d] = from_f32<T>(acc[r][dc] * inv);
    }
  }
}

template <typename T, int DCH>
static int launch(const ak_call* call, int64_t BH, int S, int D, bool causal, float scale) {
  const size_t smem = smem_floats<DCH>() * sizeof(float);
  auto kernel = flash_attention_kernel<T, DCH>;
  if (smem > 48 * 1024) {  // beyond the default limit: opt in, if the device allows it
    int dev = 0, max_optin = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
        smem > (size_t)max_optin ||
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess)
      return 1;
  }
  const int n_qtiles = (S + kBlockQ - 1) / kBlockQ;
  if (BH * n_qtiles > 0x7fffffff) return 1;
  kernel<<<(unsigned)(BH * n_qtiles), kThreads, smem, (cudaStream_t)call->stream>>>(
      static_cast<const T*>(call->inputs[0].data), static_cast<const T*>(call->inputs[1].data),
      static_cast<const T*>(call->inputs[2].data), static_cast<T*>(call->outputs[0].data), S, D, n_qtiles,
      scale * 1.4426950408889634f, causal);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

template <typename T>
static int dispatch_head_dim(const ak_call* call, int64_t BH, int S, int D, bool causal, float scale) {
  if (D <= 32) return launch<T, 1>(call, BH, S, D, causal, scale);
  if (D <= 64) return launch<T, 2>(call, BH, S, D, causal, scale);
  if (D <= 96) return launch<T, 3>(call, BH, S, D, causal, scale);
  if (D <= 128) return launch<T, 4>(call, BH, S, D, causal, scale);
  if (D <= 192) return launch<T, 6>(call, BH, S, D, causal, scale);
  if (D <= 256) return launch<T, 8>(call, BH, S, D, causal, scale);
  return 1;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 3 || call->n_outputs != 1 || call->n_scalars < 2) return 1;
  const ak_tensor* Q = &call->inputs[0];
  for (int i = 0; i < 4; ++i) {
    const ak_tensor* t = i < 3 ? &call->inputs[i] : &call->outputs[0];
    if (t->ndim != 4 || t->dtype != Q->dtype) return 1;
    for (int d = 0; d < 4; ++d)
      if (t->shape[d] != Q->shape[d]) return 1;
  }
  const int64_t BH = Q->shape[0] * Q->shape[1], S = Q->shape[2], D = Q->shape[3];
  if (S > INT32_MAX / 2 || D > 256 || S * D > INT32_MAX) return 1;
  if (BH == 0 || S == 0) return 0;
  if (D == 0) return 1;
  const bool causal = call->scalars[0] != 0.0;
  const float scale = (float)call->scalars[1];
  switch (Q->dtype) {
    case AK_F16: return dispatch_head_dim<__half>(call, BH, (int)S, (int)D, causal, scale);
    case AK_BF16: return dispatch_head_dim<__nv_bfloat16>(call, BH, (int)S, (int)D, causal, scale);
    case AK_F32: return dispatch_head_dim<float>(call, BH, (int)S, (int)D, causal, scale);
    default: return 1;
  }
}
