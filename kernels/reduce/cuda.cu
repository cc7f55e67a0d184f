// @autokernel type=reduce
// y[M] = sum of x[M,N] over the last dim, f32 accumulation, y in x's dtype. Memory-bound: the goal
// is to read x once at full bandwidth.
//
// A group of G threads owns a row (one warp, ROWS_PER_BLOCK rows per block, when one pass of a warp
// covers it; else a block of up to THREADS threads). It walks the row in 16-byte chunks, chunk k to
// thread k % G (every warp load is 512 contiguous bytes), issuing UNROLL independent loads per
// thread before adding any, so enough bytes are in flight to cover DRAM latency. Each thread sums
// in f32; the group combines the partial sums in a fixed shuffle tree (plus one shared-memory step
// across warps): deterministic, no atomics. Any N and any element-aligned x: a row whose start is
// not 16-byte aligned (N not a multiple of 16 bytes) is split into a scalar head up to the first
// aligned address, aligned chunks, and a scalar tail. N == 0 writes zeros.
// @knob THREADS=256 {128,256,512,1024} threads per row (one block) for rows longer than one warp's pass
// @knob UNROLL=4 {1,2,4,8} 16-byte loads each thread issues before it adds
// @knob ROWS_PER_BLOCK=4 {1,2,4,8,16} rows per block when one warp covers a row in one pass
// @knob LOAD_HINT=2 {0,1,2} x loads: 0 plain, 1 ld.global.nc without L1 allocation, 2 that plus L2 evict-first
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "autokernel/kernel_abi.h"

#ifndef THREADS
#define THREADS 256
#endif
#ifndef UNROLL
#define UNROLL 4
#endif
#ifndef ROWS_PER_BLOCK
#define ROWS_PER_BLOCK 4
#endif
#ifndef LOAD_HINT
#define LOAD_HINT 2
#endif

static_assert(THREADS % 32 == 0 && THREADS >= 32 && THREADS <= 1024, "THREADS: whole warps, <= 1024");
static_assert(UNROLL >= 1 && UNROLL <= 16, "UNROLL: 1..16");
static_assert(ROWS_PER_BLOCK >= 1 && ROWS_PER_BLOCK <= 32, "ROWS_PER_BLOCK: 1..32 (a block of at most 1024 threads)");
static_assert(LOAD_HINT >= 0 && LOAD_HINT <= 2, "LOAD_HINT must be 0, 1 or 2");

// ---- 16-byte chunks: loads, f32 conversion ------------------------------------------------
__device__ __forceinline__ uint4 ld16(const void* p) {
  uint4 r;
#if LOAD_HINT == 0
  r = *static_cast<const uint4*>(p);
#elif LOAD_HINT == 1
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
#elif __CUDA_ARCH__ >= 800
  uint64_t policy;  // L2 evict-first for every line this load brings in
  asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p), "l"(policy));
#else
  r = __ldg(static_cast<const uint4*>(p));
#endif
  return r;
}
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// A chunk is 16 bytes: kE elements of T, unpacked to f32 (bf16 is the top half of an f32).
template <typename T> constexpr int kE = 16 / (int)sizeof(T);
__device__ __forceinline__ void unpack2(uint32_t w, float& lo, float& hi, __nv_bfloat16) {
  lo = __uint_as_float(w << 16), hi = __uint_as_float(w & 0xffff0000u);
}
__device__ __forceinline__ void unpack2(uint32_t w, float& lo, float& hi, __half) {
  lo = __half2float(__ushort_as_half((unsigned short)(w & 0xffffu)));
  hi = __half2float(__ushort_as_half((unsigned short)(w >> 16)));
}
template <typename T> __device__ __forceinline__ void unpack(uint4 u, float (&f)[kE<T>]) {
  if constexpr (sizeof(T) == 4) {
    f[0] = __uint_as_float(u.x), f[1] = __uint_as_float(u.y), f[2] = __uint_as_float(u.z), f[3] = __uint_as_float(u.w);
  } else {
    unpack2(u.x, f[0], f[1], T()), unpack2(u.y, f[2], f[3], T()), unpack2(u.z, f[4], f[5], T());
    unpack2(u.w, f[6], f[7], T());
  }
}

