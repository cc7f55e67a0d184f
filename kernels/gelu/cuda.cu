// @autokernel type=gelu
// y = gelu(x) elementwise, f32 math; approximate 0: 0.5 x erfc(-x / sqrt(2)) (the exact GELU), 1: the
// tanh form 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as x / (1 + exp(-2u)).
// Both are the definition rewritten so that negative x does not cancel 1 + erf or 1 + tanh to the last
// bits of f32, and large |x| saturates cleanly (x^3 is f32: inf past 7e12, which gives y = x or -0).
// Memory-bound: the goal is to move each byte once, x read and y written as a copy would.
//
// One flat pass over the M*N contiguous elements: each thread takes CHUNKS 16-byte chunks per step of a
// grid-stride loop, issuing all its loads before any math. The grid is capped at BLOCKS_PER_SM blocks
// per SM. Any N and any element-aligned x, y: elements before x's first 16-byte boundary (a head of
// fewer than 16 bytes) and after its last whole chunk (a tail) are done one by one; x and y of
// different address mod 16 take a scalar grid-stride kernel.
// @knob CHUNKS=4 {1,2,4,8} 16-byte chunks each thread loads before it computes
// @knob THREADS=256 {128,256,512,1024} threads per block
// @knob BLOCKS_PER_SM=8 {0,2,4,8,16} most blocks per SM in the grid (0: one chunk group per thread, no grid-stride)
// @knob FAST_EXP=0 {0,1} 1: __expf in the tanh form (fewer instructions; 2 ulp + 1.16 |2u| ulp instead of 2)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "autokernel/kernel_abi.h"

#ifndef CHUNKS
#define CHUNKS 4
#endif
#ifndef THREADS
#define THREADS 256
#endif
#ifndef BLOCKS_PER_SM
#define BLOCKS_PER_SM 8
#endif
#ifndef FAST_EXP
#define FAST_EXP 0
#endif

static_assert(CHUNKS == 1 || CHUNKS == 2 || CHUNKS == 4 || CHUNKS == 8, "CHUNKS must be 1, 2, 4 or 8");
static_assert(THREADS % 32 == 0 && THREADS >= 32 && THREADS <= 1024, "THREADS: warps, <= 1024");
static_assert(BLOCKS_PER_SM >= 0 && BLOCKS_PER_SM <= 32, "BLOCKS_PER_SM: 0..32");
static_assert(FAST_EXP == 0 || FAST_EXP == 1, "FAST_EXP must be 0 or 1");

// ---- 16-byte chunks: f32 conversion, unpack, pack ---------------------------------------------
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

// @shared begin chunk_pack: copied in other starters, every copy the same (tests/test_starter_regions.py)
// The reverse of unpack: kE f32 values rounded to T (nearest even) and packed into a chunk.
__device__ __forceinline__ uint32_t pack2(float lo, float hi, __nv_bfloat16) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // one cvt for both on sm_80+
  uint32_t r;
  memcpy(&r, &v, sizeof r);
  return r;
}
__device__ __forceinline__ uint32_t pack2(float lo, float hi, __half) {
  const __half2 v = __floats2half2_rn(lo, hi);
  uint32_t r;
  memcpy(&r, &v, sizeof r);
  return r;
}
template <typename T> __device__ __forceinline__ uint4 pack(const float (&f)[kE<T>]) {
  if constexpr (sizeof(T) == 4) {
    return make_uint4(__float_as_uint(f[0]), __float_as_uint(f[1]), __float_as_uint(f[2]), __float_as_uint(f[3]));
  } else {
    return make_uint4(pack2(f[0], f[1], T()), pack2(f[2], f[3], T()), pack2(f[4], f[5], T()), pack2(f[6], f[7], T()));
  }
}
// @shared end chunk_pack

// ---- the function -------------------------------------------------------------------------------
template <bool kTanh>
__device__ __forceinline__ float gelu(float x) {
  if constexpr (kTanh) {
    const float u = 0.7978845608028654f * fmaf(0.044715f * x, x * x, x);  // sqrt(2/pi) (x + 0.044715 x^3)
#if FAST_EXP
    return __fdividef(x, 1.0f + __expf(-2.0f * u));
#else
    return x / (1.0f + expf(-2.0f * u));
#endif
  } else {
    return 0.5f * x * erfcf(-0.7071067811865476f * x);
  }
}

