// @autokernel type=rotary_embedding
// Rotary embedding on interleaved pairs: for x[B,H,S,D] and i < D/2,
//   y[2i] = x[2i] cos[s,i] - x[2i+1] sin[s,i],  y[2i+1] = x[2i] sin[s,i] + x[2i+1] cos[s,i].
// Element-wise, math in f32. Fast path (x and y 16-byte aligned, a row of D a whole number of 16-byte
// chunks): each thread moves CHUNKS_PER_THREAD 16-byte chunks of x spaced one block apart (a warp
// touches contiguous memory), and the row and position of a chunk come from one 32-bit division.
// Otherwise each thread rotates PAIRS_PER_THREAD pairs, a pair as one 4/8-byte access when aligned.
// cos/sin may be f16, bf16 or f32 (any mix; they are small and stay in cache). Returns non-zero
// for odd D.
// @knob BLOCK=256 {128,256,512,1024} threads per block
// @knob CHUNKS_PER_THREAD=2 {1,2,4} 16-byte chunks of x rotated by each thread (fast path)
// @knob PAIRS_PER_THREAD=2 {1,2,4,8} pairs rotated by each thread (fallback path)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "autokernel/kernel_abi.h"

#ifndef BLOCK
#define BLOCK 256
#endif
#ifndef PAIRS_PER_THREAD
#define PAIRS_PER_THREAD 2
#endif
#ifndef CHUNKS_PER_THREAD
#define CHUNKS_PER_THREAD 2
#endif
static_assert(CHUNKS_PER_THREAD >= 1, "CHUNKS_PER_THREAD must be positive");
static_assert(BLOCK % 32 == 0 && BLOCK <= 1024, "BLOCK: a multiple of 32, <= 1024");
static_assert(PAIRS_PER_THREAD >= 1, "PAIRS_PER_THREAD must be positive");

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