// A row as scalar head [0, h), 16-byte chunks [h, h + nb*kE), scalar tail of t elements. h < kE and
// t < kE, so threads 0..kE-1 of any group (>= 32 threads) cover them with one element each.
struct Split {
  int h, nb, t;
};
template <typename T> __device__ __forceinline__ Split split_row(const T* row, int n) {
  int h = (int)((16u - ((unsigned)(uintptr_t)row & 15u)) & 15u) / (int)sizeof(T);
  h = min(h, n);
  const int nb = (n - h) / kE<T>;
  return {h, nb, n - h - nb * kE<T>};
}


// ---- reductions ------------------------------------------------------------------------------
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// Sum over the whole block (blockDim.x a multiple of 32), in a fixed order: every thread gets the
// same bits, run after run.
__device__ __forceinline__ float block_sum(float v, float* red) {
  v = warp_sum(v);
  if (blockDim.x > 32) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = warp_sum(lane < (int)blockDim.x / 32 ? red[lane] : 0.0f);
  }
  return v;
}

// ---- kernel ----------------------------------------------------------------------------------
// kWarpRow: one warp per row, blockDim.x / 32 rows per block; else one row per block of G threads.
template <typename T, bool kWarpRow>
__global__ void __launch_bounds__(1024, 1) reduce_rows(const T* __restrict__ x, T* __restrict__ y, int64_t M, int N) {
  constexpr int E = kE<T>;
  __shared__ float red[32];
  const int G = kWarpRow ? 32 : blockDim.x;
  const int lane = kWarpRow ? threadIdx.x % 32 : threadIdx.x;
  const int64_t row = kWarpRow ? (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32 : blockIdx.x;
  if (kWarpRow && row >= M) return;  // whole warps only; warp rows never __syncthreads
  const T* xr = x + row * N;
  const Split sp = split_row(xr, N);
  const T* xb = xr + sp.h;  // 16-byte aligned

  float acc = 0.0f;
  for (int k0 = lane; k0 < sp.nb; k0 += UNROLL * G) {
    uint4 v[UNROLL];  // all loads first, then the adds
#pragma unroll
    for (int u = 0; u < UNROLL; ++u)
      v[u] = k0 + u * G < sp.nb ? ld16(xb + (k0 + u * G) * E) : make_uint4(0, 0, 0, 0);  // zeros add nothing
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      float f[E];
      unpack<T>(v[u], f);
#pragma unroll
      for (int w = 1; w < E; w *= 2)  // pairwise within the chunk: short dependency chains
#pragma unroll
        for (int j = 0; j < E; j += 2 * w) f[j] += f[j + w];
      acc += f[0];
    }
  }
  if (lane < sp.h) acc += to_f32(xr[lane]);
  if (lane < sp.t) acc += to_f32(xb[sp.nb * E + lane]);
  acc = kWarpRow ? warp_sum(acc) : block_sum(acc, red);
  if (lane == 0) y[row] = from_f32<T>(acc);
}

// ---- host ------------------------------------------------------------------------------------
template <typename T>
static int launch(const ak_tensor* X, const ak_tensor* Y, int64_t M, int64_t N, cudaStream_t s) {
  const T* x = static_cast<const T*>(X->data);
  T* y = static_cast<T*>(Y->data);
  if (M > 0x7fffffff || N > 0x7fffffff / 2) return 1;
  const int64_t R = (N + kE<T> - 1) / kE<T>;  // chunks per row, at most
  if (R <= 32 * UNROLL) {
    reduce_rows<T, true><<<(unsigned)((M + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK), 32 * ROWS_PER_BLOCK, 0, s>>>(
        x, y, M, (int)N);
  } else {
    const int64_t g = ((R + UNROLL - 1) / UNROLL + 31) / 32 * 32;  // no more threads than one pass needs
    reduce_rows<T, false><<<(unsigned)M, (unsigned)(g < THREADS ? g : THREADS), 0, s>>>(x, y, M, (int)N);
  }
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 1 || call->n_outputs != 1) return 1;
  const ak_tensor *X = &call->inputs[0], *Y = &call->outputs[0];
  if (X->ndim < 1 || Y->dtype != X->dtype) return 1;
  const int64_t N = X->shape[X->ndim - 1];
  const int64_t M = ak_numel(Y);
  if (M * N != ak_numel(X)) return 1;
  if (M == 0) return 0;  // N == 0 still runs and writes zeros
  cudaStream_t stream = (cudaStream_t)call->stream;
  switch (X->dtype) {
    case AK_F16: return launch<__half>(X, Y, M, N, stream);
    case AK_BF16: return launch<__nv_bfloat16>(X, Y, M, N, stream);
    case AK_F32: return launch<float>(X, Y, M, N, stream);
    default: return 1;
  }
}
