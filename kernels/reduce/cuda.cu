// @autokernel type=reduce
// y[M] = sum of x[M,N] over the last dim, f32 accumulation, y in x's dtype. Memory-bound: the goal
// is to read x once at full bandwidth.
//
// A group of G threads owns a row (G a power of two from 32 to THREADS; THREADS / G rows per block).
// It walks the row in 16-byte chunks, chunk k to thread k % G (every warp load is 512 contiguous
// bytes), issuing UNROLL independent loads per thread before adding any, so enough bytes are in
// flight to cover DRAM latency. ROW_THREADS=0 picks G per shape: the fewest threads (up to
// THREADS) that cover the row in one pass of UNROLL loads each. Each thread
// sums in f32; the group combines the partial sums in a fixed shuffle tree (plus one shared-memory
// step across its warps): deterministic, no atomics. Any N and any element-aligned x: a row whose
// start is not 16-byte aligned (N not a multiple of 16 bytes) is split into a scalar head up to
// the first aligned address, aligned chunks, and a scalar tail. N == 0 writes zeros. At most
// BLOCKS_PER_SM blocks share an SM (shared memory is reserved to cap them): on the H100, 4 blocks of
// 256 threads measured 90.9% and 97.6% of copy at 8192^2 and 16384x8192 bf16 against 88.5% and
// 92.7% uncapped (8 blocks): fewer rows read at once, each closer to a sequential stream. An x that
// fits the L2 (at most SMALL_L2_PCT % of it) takes SMALL_UNROLL, SMALL_BLOCKS_PER_SM and
// SMALL_LOAD_HINT instead: at 2048x4096 and 4096^2 bf16 no cap and UNROLL=2 measured 3-5% faster
// (bench/results/2026-11-25_*_membound/sweep3_small_rows.txt, ..._default_suite/sweep_small_rows.txt);
// loads through the plain path with a 256-byte L2 prefetch (hint 4) measured 2.6% faster at 4097x1537
// bf16 (9.88 against 10.15 us, four samples each) and level within 1% at 2048x4096 and 4096^2, but
// 0.7% slower at 16384x8192, so large rows keep hint 2 (..._idle_floor_membound/sweep_*.txt).
// @knob THREADS=256 {128,256,512,1024} threads per block
// @knob ROW_THREADS=0 {0,32,64,128,256,512} threads per row (0: chosen per shape, see above); above THREADS, the block is one row
// @knob UNROLL=4 {1,2,4,8} 16-byte loads each thread issues before it adds
// @knob LOAD_HINT=2 {0,1,2,3,4} x loads: 0 plain, 1 ld.global.nc without L1 allocation, 2 that plus L2 evict-first, 3 L2 evict-last, 4 plain ld.global with L2 evict-first and a 256-byte L2 prefetch
// @knob BLOCKS_PER_SM=4 {0,1,2,3,4,5,6,8} most blocks resident per SM (0: no cap), by reserving shared memory
// @knob SMALL_L2_PCT=75 {0,50,75,100} x at most this % of the L2: SMALL_UNROLL, SMALL_BLOCKS_PER_SM and SMALL_LOAD_HINT instead (0: never)
// @knob SMALL_UNROLL=2 {1,2,4,8} UNROLL where x fits the L2 (SMALL_L2_PCT)
// @knob SMALL_BLOCKS_PER_SM=0 {0,2,4,8} BLOCKS_PER_SM where x fits the L2 (SMALL_L2_PCT)
// @knob SMALL_LOAD_HINT=4 {0,1,2,3,4} LOAD_HINT where x fits the L2 (SMALL_L2_PCT)
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
#ifndef ROW_THREADS
#define ROW_THREADS 0
#endif
#ifndef LOAD_HINT
#define LOAD_HINT 2
#endif
#ifndef BLOCKS_PER_SM
#define BLOCKS_PER_SM 4
#endif
#ifndef SMALL_L2_PCT
#define SMALL_L2_PCT 75
#endif
#ifndef SMALL_UNROLL
#define SMALL_UNROLL 2
#endif
#ifndef SMALL_BLOCKS_PER_SM
#define SMALL_BLOCKS_PER_SM 0
#endif
#ifndef SMALL_LOAD_HINT
#define SMALL_LOAD_HINT 4
#endif