// Element i of a cos/sin table whose dtype is only known at run time (uniform branch).
__device__ __forceinline__ float load_table(const void* p, int dtype, int64_t i) {
  switch (dtype) {
    case AK_F16: return __half2float(static_cast<const __half*>(p)[i]);
    case AK_BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

template <typename T> struct alignas(2 * sizeof(T)) Pair { T a, b; };

// ---- kernel --------------------------------------------------------------------------------
template <typename T, bool kPairAccess>
__global__ void __launch_bounds__(BLOCK)
    rotary_kernel(const T* __restrict__ x, const void* __restrict__ cos_tab, int cos_dtype,
                  const void* __restrict__ sin_tab, int sin_dtype, T* __restrict__ y,
                  int64_t n_pairs, int64_t half, int64_t S) {
  const int64_t first = (int64_t)blockIdx.x * BLOCK * PAIRS_PER_THREAD + threadIdx.x;
#pragma unroll
  for (int k = 0; k < PAIRS_PER_THREAD; ++k) {
    const int64_t p = first + (int64_t)k * BLOCK;  // pair index in x viewed as [B*H*S, D/2]
    if (p >= n_pairs) break;
    const int64_t i = p % half, s = (p / half) % S;
    const float c = load_table(cos_tab, cos_dtype, s * half + i);
    const float sn = load_table(sin_tab, sin_dtype, s * half + i);
    float x0, x1;
    if constexpr (kPairAccess) {
      const Pair<T> v = reinterpret_cast<const Pair<T>*>(x)[p];
      x0 = to_f32(v.a), x1 = to_f32(v.b);
    } else {
      x0 = to_f32(x[2 * p]), x1 = to_f32(x[2 * p + 1]);
    }
    const T y0 = from_f32<T>(x0 * c - x1 * sn), y1 = from_f32<T>(x0 * sn + x1 * c);
    if constexpr (kPairAccess) {
      reinterpret_cast<Pair<T>*>(y)[p] = Pair<T>{y0, y1};
    } else {
      y[2 * p] = y0, y[2 * p + 1] = y1;
    }
  }
}


// 16 bytes of x: kPairs interleaved pairs.
template <typename T> struct alignas(16) Chunk {
  static constexpr int kPairs = 16 / (2 * sizeof(T));
  T v[2 * kPairs];
};

// kPairs consecutive table entries: one 4/8-byte access when the tables have x's dtype, else one by one.
template <typename T, bool kTablesLikeX> struct alignas(kTablesLikeX ? sizeof(T) * Chunk<T>::kPairs : 4) TableRun {
  float v[Chunk<T>::kPairs];
  __device__ __forceinline__ void load(const void* tab, int dtype, uint32_t t0) {
    if constexpr (kTablesLikeX) {
      struct alignas(sizeof(T) * Chunk<T>::kPairs) Raw { T e[Chunk<T>::kPairs]; };
      const Raw r = reinterpret_cast<const Raw*>(tab)[t0 / Chunk<T>::kPairs];
#pragma unroll
      for (int j = 0; j < Chunk<T>::kPairs; ++j) v[j] = to_f32(r.e[j]);
    } else {
#pragma unroll
      for (int j = 0; j < Chunk<T>::kPairs; ++j) v[j] = load_table(tab, dtype, t0 + j);
    }
  }
};

template <typename T, bool kTablesLikeX>
__global__ void __launch_bounds__(BLOCK)
    rotary_chunk_kernel(const T* __restrict__ x, const void* __restrict__ cos_tab, int cos_dtype,
                        const void* __restrict__ sin_tab, int sin_dtype, T* __restrict__ y,
                        uint32_t n_chunks, uint32_t chunks_per_row, uint32_t S, uint32_t half) {
  constexpr int kPairs = Chunk<T>::kPairs;
  const uint32_t first = blockIdx.x * (uint32_t)(BLOCK * CHUNKS_PER_THREAD) + threadIdx.x;
  Chunk<T> in[CHUNKS_PER_THREAD];
#pragma unroll
  for (int k = 0; k < CHUNKS_PER_THREAD; ++k) {  // all loads first: CHUNKS_PER_THREAD x 16 B in flight
    const uint32_t c = first + k * BLOCK;
    if (c < n_chunks) in[k] = reinterpret_cast<const Chunk<T>*>(x)[c];
  }
#pragma unroll
  for (int k = 0; k < CHUNKS_PER_THREAD; ++k) {
    const uint32_t c = first + k * BLOCK;
    if (c >= n_chunks) break;
    const uint32_t row = c / chunks_per_row;
    const uint32_t i0 = (c - row * chunks_per_row) * kPairs;  // first pair of the chunk within the row
    const uint32_t t0 = (row % S) * half + i0;                 // its entry in the [S, D/2] tables
    TableRun<T, kTablesLikeX> cs_run, sn_run;
    cs_run.load(cos_tab, cos_dtype, t0);
    sn_run.load(sin_tab, sin_dtype, t0);
    Chunk<T> out;
#pragma unroll
    for (int j = 0; j < kPairs; ++j) {
      const float cs = cs_run.v[j], sn = sn_run.v[j];
      const float x0 = to_f32(in[k].v[2 * j]), x1 = to_f32(in[k].v[2 * j + 1]);
      out.v[2 * j] = from_f32<T>(x0 * cs - x1 * sn);
      out.v[2 * j + 1] = from_f32<T>(x0 * sn + x1 * cs);
    }
    reinterpret_cast<Chunk<T>*>(y)[c] = out;
  }
}

template <typename T>
static int launch(const ak_call* call) {
  const ak_tensor *X = &call->inputs[0], *C = &call->inputs[1], *Sn = &call->inputs[2];
  const T* x = static_cast<const T*>(X->data);
  T* y = static_cast<T*>(call->outputs[0].data);
  const int64_t S = X->shape[2], half = X->shape[3] / 2, n_pairs = ak_numel(X) / 2;
  const bool pair_aligned = (uintptr_t)x % (2 * sizeof(T)) == 0 && (uintptr_t)y % (2 * sizeof(T)) == 0;
  cudaStream_t stream = (cudaStream_t)call->stream;
  const int64_t row_bytes = X->shape[3] * (int64_t)sizeof(T);
  const int64_t n_chunks = ak_numel(X) * (int64_t)sizeof(T) / 16;
  if ((uintptr_t)x % 16 == 0 && (uintptr_t)y % 16 == 0 && row_bytes % 16 == 0 && n_chunks < 0x7fffffffLL &&
      S * half < 0x7fffffffLL) {
    const int64_t chunk_blocks = (n_chunks + (int64_t)BLOCK * CHUNKS_PER_THREAD - 1) / ((int64_t)BLOCK * CHUNKS_PER_THREAD);
    // A run of kPairs table entries starts at a multiple of kPairs (half is a multiple of it here).
    const int x_dtype = X->dtype;
    const uintptr_t run_bytes = sizeof(T) * Chunk<T>::kPairs;
    const bool tables_like_x = C->dtype == x_dtype && Sn->dtype == x_dtype && (uintptr_t)C->data % run_bytes == 0 &&
                               (uintptr_t)Sn->data % run_bytes == 0;
    auto kernel = tables_like_x ? rotary_chunk_kernel<T, true> : rotary_chunk_kernel<T, false>;
    kernel<<<(unsigned)chunk_blocks, BLOCK, 0, stream>>>(x, C->data, C->dtype, Sn->data, Sn->dtype, y, (uint32_t)n_chunks,
                                                       (uint32_t)(row_bytes / 16), (uint32_t)S, (uint32_t)half);
    return cudaGetLastError() == cudaSuccess ? 0 : 1;
  }
  const int64_t per_block = (int64_t)BLOCK * PAIRS_PER_THREAD;
  const int64_t blocks = (n_pairs + per_block - 1) / per_block;
  if (blocks > 0x7fffffff) return 1;
  if (pair_aligned)
    rotary_kernel<T, true><<<(unsigned)blocks, BLOCK, 0, stream>>>(x, C->data, C->dtype, Sn->data, Sn->dtype,
                                                                   y, n_pairs, half, S);
  else
    rotary_kernel<T, false><<<(unsigned)blocks, BLOCK, 0, stream>>>(x, C->data, C->dtype, Sn->data, Sn->dtype,
                                                                    y, n_pairs, half, S);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 3 || call->n_outputs != 1) return 1;
  const ak_tensor *X = &call->inputs[0], *C = &call->inputs[1], *Sn = &call->inputs[2];
  const ak_tensor* Y = &call->outputs[0];
  if (X->ndim != 4 || Y->dtype != X->dtype || ak_numel(Y) != ak_numel(X)) return 1;
  if (C->dtype == AK_I64 || Sn->dtype == AK_I64) return 1;
  const int64_t S = X->shape[2], D = X->shape[3];
  if (D % 2 != 0 || ak_numel(C) != S * (D / 2) || ak_numel(Sn) != S * (D / 2)) return 1;
  if (ak_numel(X) == 0) return 0;
  switch (X->dtype) {
    case AK_F16: return launch<__half>(call);
    case AK_BF16: return launch<__nv_bfloat16>(call);
    case AK_F32: return launch<float>(call);
    default: return 1;
  }
}
