// @autokernel type=cross_entropy
// loss[m] = logsumexp(logits[m,:]) - logits[m, target[m]] (f32 loss; target < 0 gives 0, a
// target >= V gives NaN since the kernel cannot report it). A group of THREADS_PER_ROW threads
// owns one row (ROWS_PER_BLOCK rows per block) and reads it once, keeping a per-thread online
// (max, sum of exp) pair merged across the group in f32. Vector loads of VEC elements are used
// when V % VEC == 0 and the logits are aligned; otherwise a scalar path runs.
// @knob THREADS_PER_ROW=256 {32,64,128,256,512,1024} threads cooperating on one row
// @knob ROWS_PER_BLOCK=1 {1,2,4,8} rows per thread block (blocks over 1024 threads do not compile)
// @knob VEC=8 {1,2,4,8} elements per vector load on the aligned path
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

// V consecutive elements moved as one (up to 16-byte) access; p must be aligned to sizeof(T)*V.
template <typename T, int V> struct alignas(sizeof(T) * V) Packed { T v[V]; };
template <int V, typename T> __device__ __forceinline__ void load_vec(const T* p, float (&out)[V]) {
  const Packed<T, V> pk = *reinterpret_cast<const Packed<T, V>*>(p);
#pragma unroll
  for (int i = 0; i < V; ++i) out[i] = to_f32(pk.v[i]);
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
__global__ void __launch_bounds__(kThreads)
    cross_entropy_kernel(const T* __restrict__ logits, const int64_t* __restrict__ target,
                         float* __restrict__ loss, int64_t M, int64_t nclass) {
  __shared__ MaxSum smem[kThreads / 32];
  const int64_t row = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / kGroup;
  const int lane = threadIdx.x % kGroup;
  const int64_t t = row < M ? target[row] : -1;
  const int64_t n = t >= 0 ? nclass : 0;  // ignored rows and rows past M skip the loads
  const T* xr = logits + row * nclass;

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

  if (row < M && lane == 0) {
    if (t < 0)
      loss[row] = 0.0f;
    else if (t >= nclass)
      loss[row] = __int_as_float(0x7fc00000);  // NaN: out-of-range target
    else
      loss[row] = st.m + logf(st.s) - to_f32(xr[t]);
  }
}

template <typename T>
static int launch(const ak_call* call, int64_t M, int64_t nclass) {
  const T* logits = static_cast<const T*>(call->inputs[0].data);
  const int64_t* target = static_cast<const int64_t*>(call->inputs[1].data);
  float* loss = static_cast<float*>(call->outputs[0].data);
  cudaStream_t stream = (cudaStream_t)call->stream;
  const bool aligned = nclass % VEC == 0 && (uintptr_t)logits % (sizeof(T) * VEC) == 0;
  const int64_t blocks = (M + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK;
  if (blocks > 0x7fffffff) return 1;
  if (aligned)
    cross_entropy_kernel<T, VEC><<<(unsigned)blocks, kThreads, 0, stream>>>(logits, target, loss, M, nclass);
  else
    cross_entropy_kernel<T, 1><<<(unsigned)blocks, kThreads, 0, stream>>>(logits, target, loss, M, nclass);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 2 || call->n_outputs != 1) return 1;
  const ak_tensor *L = &call->inputs[0], *T = &call->inputs[1], *Y = &call->outputs[0];
  if (L->ndim != 2 || T->dtype != AK_I64 || Y->dtype != AK_F32) return 1;
  const int64_t M = L->shape[0], V = L->shape[1];
  if (ak_numel(T) != M || ak_numel(Y) != M) return 1;
  if (M == 0) return 0;
  switch (L->dtype) {
    case AK_F16: return launch<__half>(call, M, V);
    case AK_BF16: return launch<__nv_bfloat16>(call, M, V);
    case AK_F32: return launch<float>(call, M, V);
    default: return 1;
  }
}