static_assert(THREADS % 32 == 0 && THREADS >= 32 && THREADS <= 1024, "THREADS: whole warps, <= 1024");
static_assert(UNROLL >= 1 && UNROLL <= 16, "UNROLL: 1..16");
static_assert(ROW_THREADS == 0 || (ROW_THREADS >= 32 && ROW_THREADS <= 1024 && (ROW_THREADS & (ROW_THREADS - 1)) == 0),
              "ROW_THREADS: 0 or a power of two from 32 to 1024");
static_assert(LOAD_HINT >= 0 && LOAD_HINT <= 4, "LOAD_HINT: 0..4");
static_assert(SMALL_LOAD_HINT >= 0 && SMALL_LOAD_HINT <= 4, "SMALL_LOAD_HINT: 0..4");
static_assert(BLOCKS_PER_SM >= 0 && BLOCKS_PER_SM <= 32, "BLOCKS_PER_SM: 0..32");
static_assert(SMALL_L2_PCT >= 0 && SMALL_L2_PCT <= 1000, "SMALL_L2_PCT: 0..1000");
static_assert(SMALL_UNROLL >= 1 && SMALL_UNROLL <= 16, "SMALL_UNROLL: 1..16");
static_assert(SMALL_BLOCKS_PER_SM >= 0 && SMALL_BLOCKS_PER_SM <= 32, "SMALL_BLOCKS_PER_SM: 0..32");

// ---- 16-byte chunks: loads, f32 conversion ------------------------------------------------
// H: the LOAD_HINT value (LOAD_HINT or SMALL_LOAD_HINT, picked per launch: see SMALL_L2_PCT).
template <int H>
__device__ __forceinline__ uint4 ld16(const void* p) {
  uint4 r;
  if constexpr (H == 0) {
    r = *static_cast<const uint4*>(p);
  } else if constexpr (H == 1) {
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  } else {
#if __CUDA_ARCH__ >= 800
    uint64_t policy;
    if constexpr (H == 2) {  // L2 evict-first for every line this load brings in
      asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
      asm volatile("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
                   : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p), "l"(policy));
    } else if constexpr (H == 3) {  // L2 evict-last, as torch.compile's first pass over a row
      asm("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(policy));
      asm volatile("ld.global.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
                   : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p), "l"(policy));
    } else {  // L2 evict-first through the plain (not .nc) path, with a 256-byte L2 prefetch
      asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
      asm volatile("ld.global.L2::cache_hint.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
                   : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p), "l"(policy));
    }
#else
    r = __ldg(static_cast<const uint4*>(p));
#endif
  }
  return r;
}
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


