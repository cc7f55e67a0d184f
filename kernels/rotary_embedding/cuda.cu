// @autokernel type=rotary_embedding
// Rotary embedding of q[B,H,S,D] and k[B,HKV,S,D] in one launch. Pair i of a row at position s turns by
// theta[s,i] (cos/sin given as [S, D/2]):
//   first' = first cos[s,i] - second sin[s,i],  second' = first sin[s,i] + second cos[s,i],
// where the pair is (x[2i], x[2i+1]) for style 0 (interleaved, Meta's LLaMA) and (x[i], x[i+D/2]) for
// style 1 (rotate-half, Hugging Face / GPT-NeoX); style is the one scalar, and each style has its own
// instantiation of the kernels. Element-wise, math in f32. The launch covers q's B*H*S rows followed by
// k's B*HKV*S rows: a thread picks q or k by its index (q's rows are a whole number of S, so the
// position is row % S either way).
// Layouts (kernel_abi.h): a row (b, h, s) of q, k, q_out and k_out is found through that tensor's own
// strides (the last dim's must be 1, else the call is refused), so q and k may be transposed [B,S,H,D] or
// packed qkv views and the outputs are written in the order they are given ([B,S,H,D] by the harness).
// Fast path (q, k and the outputs 16-byte aligned, a row a whole number of 16-byte chunks, for style 1
// each half of a row, and every stride a multiple of 16 bytes): each thread moves CHUNKS_PER_THREAD units
// spaced one block apart (a warp touches consecutive chunks of a row), a unit being one 16-byte chunk of
// interleaved pairs (style 0) or chunk j of a row's first half together with chunk j of its second half
// (style 1); the row and place of a unit come from one 32-bit division, the row's (b, h, s) from two more.
// Otherwise each thread rotates PAIRS_PER_THREAD pairs, for style 0 a pair as one 4/8-byte access when
// aligned. cos/sin may be f16, bf16 or f32 (any mix; they are small and stay in cache).
// Returns non-zero for odd D or a style other than 0 or 1.
// @knob BLOCK=256 {128,256,512,1024} threads per block
// @knob CHUNKS_PER_THREAD=2 {1,2,4} units rotated by each thread (fast path): 16-byte chunks, for style 1 chunk pairs
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