// ---- kernels ------------------------------------------------------------------------------------
// nb chunks from x (16-byte aligned) to y (likewise), CHUNKS per thread per step, grid-stride.
template <typename T, bool kTanh>
__global__ void __launch_bounds__(THREADS) gelu_chunks(const T* __restrict__ x, T* __restrict__ y, int64_t nb) {
  constexpr int E = kE<T>;
  const int64_t step = (int64_t)gridDim.x * THREADS * CHUNKS;
  for (int64_t base = (int64_t)blockIdx.x * THREADS * CHUNKS + threadIdx.x; base < nb; base += step) {
    uint4 v[CHUNKS];  // chunk c of this thread is base + c * THREADS: each warp load is 512 contiguous bytes
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
      const int64_t k = base + (int64_t)c * THREADS;
      v[c] = k < nb ? __ldg(reinterpret_cast<const uint4*>(x + k * E)) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) {
      const int64_t k = base + (int64_t)c * THREADS;
      if (k < nb) {
        float f[E];
        unpack<T>(v[c], f);
#pragma unroll
        for (int j = 0; j < E; ++j) f[j] = gelu<kTanh>(f[j]);
        *reinterpret_cast<uint4*>(y + k * E) = pack<T>(f);
      }
    }
  }
}

// Elements [0, n) one by one, grid-stride: the head and tail of the chunk path, or x and y misaligned
// to each other.
template <typename T, bool kTanh>
__global__ void __launch_bounds__(THREADS) gelu_scalar(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  for (int64_t i = (int64_t)blockIdx.x * THREADS + threadIdx.x; i < n; i += (int64_t)gridDim.x * THREADS)
    y[i] = from_f32<T>(gelu<kTanh>(to_f32(x[i])));
}

// ---- host ---------------------------------------------------------------------------------------
// Blocks for `work` items of `per_block` each: all of them, or at most BLOCKS_PER_SM per SM.
static unsigned grid_for(int64_t work, int64_t per_block) {
  int64_t blocks = (work + per_block - 1) / per_block;
  if (BLOCKS_PER_SM > 0) {
    int dev = 0, sms = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    blocks = blocks < (int64_t)sms * BLOCKS_PER_SM ? blocks : (int64_t)sms * BLOCKS_PER_SM;
  }
  return (unsigned)(blocks < 0x7fffffff ? blocks : 0x7fffffff);
}

template <typename T, bool kTanh>
static void launch(const T* x, T* y, int64_t n, cudaStream_t s) {
  constexpr int E = kE<T>;
  if (((uintptr_t)x & 15) != ((uintptr_t)y & 15)) {
    gelu_scalar<T, kTanh><<<grid_for(n, THREADS), THREADS, 0, s>>>(x, y, n);
    return;
  }
  int64_t h = (int64_t)((16u - ((unsigned)(uintptr_t)x & 15u)) & 15u) / (int64_t)sizeof(T);
  h = h < n ? h : n;
  const int64_t nb = (n - h) / E, t = n - h - nb * E;
  if (nb > 0) gelu_chunks<T, kTanh><<<grid_for(nb, (int64_t)THREADS * CHUNKS), THREADS, 0, s>>>(x + h, y + h, nb);
  if (h > 0) gelu_scalar<T, kTanh><<<1, THREADS, 0, s>>>(x, y, h);
  if (t > 0) gelu_scalar<T, kTanh><<<1, THREADS, 0, s>>>(x + h + nb * E, y + h + nb * E, t);
}

template <typename T>
static int run(const ak_call* call, int64_t n, bool tanh_form) {
  const T* x = static_cast<const T*>(call->inputs[0].data);
  T* y = static_cast<T*>(call->outputs[0].data);
  cudaStream_t s = (cudaStream_t)call->stream;
  if (tanh_form)
    launch<T, true>(x, y, n, s);
  else
    launch<T, false>(x, y, n, s);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 1 || call->n_outputs != 1 || call->n_scalars < 1) return 1;
  const ak_tensor *X = &call->inputs[0], *Y = &call->outputs[0];
  const double approximate = call->scalars[0];
  if (Y->dtype != X->dtype || ak_numel(Y) != ak_numel(X) || (approximate != 0 && approximate != 1)) return 1;
  const int64_t n = ak_numel(X);
  if (n == 0) return 0;
  switch (X->dtype) {
    case AK_F16: return run<__half>(call, n, approximate == 1);
    case AK_BF16: return run<__nv_bfloat16>(call, n, approximate == 1);
    case AK_F32: return run<float>(call, n, approximate == 1);
    default: return 1;
  }
}
