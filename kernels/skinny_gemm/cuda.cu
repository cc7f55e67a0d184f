// @autokernel type=skinny_gemm
// y[M,N] = x[M,K] W[N,K]^T for a decode step's linear layer (M = 1..64 tokens), f32 accumulation. Memory-bound:
// the goal is to stream W once at the copy bandwidth; x (M*K, at most 64 x 14336) stays in L1/L2.
//
// Main path: each warp owns ROWS rows of W. Its lanes read those rows in 16-byte chunks (chunk c to lane
// c % 32, so a warp load is 512 contiguous bytes), UNROLL chunks per row in flight before any arithmetic.
// For each chunk of W the lane reads the same 16 bytes of MT rows of x (through L1, where the other warps
// of the SM find them too) and accumulates MT x ROWS dot products in f32 registers; a shuffle tree sums the
// lanes and one lane per value writes y. M is taken MT rows at a time (MT the power of two >= M, at most
// MT_MAX, a template parameter so the sums stay in registers): for M > MT_MAX a warp reads its rows of W
// again per tile of M, from L1/L2 (ROWS * K elements, a few KB), not from memory.
// SPLIT_K > 1 splits K into that many slices, one per block row of the grid, for when N alone gives too
// few warps to fill the GPU (k/v projections at M = 1): each slice writes f32 partial sums to a workspace
// from the stream-ordered pool (cudaMallocAsync / cudaFreeAsync on the call's stream: no sync), and a
// second kernel adds them and writes y.
// The vector path needs every row of x and W 16-byte aligned: K a multiple of 8 (f16/bf16) or 4 (f32) and
// aligned base pointers (every model's hidden sizes are). Otherwise a scalar kernel (any K, one element
// per lane per step) runs: correct, not fast. x, W and y share one dtype (f16, bf16 or f32).
// @knob WARPS=4 {2,4,8} warps per block
// @knob ROWS=2 {1,2,4} rows of W per warp
// @knob UNROLL=4 {1,2,4,8} 16-byte chunks of each row a lane has in flight
// @knob MT_MAX=8 {1,2,4,8} most rows of x per pass over W
// @knob W_NO_L1=1 {0,1} W loads: 1 ld.global.nc.L1::no_allocate (read once: leave L1 to x), 0 plain
// @knob SPLIT_K=1 {1,2,4,8} slices of K, each a block row of the grid (1: no workspace, no second kernel)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "autokernel/kernel_abi.h"

#ifndef WARPS
#define WARPS 4
#endif
#ifndef ROWS
#define ROWS 2
#endif
#ifndef UNROLL
#define UNROLL 4
#endif
#ifndef MT_MAX
#define MT_MAX 8
#endif
#ifndef W_NO_L1
#define W_NO_L1 1
#endif
#ifndef SPLIT_K
#define SPLIT_K 1
#endif

static_assert(WARPS >= 1 && WARPS <= 32, "WARPS: 1..32 (a block of at most 1024 threads)");
static_assert(ROWS >= 1 && ROWS <= 8, "ROWS: 1..8");
static_assert(UNROLL >= 1 && UNROLL <= 16, "UNROLL: 1..16");
static_assert(MT_MAX == 1 || MT_MAX == 2 || MT_MAX == 4 || MT_MAX == 8, "MT_MAX must be 1, 2, 4 or 8");
static_assert(W_NO_L1 == 0 || W_NO_L1 == 1, "W_NO_L1 must be 0 or 1");
static_assert(SPLIT_K >= 1 && SPLIT_K <= 64, "SPLIT_K: 1..64");

// @shared begin f32_convert: copied in other starters, every copy the same (tests/test_starter_regions.py)
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
// @shared end f32_convert

// @shared begin row_chunks: copied in other starters, every copy the same (tests/test_starter_regions.py)
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
// @shared end row_chunks