// Element i of a cos/sin table whose dtype is only known at run time (uniform branch).
__device__ __forceinline__ float load_table(const void* p, int dtype, int64_t i) {
  switch (dtype) {
    case AK_F16: return __half2float(static_cast<const __half*>(p)[i]);
    case AK_BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

template <typename T> struct alignas(2 * sizeof(T)) Pair { T a, b; };

// Where row (b, h, s) of a [B, heads, S, D] tensor starts, in elements: its strides (the last dim's is 1).
struct Rows {
  int64_t sb, sh, ss;  // batch, head and row strides
  uint32_t heads;
  // Row r of the tensor's B*heads*S (its position s = r % S, given).
  __device__ __forceinline__ int64_t at(uint32_t r, uint32_t S, uint32_t s) const {
    const uint32_t bh = r / S, b = bh / heads;
    return (int64_t)b * sb + (int64_t)(bh - b * heads) * sh + (int64_t)s * ss;
  }
};

// q, k and their outputs: a pointer pair chosen per thread by the index's side of the q/k boundary.
template <typename T> struct QK {
  const T* __restrict__ q;
  const T* __restrict__ k;
  T* __restrict__ q_out;
  T* __restrict__ k_out;
  Rows qr, kr, q_out_r, k_out_r;
};

// ---- fallback: one pair at a time ----------------------------------------------------------
template <typename T, int kStyle, bool kPairAccess>
__global__ void __launch_bounds__(BLOCK)
    rotary_kernel(QK<T> t, const void* __restrict__ cos_tab, int cos_dtype, const void* __restrict__ sin_tab,
                  int sin_dtype, int64_t q_pairs, int64_t n_pairs, int64_t half, int64_t S) {
  const int64_t first = (int64_t)blockIdx.x * BLOCK * PAIRS_PER_THREAD + threadIdx.x;
#pragma unroll
  for (int j = 0; j < PAIRS_PER_THREAD; ++j) {
    const int64_t p = first + (int64_t)j * BLOCK;  // pair index in q then k, viewed as [rows, D/2]
    if (p >= n_pairs) break;
    const bool is_q = p < q_pairs;
    const T* x = is_q ? t.q : t.k;
    T* y = is_q ? t.q_out : t.k_out;
    const int64_t pl = is_q ? p : p - q_pairs;  // pair index within its own tensor
    const int64_t i = pl % half, row = pl / half, s = row % S;
    const float c = load_table(cos_tab, cos_dtype, s * half + i);
    const float sn = load_table(sin_tab, sin_dtype, s * half + i);
    // Where the pair's two elements are in the row: adjacent (style 0) or half a row apart (style 1).
    const int64_t a = kStyle == 0 ? 2 * i : i, b = kStyle == 0 ? a + 1 : a + half;
    const int64_t xr = (is_q ? t.qr : t.kr).at((uint32_t)row, (uint32_t)S, (uint32_t)s);
    const int64_t yr = (is_q ? t.q_out_r : t.k_out_r).at((uint32_t)row, (uint32_t)S, (uint32_t)s);
    float x0, x1;
    if constexpr (kPairAccess) {
      const Pair<T> v = *reinterpret_cast<const Pair<T>*>(x + xr + a);
      x0 = to_f32(v.a), x1 = to_f32(v.b);
    } else {
      x0 = to_f32(x[xr + a]), x1 = to_f32(x[xr + b]);
    }
    const T y0 = from_f32<T>(x0 * c - x1 * sn), y1 = from_f32<T>(x0 * sn + x1 * c);
    if constexpr (kPairAccess) {
      *reinterpret_cast<Pair<T>*>(y + yr + a) = Pair<T>{y0, y1};
    } else {
      y[yr + a] = y0, y[yr + b] = y1;
    }
  }
}

// ---- fast path: 16-byte chunks -------------------------------------------------------------
// 16 bytes of x: kElems elements (style 0: kElems / 2 interleaved pairs).
template <typename T> struct alignas(16) Chunk {
  static constexpr int kElems = 16 / sizeof(T);
  T v[kElems];
};

// kRun consecutive table entries: one 4/8/16-byte access when the tables have x's dtype, else one by one.
template <typename T, bool kTablesLikeX, int kRun> struct TableRun {
  float v[kRun];
  __device__ __forceinline__ void load(const void* tab, int dtype, uint32_t t0) {
    if constexpr (kTablesLikeX) {
      struct alignas(sizeof(T) * kRun) Raw { T e[kRun]; };
      const Raw r = reinterpret_cast<const Raw*>(tab)[t0 / kRun];
#pragma unroll
      for (int j = 0; j < kRun; ++j) v[j] = to_f32(r.e[j]);
    } else {
#pragma unroll
      for (int j = 0; j < kRun; ++j) v[j] = load_table(tab, dtype, t0 + j);
    }
  }
};

// A unit is one chunk (style 0) or two, chunk j of each half of a row (style 1); units_per_row counts them.
// Units run over q's rows, then k's: unit u is in row u / units_per_row of the two tensors end to end, of
// which the first q_rows are q's.
template <typename T, int kStyle, bool kTablesLikeX>
__global__ void __launch_bounds__(BLOCK)
    rotary_chunk_kernel(QK<T> t, const void* __restrict__ cos_tab, int cos_dtype, const void* __restrict__ sin_tab,
                        int sin_dtype, uint32_t n_units, uint32_t units_per_row, uint32_t q_rows, uint32_t S,
                        uint32_t half) {
  constexpr int kElems = Chunk<T>::kElems;
  constexpr int kParts = kStyle == 0 ? 1 : 2;                // chunks per unit
  constexpr int kRun = kStyle == 0 ? kElems / 2 : kElems;    // pairs (table entries) per unit
  const uint32_t first = blockIdx.x * (uint32_t)(BLOCK * CHUNKS_PER_THREAD) + threadIdx.x;
  Chunk<T> in[CHUNKS_PER_THREAD][kParts];
#pragma unroll
  for (int j = 0; j < CHUNKS_PER_THREAD; ++j) {  // all loads first: CHUNKS_PER_THREAD x kParts x 16 B in flight
    const uint32_t u = first + j * BLOCK;
    if (u >= n_units) continue;
    const uint32_t row = u / units_per_row, within = u - row * units_per_row;
    const bool is_q = row < q_rows;
    const uint32_t r = is_q ? row : row - q_rows, s = r % S;  // the row within its own tensor, its position
    const T* x = (is_q ? t.q : t.k) + (is_q ? t.qr : t.kr).at(r, S, s) + within * kElems;
#pragma unroll
    for (int part = 0; part < kParts; ++part) in[j][part] = *reinterpret_cast<const Chunk<T>*>(x + part * half);
  }
#pragma unroll
  for (int j = 0; j < CHUNKS_PER_THREAD; ++j) {
    const uint32_t u = first + j * BLOCK;
    if (u >= n_units) break;
    const uint32_t row = u / units_per_row, within = u - row * units_per_row;
    const bool is_q = row < q_rows;
    const uint32_t r = is_q ? row : row - q_rows, s = r % S;
    const uint32_t t0 = s * half + within * kRun;  // the unit's first entry in the [S, D/2] tables
    TableRun<T, kTablesLikeX, kRun> cs_run, sn_run;
    cs_run.load(cos_tab, cos_dtype, t0);
    sn_run.load(sin_tab, sin_dtype, t0);
    Chunk<T> out[kParts];
    if constexpr (kStyle == 0) {
#pragma unroll
      for (int e = 0; e < kRun; ++e) {
        const float cs = cs_run.v[e], sn = sn_run.v[e];
        const float x0 = to_f32(in[j][0].v[2 * e]), x1 = to_f32(in[j][0].v[2 * e + 1]);
        out[0].v[2 * e] = from_f32<T>(x0 * cs - x1 * sn);
        out[0].v[2 * e + 1] = from_f32<T>(x0 * sn + x1 * cs);
      }
    } else {
#pragma unroll
      for (int e = 0; e < kRun; ++e) {
        const float cs = cs_run.v[e], sn = sn_run.v[e];
        const float x0 = to_f32(in[j][0].v[e]), x1 = to_f32(in[j][1].v[e]);
        out[0].v[e] = from_f32<T>(x0 * cs - x1 * sn);
        out[1].v[e] = from_f32<T>(x0 * sn + x1 * cs);
      }
    }
    T* y = (is_q ? t.q_out : t.k_out) + (is_q ? t.q_out_r : t.k_out_r).at(r, S, s) + within * kElems;
#pragma unroll
    for (int part = 0; part < kParts; ++part) *reinterpret_cast<Chunk<T>*>(y + part * half) = out[part];
  }
}

template <typename T, int kStyle>
static int launch(const ak_call* call) {
  const ak_tensor *Q = &call->inputs[0], *K = &call->inputs[1], *C = &call->inputs[2], *Sn = &call->inputs[3];
  const ak_tensor *QO = &call->outputs[0], *KO = &call->outputs[1];
  auto rows = [](const ak_tensor* x) { return Rows{x->stride[0], x->stride[1], x->stride[2], (uint32_t)x->shape[1]}; };
  const QK<T> t{static_cast<const T*>(Q->data), static_cast<const T*>(K->data), static_cast<T*>(QO->data),
                static_cast<T*>(KO->data), rows(Q), rows(K), rows(QO), rows(KO)};
  const int64_t S = Q->shape[2], D = Q->shape[3], half = D / 2;
  const int64_t q_elems = ak_numel(Q), n_elems = q_elems + ak_numel(K);
  cudaStream_t stream = (cudaStream_t)call->stream;
  // Every pointer and every row, head and batch stride a multiple of `a` bytes.
  auto aligned = [&](uintptr_t a) {
    uintptr_t bits = (uintptr_t)t.q | (uintptr_t)t.k | (uintptr_t)t.q_out | (uintptr_t)t.k_out;
    for (const ak_tensor* x : {Q, K, QO, KO})
      for (int d = 0; d < 3; ++d) bits |= (uintptr_t)(x->stride[d] * (int64_t)sizeof(T));
    return bits % a == 0;
  };
  // Fast path: whole 16-byte chunks per row (style 0) or per half row (style 1).
  const int64_t unit_bytes = (kStyle == 0 ? D : half) * (int64_t)sizeof(T);
  const int64_t n_chunks = n_elems * (int64_t)sizeof(T) / 16;
  if (aligned(16) && unit_bytes % 16 == 0 && n_chunks < 0x7fffffffLL && S * half < 0x7fffffffLL) {
    constexpr int kRun = kStyle == 0 ? Chunk<T>::kElems / 2 : Chunk<T>::kElems;
    const int64_t n_units = kStyle == 0 ? n_chunks : n_chunks / 2;
    const int64_t units_per_row = kStyle == 0 ? D * (int64_t)sizeof(T) / 16 : half * (int64_t)sizeof(T) / 16;
    const int64_t per_block = (int64_t)BLOCK * CHUNKS_PER_THREAD;
    const int64_t blocks = (n_units + per_block - 1) / per_block;
    // A run of kRun table entries starts at a multiple of kRun (half is a multiple of it here).
    const uintptr_t run_bytes = sizeof(T) * kRun;
    const bool tables_like_x = C->dtype == Q->dtype && Sn->dtype == Q->dtype && (uintptr_t)C->data % run_bytes == 0 &&
                               (uintptr_t)Sn->data % run_bytes == 0;
    auto kernel = tables_like_x ? rotary_chunk_kernel<T, kStyle, true> : rotary_chunk_kernel<T, kStyle, false>;
    kernel<<<(unsigned)blocks, BLOCK, 0, stream>>>(t, C->data, C->dtype, Sn->data, Sn->dtype, (uint32_t)n_units,
                                                   (uint32_t)units_per_row, (uint32_t)(q_elems / D), (uint32_t)S,
                                                   (uint32_t)half);
    return cudaGetLastError() == cudaSuccess ? 0 : 1;
  }
  const int64_t q_pairs = q_elems / 2, n_pairs = n_elems / 2;
  const int64_t per_block = (int64_t)BLOCK * PAIRS_PER_THREAD;
  const int64_t blocks = (n_pairs + per_block - 1) / per_block;
  if (blocks > 0x7fffffff || n_elems / D > 0x7fffffffLL) return 1;  // rows: 32-bit in Rows::at
  if (kStyle == 0 && aligned(2 * sizeof(T)))
    rotary_kernel<T, kStyle, true><<<(unsigned)blocks, BLOCK, 0, stream>>>(t, C->data, C->dtype, Sn->data, Sn->dtype,
                                                                           q_pairs, n_pairs, half, S);
  else
    rotary_kernel<T, kStyle, false><<<(unsigned)blocks, BLOCK, 0, stream>>>(t, C->data, C->dtype, Sn->data, Sn->dtype,
                                                                            q_pairs, n_pairs, half, S);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

template <typename T>
static int launch_style(const ak_call* call, double style) {
  return style == 0 ? launch<T, 0>(call) : launch<T, 1>(call);
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 4 || call->n_outputs != 2 || call->n_scalars < 1) return 1;
  const ak_tensor *Q = &call->inputs[0], *K = &call->inputs[1], *C = &call->inputs[2], *Sn = &call->inputs[3];
  const ak_tensor *QO = &call->outputs[0], *KO = &call->outputs[1];
  const double style = call->scalars[0];
  if (style != 0 && style != 1) return 1;
  if (Q->ndim != 4 || K->ndim != 4 || K->dtype != Q->dtype || QO->dtype != Q->dtype || KO->dtype != Q->dtype) return 1;
  if (QO->ndim != 4 || KO->ndim != 4) return 1;
  for (int d = 0; d < 4; ++d)
    if (QO->shape[d] != Q->shape[d] || KO->shape[d] != K->shape[d]) return 1;
  for (const ak_tensor* x : {Q, K, QO, KO})  // kernel_abi.h: any strides, the last dim's 1
    if (x->stride[3] != 1 || x->stride[0] < 0 || x->stride[1] < 0 || x->stride[2] < 0) return 1;
  if (C->dtype == AK_I64 || Sn->dtype == AK_I64) return 1;
  const int64_t B = Q->shape[0], S = Q->shape[2], D = Q->shape[3];
  if (K->shape[0] != B || K->shape[2] != S || K->shape[3] != D) return 1;
  if (D % 2 != 0 || ak_numel(C) != S * (D / 2) || ak_numel(Sn) != S * (D / 2)) return 1;
  if (ak_numel(Q) + ak_numel(K) == 0) return 0;
  switch (Q->dtype) {
    case AK_F16: return launch_style<__half>(call, style);
    case AK_BF16: return launch_style<__nv_bfloat16>(call, style);
    case AK_F32: return launch_style<float>(call, style);
    default: return 1;
  }
}
