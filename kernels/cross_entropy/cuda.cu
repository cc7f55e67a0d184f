// @autokernel type=cross_entropy
// loss[m] = logsumexp(logits[m,:]) - logits[m, target[m]], f32 loss. target < 0 gives 0 without
// reading the row; a target >= V gives NaN (the kernel cannot report it). Memory-bound: the goal is
// to read the logits once at full bandwidth.
//
// One pass: a group of G threads owns a row (one warp, ROWS_PER_BLOCK rows per block, when one
// pass of a warp covers it; else a block of up to THREADS threads). It walks the row in 16-byte
// chunks, chunk k to thread k % G (every warp load is 512 contiguous bytes), issuing UNROLL
// independent loads per thread before using any. Each thread keeps an online (max, sum of exp)
// pair, rescaled at most once per 32 values; the pairs are merged in a fixed shuffle tree (plus
// one shared-memory step across warps): deterministic, no atomics. The target logit is loaded by
// thread 0 at the start, so its latency hides under the row's.
// exp is ex2.approx of x*log2(e) - max*log2(e) (one FFMA + MUFU per element, 2 ulp); the rounding
// of the scaled max cancels between the exponents and the final log2(sum).
// Any V and any element-aligned logits: a row whose start is not 16-byte aligned (V not a multiple
// of 16 bytes, as GPT-2's 50257) is split into a scalar head up to the first aligned address,
// aligned chunks, and a scalar tail.
// @knob THREADS=128 {128,256,512,1024} threads per row (one block) for rows longer than one warp's pass
// @knob UNROLL=4 {1,2,4,8} 16-byte loads each thread issues before it uses them
// @knob ROWS_PER_BLOCK=4 {1,2,4,8,16} rows per block when one warp covers a row in one pass
// @knob LOAD_HINT=2 {0,1,2} logit loads: 0 plain, 1 ld.global.nc without L1 allocation, 2 that plus L2 evict-first
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <type_traits>

#include "autokernel/kernel_abi.h"

#ifndef THREADS
#define THREADS 128
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
static_assert(UNROLL == 1 || UNROLL == 2 || UNROLL == 4 || UNROLL == 8, "UNROLL must be 1, 2, 4 or 8");
static_assert(ROWS_PER_BLOCK >= 1 && ROWS_PER_BLOCK <= 32, "ROWS_PER_BLOCK: 1..32 (a block of at most 1024 threads)");
static_assert(LOAD_HINT >= 0 && LOAD_HINT <= 2, "LOAD_HINT must be 0, 1 or 2");

// ---- 16-byte chunks: loads, f32 conversion ------------------------------------------------
// @shared begin ld16_load_hint: copied in other starters, every copy the same (tests/test_starter_regions.py)
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
// @shared end ld16_load_hint
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

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

// A chunk of -inf (f32, f16 or bf16 bit patterns): adds nothing to the max or the sum of exp.
template <typename T> constexpr uint32_t kNegInf2 = sizeof(T) == 4 ? 0xff800000u
                                                  : std::is_same_v<T, __half> ? 0xfc00fc00u : 0xff80ff80u;
template <typename T> constexpr uint4 kNegInf = {kNegInf2<T>, kNegInf2<T>, kNegInf2<T>, kNegInf2<T>};

// ---- exp and the (max, sum) merge ------------------------------------------------------------
constexpr float kLog2e = 1.4426950408889634f, kLn2 = 0.6931471805599453f;
// @shared begin maxsum_merge: copied in other starters, every copy the same (tests/test_starter_regions.py)
__device__ __forceinline__ float ex2(float v) {  // 2^v; ex2(-inf) = 0
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
}
// Running softmax state in base 2: ms = max(x) * log2(e), s = sum of 2^(x*log2(e) - ms).
struct MaxSum {
  float ms, s;
};
// Symmetric in a and b (no FMA contraction), so both lanes of a butterfly get the same bits.
__device__ __forceinline__ MaxSum merge(MaxSum a, MaxSum b) {
  const float ms = fmaxf(a.ms, b.ms);
  if (ms == -INFINITY) return {ms, 0.0f};  // both empty: avoid -inf - -inf
  return {ms, __fadd_rn(__fmul_rn(a.s, ex2(a.ms - ms)), __fmul_rn(b.s, ex2(b.ms - ms)))};
}
__device__ __forceinline__ MaxSum warp_merge(MaxSum v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v = merge(v, {__shfl_xor_sync(0xffffffffu, v.ms, o), __shfl_xor_sync(0xffffffffu, v.s, o)});
  return v;
}
// Merge over the whole block (blockDim.x a multiple of 32): every thread gets the same result.
__device__ __forceinline__ MaxSum block_merge(MaxSum v, float2* red) {
  v = warp_merge(v);
  if (blockDim.x > 32) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) red[warp] = make_float2(v.ms, v.s);
    __syncthreads();
    const float2 p = lane < (int)blockDim.x / 32 ? red[lane] : make_float2(-INFINITY, 0.0f);
    v = warp_merge({p.x, p.y});
  }
  return v;
}
// @shared end maxsum_merge
// Fold B x E values (-inf for none) into the state with at most one rescale. Serial max and sum:
// pairwise trees would shorten the chains but cost ~10 registers, and occupancy matters more.
template <int B, int E> __device__ __forceinline__ MaxSum absorb(MaxSum st, const float (&f)[B][E]) {
  float cm = f[0][0];
#pragma unroll
  for (int u = 0; u < B; ++u)
#pragma unroll
    for (int j = 0; j < E; ++j) cm = fmaxf(cm, f[u][j]);
  const float ms = fmaxf(st.ms, cm * kLog2e);
  if (ms == -INFINITY) return st;
  float s = st.s * ex2(st.ms - ms);
#pragma unroll
  for (int u = 0; u < B; ++u)
#pragma unroll
    for (int j = 0; j < E; ++j) s += ex2(fmaf(f[u][j], kLog2e, -ms));
  return {ms, s};
}
// The same for U packed chunks, in batches of at most 32 values (one rescale each), so that the
// unpacked values never need more than 32 registers (UNROLL = 8 of f16 would be 64).
template <typename T, int U> __device__ __forceinline__ MaxSum absorb(MaxSum st, const uint4 (&v)[U]) {
  constexpr int E = kE<T>, B = 32 / E < U ? 32 / E : U;  // chunks per batch
  static_assert(U % B == 0, "UNROLL: a power of two");
#pragma unroll
  for (int u0 = 0; u0 < U; u0 += B) {
    float f[B][E];
#pragma unroll
    for (int u = 0; u < B; ++u) unpack<T>(v[u0 + u], f[u]);
    st = absorb(st, f);
  }
  return st;
}