// ---- loads and sums --------------------------------------------------------------------------
__device__ __forceinline__ uint4 ld_w(const void* p) {
#if W_NO_L1
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
#else
  return __ldg(static_cast<const uint4*>(p));
#endif
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// acc[r][i] is row n0 + r of W against row m0 + i of x. Lane (r * MT + i) % 32 writes it: to y, or with
// SPLIT_K > 1 to the slice's f32 partial sums part[M, N].
template <typename T, int MT>
__device__ __forceinline__ void write_sums(float (&acc)[ROWS][MT], T* y, float* part, int m0, int n0, int M, int N,
                                           int lane) {
#pragma unroll
  for (int r = 0; r < ROWS; ++r) {
#pragma unroll
    for (int i = 0; i < MT; ++i) {
      const float v = warp_sum(acc[r][i]);
      const int m = m0 + i, n = n0 + r;
      if (lane == (r * MT + i) % 32 && m < M && n < N) {
        if (part)
          part[(size_t)m * N + n] = v;
        else
          y[(size_t)m * N + n] = from_f32<T>(v);
      }
    }
  }
}

// ---- the vector path ---------------------------------------------------------------------------
// Grid: x = blocks of WARPS * ROWS rows of W, y = slices of K. Chunks [c_begin, c_end) of every row.
template <typename T, int MT>
__global__ void __launch_bounds__(WARPS * 32)
    skinny_vec(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ y, float* __restrict__ ws, int M,
               int N, int K) {
  constexpr int E = kE<T>;
  const int lane = threadIdx.x & 31;
  const int n0 = (blockIdx.x * WARPS + threadIdx.x / 32) * ROWS;
  if (n0 >= N) return;
  const int chunks = K / E;
  const int per_slice = (chunks + gridDim.y - 1) / gridDim.y;
  const int c_begin = blockIdx.y * per_slice, c_end = min(chunks, c_begin + per_slice);
  float* part = ws ? ws + (size_t)blockIdx.y * M * N : nullptr;
  const T* wrow[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; ++r) wrow[r] = w + (size_t)min(n0 + r, N - 1) * K;  // rows past N: read, not written

  for (int m0 = 0; m0 < M; m0 += MT) {
    const T* xrow[MT];
#pragma unroll
    for (int i = 0; i < MT; ++i) xrow[i] = x + (size_t)min(m0 + i, M - 1) * K;
    float acc[ROWS][MT] = {};
    for (int c0 = c_begin + lane; c0 < c_end; c0 += 32 * UNROLL) {
      uint4 wv[ROWS][UNROLL];
#pragma unroll
      for (int u = 0; u < UNROLL; ++u) {
        const int c = c0 + u * 32;
#pragma unroll
        for (int r = 0; r < ROWS; ++r) wv[r][u] = c < c_end ? ld_w(wrow[r] + (size_t)c * E) : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int u = 0; u < UNROLL; ++u) {
        const int c = c0 + u * 32;
        if (c >= c_end) break;
        float wf[ROWS][E];
#pragma unroll
        for (int r = 0; r < ROWS; ++r) unpack<T>(wv[r][u], wf[r]);
#pragma unroll
        for (int i = 0; i < MT; ++i) {
          float xf[E];
          unpack<T>(__ldg(reinterpret_cast<const uint4*>(xrow[i] + (size_t)c * E)), xf);
#pragma unroll
          for (int r = 0; r < ROWS; ++r) {
#pragma unroll
            for (int e = 0; e < E; ++e) acc[r][i] = fmaf(wf[r][e], xf[e], acc[r][i]);
          }
        }
      }
    }
    write_sums<T, MT>(acc, y, part, m0, n0, M, N, lane);
  }
}

// SPLIT_K > 1: y = the sum of the slices' partial sums, in slice order (deterministic).
template <typename T>
__global__ void add_slices(const float* __restrict__ ws, T* __restrict__ y, int slices, size_t mn) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < mn; i += (size_t)gridDim.x * blockDim.x) {
    float s = 0.0f;
    for (int k = 0; k < slices; ++k) s += ws[k * mn + i];
    y[i] = from_f32<T>(s);
  }
}

// ---- the scalar path: any K, any alignment ----------------------------------------------------
template <typename T, int MT>
__global__ void __launch_bounds__(WARPS * 32)
    skinny_scalar(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ y, int M, int N, int K) {
  const int lane = threadIdx.x & 31;
  const int n0 = (blockIdx.x * WARPS + threadIdx.x / 32) * ROWS;
  if (n0 >= N) return;
  for (int m0 = 0; m0 < M; m0 += MT) {
    float acc[ROWS][MT] = {};
    for (int k = lane; k < K; k += 32) {
      float xf[MT];
#pragma unroll
      for (int i = 0; i < MT; ++i) xf[i] = to_f32(x[(size_t)min(m0 + i, M - 1) * K + k]);
#pragma unroll
      for (int r = 0; r < ROWS; ++r) {
        const float wk = to_f32(w[(size_t)min(n0 + r, N - 1) * K + k]);
#pragma unroll
        for (int i = 0; i < MT; ++i) acc[r][i] = fmaf(wk, xf[i], acc[r][i]);
      }
    }
    write_sums<T, MT>(acc, y, nullptr, m0, n0, M, N, lane);
  }
}

