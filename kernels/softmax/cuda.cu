// @autokernel type=softmax
// y[M,N] = softmax(x) over the last dim. A group of THREADS_PER_ROW threads owns one row
// (ROWS_PER_BLOCK rows per block). Pass 1 keeps a per-thread online (max, sum of exp) pair and
// merges the pairs across the group; pass 2 re-reads the row (mostly from L2) and writes
// exp(x - max) / sum. All math in f32. Vector loads of VEC elements are used when N % VEC == 0
// and the pointers are aligned; otherwise a scalar path runs. A row of all -inf gives NaN.
// @knob THREADS_PER_ROW=256 {32,64,128,256,512,1024} threads cooperating on one row
// @knob ROWS_PER_BLOCK=1 {1,2,4,8} rows per thread block (blocks over 1024 threads do not compile)
// @knob VEC=8 {1,2,4,8} elements per vector load/store on the aligned path
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "autokernel/kernel_abi.h"

#ifndef THREADS_PER_ROW
#define THREADS_PER_ROW 256
#endif
#ifndef ROWS_PER_BLOCK
#define ROWS_PER_BLOCK 1
#endif
#ifndef VEC
#define VEC 8
#endif

constexpr int kGroup = THREADS_PER_ROW;
constexpr int kThreads = THREADS_PER_ROW * ROWS_PER_BLOCK;
static_assert(kGroup % 32 == 0 && kGroup <= 1024, "THREADS_PER_ROW: a multiple of 32, <= 1024");
static_assert(kThreads <= 1024, "THREADS_PER_ROW * ROWS_PER_BLOCK must be <= 1024");
static_assert(VEC == 1 || VEC == 2 || VEC == 4 || VEC == 8, "VEC must be 1, 2, 4 or 8");

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

// V consecutive elements moved as one (up to 16-byte) access; p must be aligned to sizeof(T)*V.
template <typename T, int V> struct alignas(sizeof(T) * V) Packed { T v[V]; };
template <int V, typename T> __device__ __forceinline__ void load_vec(const T* p, float (&out)[V]) {
  const Packed<T, V> pk = *reinterpret_cast<const Packed<T, V>*>(p);
#pragma unroll
  for (int i = 0; i < V; ++i) out[i] = to_f32(pk.v[i]);
}
template <int V, typename T> __device__ __forceinline__ void store_vec(T* p, const float (&in)[V]) {
  Packed<T, V> pk;
#pragma unroll
  for (int i = 0; i < V; ++i) pk.v[i] = from_f32<T>(in[i]);
  *reinterpret_cast<Packed<T, V>*>(p) = pk;
}

// ---- reductions ----------------------------------------------------------------------------
// Online softmax state: running max m and sum s of exp(x - m).
struct MaxSum {
  float m, s;
};

__device__ __forceinline__ MaxSum merge(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return {m, 0.0f};  // both empty / all -inf: avoid exp(-inf - -inf) = NaN
  return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

__device__ __forceinline__ MaxSum warp_reduce_maxsum(MaxSum v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    MaxSum other{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)};
    v = merge(v, other);
  }
  return v;
}

// Reduce over the kGroup threads of one row. Groups wider than a warp combine the per-warp
// results through shared memory in a fixed order, so the result is deterministic and every
// thread of the group receives it. Must be reached by all threads of the block.
__device__ __forceinline__ MaxSum group_reduce_maxsum(MaxSum v, MaxSum* smem) {
  v = warp_reduce_maxsum(v);
  if constexpr (kGroup > 32) {
    constexpr int kWarps = kGroup / 32;
    const int warp = threadIdx.x / 32, first = warp / kWarps * kWarps;
    if (threadIdx.x % 32 == 0) smem[warp] = v;
    __syncthreads();
    v = smem[first];
    for (int w = 1; w < kWarps; ++w) v = merge(v, smem[first + w]);
    __syncthreads();  // smem may be reused right after
  }
  return v;
}

// ---- kernel --------------------------------------------------------------------------------
template <typename T, int V>
__global__ void __launch_bounds__(kThreads) softmax_kernel(const T* __restrict__ x, T* __restrict__ y,
                                                           int64_t M, int64_t N) {
  __shared__ MaxSum smem[kThreads / 32];
  const int64_t row = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / kGroup;
  const int lane = threadIdx.x % kGroup;
  const int64_t n = row < M ? N : 0;  // rows past M do no work but join the reductions
  const T* xr = x + row * N;
  T* yr = y + row * N;

  MaxSum st{-INFINITY, 0.0f};
  for (int64_t i = (int64_t)lane * V; i < n; i += (int64_t)kGroup * V) {
    float v[V];
    load_vec<V>(xr + i, v);
    float cm = v[0];
#pragma unroll
    for (int j = 1; j < V; ++j) cm = fmaxf(cm, v[j]);
    if (cm == -INFINITY) continue;  // contributes nothing
    if (cm > st.m) {
      st.s *= expf(st.m - cm);
      st.m = cm;
    }
#pragma unroll
    for (int j = 0; j < V; ++j) st.s += expf(v[j] - st.m);
  }
  st = group_reduce_maxsum(st, smem);

  const float inv = 1.0f / st.s;
  for (int64_t i = (int64_t)lane * V; i < n; i += (int64_t)kGroup * V) {
    float v[V];
    load_vec<V>(xr + i, v);
#pragma unroll
    for (int j = 0; j < V; ++j) v[j] = expf(v[j] - st.m) * inv;
    store_vec<V>(yr + i, v);
  }
}

template <typename T>
static int launch(const ak_tensor* X, const ak_tensor* Y, int64_t M, int64_t N, cudaStream_t stream) {
  const T* x = static_cast<const T*>(X->data);
  T* y = static_cast<T*>(Y->data);
  const unsigned bytes = sizeof(T) * VEC;
  const bool aligned = N % VEC == 0 && (uintptr_t)x % bytes == 0 && (uintptr_t)y % bytes == 0;
  const int64_t blocks = (M + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
  if (blocks > 0x7fffffff) return 1;
  if (aligned)
    softmax_kernel<T, VEC><<<(unsigned)blocks, kThreads, 0, stream>>>(x, y, M, N);
  else
    softmax_kernel<T, 1><<<(unsigned)blocks, kThreads, 0, stream>>>(x, y, M, N);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 1 || call->n_outputs != 1) return 1;
  const ak_tensor *X = &call->inputs[0], *Y = &call->outputs[0];
  if (X->ndim < 1 || Y->dtype != X->dtype || ak_numel(Y) != ak_numel(X)) return 1;
  const int64_t N = X->shape[X->ndim - 1], M = N ? ak_numel(X) / N : 0;
  if (M == 0 || N == 0) return 0;
  cudaStream_t stream = (cudaStream_t)call->stream;
  switch (X->dtype) {
    case AK_F16: return launch<__half>(X, Y, M, N, stream);
    case AK_BF16: return launch<__nv_bfloat16>(X, Y, M, N, stream);
    case AK_F32: return launch<float>(X, Y, M, N, stream);
    default: return 1;
  }
}