// ---- kernel ----------------------------------------------------------------------------------
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// G threads per row, blockDim.x / G rows per block, U loads in flight per thread, loads with hint H.
template <typename T, int G, int U, int H>
__global__ void __launch_bounds__(1024) reduce_rows(const T* __restrict__ x, T* __restrict__ y, int64_t M, int N) {
  constexpr int E = kE<T>;
  __shared__ float red[32];
  const int lane = threadIdx.x % G;
  const int64_t row = (int64_t)blockIdx.x * (blockDim.x / G) + threadIdx.x / G;
  const bool live = row < M;
  if (G <= 32 && !live) return;  // groups within one warp never __syncthreads
  float acc = 0.0f;
  if (live) {
    const T* xr = x + row * N;
    const Split sp = split_row(xr, N);
    const T* xb = xr + sp.h;  // 16-byte aligned
    for (int k0 = lane; k0 < sp.nb; k0 += U * G) {
      uint4 v[U];  // all loads first, then the adds
#pragma unroll
      for (int u = 0; u < U; ++u)
        v[u] = k0 + u * G < sp.nb ? ld16<H>(xb + (k0 + u * G) * E) : make_uint4(0, 0, 0, 0);  // zeros add nothing
#pragma unroll
      for (int u = 0; u < U; ++u) {
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
  }
  acc = warp_sum(acc);
  if constexpr (G > 32) {  // the group's warps, in a fixed order
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = acc;
    __syncthreads();
    if (lane == 0 && live) {
      acc = 0.0f;
#pragma unroll
      for (int w = 0; w < G / 32; ++w) acc += red[threadIdx.x / 32 + w];
    }
  }
  if (lane == 0 && live) y[row] = from_f32<T>(acc);
}

// ---- host ------------------------------------------------------------------------------------
// Threads per row for a row of R chunks and u loads per thread (see the header).
static int row_threads(int64_t R, int u) {
  if (ROW_THREADS) return ROW_THREADS;
  int g = 32;
  while (g < THREADS && (int64_t)g * u < R) g *= 2;
  return g;
}

// Whether x (bytes) fills at most SMALL_L2_PCT % of the L2.
// @shared begin fits_l2: copied in other starters, every copy the same (tests/test_starter_regions.py)
static bool fits_l2(int64_t bytes) {
  if (SMALL_L2_PCT == 0) return false;
  int dev = 0, l2 = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev);
  return bytes * 100 <= (int64_t)l2 * SMALL_L2_PCT;
}
// @shared end fits_l2

// Dynamic shared memory that leaves room for at most cap blocks on an SM (0: no cap).
template <typename K>
static size_t occupancy_cap_smem(K kernel, int cap) {
  if (cap == 0) return 0;
  int dev = 0, per_sm = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev);
  const size_t bytes = (size_t)per_sm / cap - 1024 - 32 * sizeof(float);  // 1 KB: the per-block reserve
  cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
  return bytes;
}

template <typename T, int G, int U, int H>
static void launch_gu(const T* x, T* y, int64_t M, int N, int cap, cudaStream_t s) {
  const int block = G > THREADS ? G : THREADS, rows = block / G;
  auto k = reduce_rows<T, G, U, H>;
  k<<<(unsigned)((M + rows - 1) / rows), block, occupancy_cap_smem(k, cap), s>>>(x, y, M, N);
}
template <typename T, int G>
static void launch_g(const T* x, T* y, int64_t M, int N, bool small, cudaStream_t s) {
  if (small)
    launch_gu<T, G, SMALL_UNROLL, SMALL_LOAD_HINT>(x, y, M, N, SMALL_BLOCKS_PER_SM, s);
  else
    launch_gu<T, G, UNROLL, LOAD_HINT>(x, y, M, N, BLOCKS_PER_SM, s);
}

template <typename T>
static int launch(const ak_tensor* X, const ak_tensor* Y, int64_t M, int64_t N, cudaStream_t s) {
  const T* x = static_cast<const T*>(X->data);
  T* y = static_cast<T*>(Y->data);
  if (M > 0x7fffffff || N > 0x7fffffff / 2) return 1;
  const bool small = fits_l2(M * N * (int64_t)sizeof(T));
  switch (row_threads((N + kE<T> - 1) / kE<T>, small ? SMALL_UNROLL : UNROLL)) {
    case 32: launch_g<T, 32>(x, y, M, (int)N, small, s); break;
    case 64: launch_g<T, 64>(x, y, M, (int)N, small, s); break;
    case 128: launch_g<T, 128>(x, y, M, (int)N, small, s); break;
    case 256: launch_g<T, 256>(x, y, M, (int)N, small, s); break;
    case 512: launch_g<T, 512>(x, y, M, (int)N, small, s); break;
    default: launch_g<T, 1024>(x, y, M, (int)N, small, s); break;
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