// ---- kernel ----------------------------------------------------------------------------------
// kWarpRow: one warp per row, blockDim.x / 32 rows per block; else one row per block of G threads.
template <typename T, bool kWarpRow>
__global__ void __launch_bounds__(kWarpRow ? 32 * ROWS_PER_BLOCK : 1024, 1)
    cross_entropy_rows(const T* __restrict__ logits, const int64_t* __restrict__ target, float* __restrict__ loss,
                       int64_t M, int V) {
  constexpr int E = kE<T>;
  __shared__ float2 red[32];
  const int G = kWarpRow ? 32 : blockDim.x;
  const int lane = kWarpRow ? threadIdx.x % 32 : threadIdx.x;
  const int64_t row = kWarpRow ? (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32 : blockIdx.x;
  if (kWarpRow && row >= M) return;  // whole warps only; warp rows never __syncthreads
  const int64_t t = target[row];
  if (t < 0) {  // ignored: the whole group leaves together, before any barrier
    if (lane == 0) loss[row] = 0.0f;
    return;
  }
  const T* xr = logits + row * V;
  const float picked = lane == 0 && t < V ? to_f32(xr[t]) : 0.0f;
  const Split sp = split_row(xr, V);
  const T* xb = xr + sp.h;  // 16-byte aligned

  MaxSum st{-INFINITY, 0.0f};
  for (int k0 = lane; k0 < sp.nb; k0 += UNROLL * G) {
    uint4 v[UNROLL];  // all loads first, then the math; chunks past the row are -inf
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) v[u] = k0 + u * G < sp.nb ? ld16(xb + (k0 + u * G) * E) : kNegInf<T>;
    st = absorb<T>(st, v);
  }
  const float ht[1][2] = {{lane < sp.h ? to_f32(xr[lane]) : -INFINITY,  // the head and tail elements
                            lane < sp.t ? to_f32(xb[sp.nb * E + lane]) : -INFINITY}};
  st = absorb(st, ht);
  st = kWarpRow ? warp_merge(st) : block_merge(st, red);
  // loss = lse - picked in base 2: (ms - picked*log2(e)) is one rounding, with no cancellation of
  // two large numbers; log2(sum) carries the rounding of ms itself.
  if (lane == 0) loss[row] = t < V ? (fmaf(-picked, kLog2e, st.ms) + log2f(st.s)) * kLn2 : __int_as_float(0x7fc00000);
}

// ---- host ------------------------------------------------------------------------------------
template <typename T>
static int launch(const ak_call* call, int64_t M, int64_t V) {
  const T* logits = static_cast<const T*>(call->inputs[0].data);
  const int64_t* target = static_cast<const int64_t*>(call->inputs[1].data);
  float* loss = static_cast<float*>(call->outputs[0].data);
  cudaStream_t s = (cudaStream_t)call->stream;
  if (M > 0x7fffffff || V > 0x7fffffff / 2) return 1;
  const int64_t R = (V + kE<T> - 1) / kE<T>;  // chunks per row, at most
  if (R <= 32 * UNROLL) {
    cross_entropy_rows<T, true><<<(unsigned)((M + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK), 32 * ROWS_PER_BLOCK, 0, s>>>(
        logits, target, loss, M, (int)V);
  } else {
    const int64_t g = ((R + UNROLL - 1) / UNROLL + 31) / 32 * 32;  // no more threads than one pass needs
    cross_entropy_rows<T, false><<<(unsigned)M, (unsigned)(g < THREADS ? g : THREADS), 0, s>>>(logits, target, loss,
                                                                                              M, (int)V);
  }
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