// ---- launch ----------------------------------------------------------------------------------
template <typename T, int MT>
int launch_mt(const T* x, const T* w, T* y, int M, int N, int K, bool vec, cudaStream_t stream) {
  const dim3 block(WARPS * 32);
  const int row_blocks = (N + WARPS * ROWS - 1) / (WARPS * ROWS);
  if (!vec) {
    skinny_scalar<T, MT><<<row_blocks, block, 0, stream>>>(x, w, y, M, N, K);
    return cudaGetLastError() == cudaSuccess ? 0 : 1;
  }
  const int slices = SPLIT_K < K / kE<T> ? SPLIT_K : (K / kE<T> > 0 ? K / kE<T> : 1);
  float* ws = nullptr;
  const size_t mn = (size_t)M * N;
  if (slices > 1 && cudaMallocAsync((void**)&ws, slices * mn * sizeof(float), stream) != cudaSuccess) return 1;
  skinny_vec<T, MT><<<dim3(row_blocks, slices), block, 0, stream>>>(x, w, y, ws, M, N, K);
  if (slices > 1) {
    const int blocks = (int)((mn + 255) / 256 < 4096 ? (mn + 255) / 256 : 4096);
    add_slices<T><<<blocks, 256, 0, stream>>>(ws, y, slices, mn);
    if (cudaFreeAsync(ws, stream) != cudaSuccess) return 1;
  }
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

template <typename T>
int launch(const ak_call* call, int M, int N, int K) {
  const T* x = static_cast<const T*>(call->inputs[0].data);
  const T* w = static_cast<const T*>(call->inputs[1].data);
  T* y = static_cast<T*>(call->outputs[0].data);
  const auto stream = static_cast<cudaStream_t>(call->stream);
  const bool vec = K % kE<T> == 0 && ((uintptr_t)x & 15u) == 0 && ((uintptr_t)w & 15u) == 0;
  const int mt = M >= MT_MAX ? MT_MAX : M > 4 ? 8 : M > 2 ? 4 : M;  // the power of two >= M, at most MT_MAX
  switch (mt) {
    case 1: return launch_mt<T, 1>(x, w, y, M, N, K, vec, stream);
#if MT_MAX >= 2
    case 2: return launch_mt<T, 2>(x, w, y, M, N, K, vec, stream);
#endif
#if MT_MAX >= 4
    case 4: return launch_mt<T, 4>(x, w, y, M, N, K, vec, stream);
#endif
#if MT_MAX >= 8
    case 8: return launch_mt<T, 8>(x, w, y, M, N, K, vec, stream);
#endif
    default: return 1;
  }
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 2 || call->n_outputs != 1) return 1;
  const ak_tensor *X = &call->inputs[0], *W = &call->inputs[1], *Y = &call->outputs[0];
  if (X->ndim != 2 || W->ndim != 2 || Y->ndim != 2) return 1;
  if (W->dtype != X->dtype || Y->dtype != X->dtype) return 1;
  const int64_t M = X->shape[0], K = X->shape[1], N = W->shape[0];
  if (W->shape[1] != K || Y->shape[0] != M || Y->shape[1] != N) return 1;
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) return 1;  // int indices; (size_t) offsets
  if (M == 0 || N == 0) return 0;
  if (K == 0) {
    return cudaMemsetAsync(Y->data, 0, (size_t)M * N * (X->dtype == AK_F32 ? 4 : 2),
                           static_cast<cudaStream_t>(call->stream)) == cudaSuccess ? 0 : 1;
  }
  switch (X->dtype) {
    case AK_F16: return launch<__half>(call, (int)M, (int)N, (int)K);
    case AK_BF16: return launch<__nv_bfloat16>(call, (int)M, (int)N, (int)K);
    case AK_F32: return launch<float>(call, (int)M, (int)N, (int)K);
    default: return 1;
  }
}
