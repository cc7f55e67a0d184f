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
// Tensor-core path (f16/bf16, MMA_MIN_M <= M <= 64, the vector path's alignment; f32, smaller M and the
// rest take the paths above): at M = 32 the FMAs above are the bound (~12 TFLOP/s), not W. So A and B swap,
// as decode kernels do: y^T[N,M] = W[N,K] x^T[K,M] on mma.sync m16n8k16 with f32 accumulators, 16 rows of W
// the MMA's M, 8 tokens its N (ceil(M/8) n-tiles, a template parameter). Each warp streams MMA_ROWS rows of
// W along K in blocks of 32 k, every lane loading 16 bytes of a row straight into A-fragment registers
// (ld_w, so W_NO_L1 applies), MMA_DEPTH blocks in flight as a ring (halved at large M, where the ring and
// the accumulators would spill); x comes as B-fragments, 16-byte loads through L1, which the block's warps
// share. K is taken in a permuted order, the same for W and x (see mma_block), so that every load is 16
// contiguous bytes. Split-K as above (same workspace, same add_slices): MMA_SPLIT_K slices or, at 0, the
// fewest giving every SM MMA_SM_WARPS warps' worth of W in flight. Rows of W past N and tokens past M are
// clamped reads, never stored; a 32-k block past K (K % 32 != 0) is zero in both operands.
// MMA_MIN_M is 2: under CUDA graphs (a decode step's setting) this path beat the FMA path at M = 8 on 6 of
// Llama-3-8B's 7 projections (H100, bench/results/2026-12-06_NVIDIA-H100-80GB-HBM3_schedule_knobs_and_decode_sweeps/);
// at M = 1 the FMA path stays faster (the MMA's 8 token columns would be 7/8 padding).
// @knob WARPS=4 {2,4,8} warps per block
// @knob ROWS=2 {1,2,4} rows of W per warp
// @knob UNROLL=4 {1,2,4,8} 16-byte chunks of each row a lane has in flight
// @knob MT_MAX=8 {1,2,4,8} most rows of x per pass over W
// @knob W_NO_L1=1 {0,1} W loads: 1 ld.global.nc.L1::no_allocate (read once: leave L1 to x), 0 plain
// @knob SPLIT_K=1 {1,2,4,8} slices of K, each a block row of the grid (1: no workspace, no second kernel)
// @knob MMA_MIN_M=2 {2,5,9,17,65} tensor-core path for f16/bf16 from this M up to 64 (65: never)
// @knob MMA_ROWS=32 {16,32,64} tensor-core path: rows of W per warp (16 per MMA tile); 64 spills at M > 40
// @knob MMA_DEPTH=4 {1,2,4,8} tensor-core path: blocks of 32 k of W each lane has in flight
// @knob MMA_WARPS=4 {1,2,4,8} tensor-core path: warps per block (they share x through L1)
// @knob MMA_SPLIT_K=0 {0,1,2,4,8,16} tensor-core path: slices of K (0: the fewest giving MMA_SM_WARPS per SM)
// @knob MMA_SM_WARPS=4 {2,4,8,16} tensor-core path, MMA_SPLIT_K=0: warps per SM the slices aim for
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <atomic>

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
#ifndef MMA_MIN_M
#define MMA_MIN_M 2
#endif
#ifndef MMA_ROWS
#define MMA_ROWS 32
#endif
#ifndef MMA_DEPTH
#define MMA_DEPTH 4
#endif
#ifndef MMA_WARPS
#define MMA_WARPS 4
#endif
#ifndef MMA_SPLIT_K
#define MMA_SPLIT_K 0
#endif
#ifndef MMA_SM_WARPS
#define MMA_SM_WARPS 4
#endif

static_assert(WARPS >= 1 && WARPS <= 32, "WARPS: 1..32 (a block of at most 1024 threads)");
static_assert(ROWS >= 1 && ROWS <= 8, "ROWS: 1..8");
static_assert(UNROLL >= 1 && UNROLL <= 16, "UNROLL: 1..16");
static_assert(MT_MAX == 1 || MT_MAX == 2 || MT_MAX == 4 || MT_MAX == 8, "MT_MAX must be 1, 2, 4 or 8");
static_assert(W_NO_L1 == 0 || W_NO_L1 == 1, "W_NO_L1 must be 0 or 1");
static_assert(SPLIT_K >= 1 && SPLIT_K <= 64, "SPLIT_K: 1..64");
static_assert(MMA_MIN_M >= 1 && MMA_MIN_M <= 65, "MMA_MIN_M: 1..65 (65: the tensor-core path never runs)");
static_assert(MMA_ROWS == 16 || MMA_ROWS == 32 || MMA_ROWS == 64, "MMA_ROWS must be 16, 32 or 64");
static_assert(MMA_DEPTH >= 1 && MMA_DEPTH <= 8, "MMA_DEPTH: 1..8");
static_assert(MMA_WARPS >= 1 && MMA_WARPS <= 32, "MMA_WARPS: 1..32 (a block of at most 1024 threads)");
static_assert(MMA_SPLIT_K >= 0 && MMA_SPLIT_K <= 64, "MMA_SPLIT_K: 0 (auto) or 1..64");
static_assert(MMA_SM_WARPS >= 1 && MMA_SM_WARPS <= 64, "MMA_SM_WARPS: 1..64");

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

// ---- the tensor-core path (f16/bf16) ---------------------------------------------------------
// @shared begin mma_sync_ptx: copied in other starters, every copy the same (tests/test_starter_regions.py)
__device__ __forceinline__ uint32_t smem_u32(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
// 16-byte global -> shared copy; pred false copies nothing and zero-fills the 16 bytes.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool pred) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(smem)), "l"(gmem),
               "r"(pred ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(smem)));
}
// c += a (16x16, row) * b (16x8, col), f32 accumulators.
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                                        uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void st16(void* p, uint4 v) { *reinterpret_cast<uint4*>(p) = v; }
// @shared end mma_sync_ptx

constexpr int kMI = MMA_ROWS / 16;  // m16 tiles of W per warp
constexpr int kKB = 32;             // k per block: one 16-byte load per lane per 8 rows, two MMA k-steps
// The ring's depth at NT n-tiles: MMA_DEPTH, halved while the ring, the accumulators and one block of x
// would pass ~136 registers of data (ptxas spills past that; MMA_ROWS=64 spills at M > 40 even at depth 1).
template <int NT>
constexpr int kDepth = [] {
  int d = MMA_DEPTH;
  while (d > 1 && 8 * kMI * d + 4 * kMI * NT + 4 * NT > 136) d /= 2;
  return d;
}();

// One block of 32 k of a warp's slab against NT n-tiles of tokens. The permuted K order: in
// m16n8k16's fragments (PTX ISA), lane (g = lane / 4, t = lane % 4) holds A[g][2t, 2t+1] (a0),
// A[g+8][2t, 2t+1] (a1), A[g][2t+8, 2t+9] (a2), A[g+8][2t+8, 2t+9] (a3), B[2t, 2t+1][g] (b0),
// B[2t+8, 2t+9][g] (b1), and C[g][2t, 2t+1], C[g+8][2t, 2t+1]. The k of A and of B that a lane holds
// depend on t alone, and the MMA sums over k, so any one renaming of k applied to both operands gives the
// same dot products. Lane t loads the 8 elements [8t, 8t+8) of the block for rows g and g+8 of W (wf[i][h],
// h = 0, 1) and for token g of each n-tile (xv): step j (0, 1) takes the elements 8t + 4j + {0,1} as its
// k = 2t, 2t+1 and 8t + 4j + {2,3} as its k = 2t+8, 2t+9, i.e. words x/y of the 16 bytes for j = 0, z/w for
// j = 1, in W and in x alike. The two steps cover each of the block's 32 elements once.
template <typename T, int NT>
__device__ __forceinline__ void mma_block(float (&acc)[kMI][NT][4], const uint4 (&wf)[kMI][2], const uint4 (&xv)[NT]) {
#pragma unroll
  for (int i = 0; i < kMI; ++i) {
    const uint32_t a0[4] = {wf[i][0].x, wf[i][1].x, wf[i][0].y, wf[i][1].y};
    const uint32_t a1[4] = {wf[i][0].z, wf[i][1].z, wf[i][0].w, wf[i][1].w};
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      mma16816<T>(acc[i][j], a0, xv[j].x, xv[j].y);
      mma16816<T>(acc[i][j], a1, xv[j].z, xv[j].w);
    }
  }
}

// Grid: x = blocks of MMA_WARPS * MMA_ROWS rows of W, y = slices of K, `per` blocks of 32 k each (the last
// slice fewer; none empty). acc[i][j] is C of tile i (rows n0 + 16i ..) and n-tile j (tokens 8j ..).
template <typename T, int NT>
__global__ void __launch_bounds__(MMA_WARPS * 32)
    skinny_mma(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ y, float* __restrict__ ws, int M,
               int N, int K, int per) {
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int n0 = (blockIdx.x * MMA_WARPS + threadIdx.x / 32) * MMA_ROWS;
  if (n0 >= N) return;  // whole warps: every MMA below runs on a converged warp
  const int kblocks = (K + kKB - 1) / kKB;
  const int b_begin = blockIdx.y * per, b_end = min(kblocks, b_begin + per);
  const T* wrow[kMI][2];  // rows past N read row N - 1, never stored
#pragma unroll
  for (int i = 0; i < kMI; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) wrow[i][h] = w + (size_t)min(n0 + 16 * i + 8 * h + g, N - 1) * K + 8 * t;
  const T* xrow[NT];  // tokens past M read token M - 1, never stored
#pragma unroll
  for (int j = 0; j < NT; ++j) xrow[j] = x + (size_t)min(8 * j + g, M - 1) * K + 8 * t;

  // Block b of W into a ring slot; past the slice, or this lane's 8 elements past K (K % 8 == 0: all or
  // none of them), zero.
  auto load_w = [&](uint4(&slot)[kMI][2], int b) {
    const bool ok = b < b_end && b * kKB + 8 * t < K;
#pragma unroll
    for (int i = 0; i < kMI; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h) slot[i][h] = ok ? ld_w(wrow[i][h] + (size_t)b * kKB) : make_uint4(0, 0, 0, 0);
  };

  float acc[kMI][NT][4] = {};
  uint4 ring[kDepth<NT>][kMI][2];
#pragma unroll
  for (int s = 0; s < kDepth<NT>; ++s) load_w(ring[s], b_begin + s);
  for (int b0 = b_begin; b0 < b_end; b0 += kDepth<NT>) {
#pragma unroll
    for (int s = 0; s < kDepth<NT>; ++s) {
      const int b = b0 + s;  // past the slice (its last pass): zeros, multiplied for nothing
      const bool ok = b < b_end && b * kKB + 8 * t < K;
      uint4 xv[NT];
#pragma unroll
      for (int j = 0; j < NT; ++j)
        xv[j] = ok ? __ldg(reinterpret_cast<const uint4*>(xrow[j] + (size_t)b * kKB)) : make_uint4(0, 0, 0, 0);
      mma_block<T, NT>(acc, ring[s], xv);
      load_w(ring[s], b + kDepth<NT>);
    }
  }

  // C[r][c] of tile i, n-tile j is y[8j + c][n0 + 16i + r]: transposed on the way out.
  float* part = ws ? ws + (size_t)blockIdx.y * M * N : nullptr;
#pragma unroll
  for (int i = 0; i < kMI; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const int n = n0 + 16 * i + g + 8 * (v >> 1), m = 8 * j + 2 * t + (v & 1);
        if (m < M && n < N) {
          if (part)
            part[(size_t)m * N + n] = acc[i][j][v];
          else
            y[(size_t)m * N + n] = from_f32<T>(acc[i][j][v]);
        }
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

// The current device's SM count, asked once per device: cudaDeviceGetAttribute on every call cost more host time
// than a decode step's small GEMM takes on the GPU (H100, per-call timing). A device property, not a result.
inline int sm_count() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cached[kMaxDevices] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0) return 0;
  int sms = dev < kMaxDevices ? cached[dev].load(std::memory_order_relaxed) : 0;
  if (sms > 0) return sms;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) return 0;
  if (dev < kMaxDevices) cached[dev].store(sms, std::memory_order_relaxed);
  return sms;
}

// The tensor-core path at NT n-tiles of tokens (M in (8(NT-1), 8NT]).
template <typename T, int NT>
int launch_mma_nt(const T* x, const T* w, T* y, int M, int N, int K, cudaStream_t stream) {
  const int row_blocks = (N + MMA_WARPS * MMA_ROWS - 1) / (MMA_WARPS * MMA_ROWS);
  const int kblocks = (K + kKB - 1) / kKB;
  int slices = MMA_SPLIT_K;
  if (slices == 0) {  // the fewest slices that give every SM MMA_SM_WARPS warps, at most 16
    const int sms = sm_count();
    if (sms <= 0) return 1;
    // A shallower ring (kDepth < MMA_DEPTH) has fewer bytes in flight per warp: ask for more warps.
    const long want = (long)sms * MMA_SM_WARPS * MMA_DEPTH / kDepth<NT>, have = (long)row_blocks * MMA_WARPS;
    slices = (int)((want + have - 1) / have < 16 ? (want + have - 1) / have : 16);
  }
  const int most = kblocks / kDepth<NT> > 1 ? kblocks / kDepth<NT> : 1;  // a slice fills the ring at least once
  slices = slices < most ? slices : most;
  int per = (kblocks + slices - 1) / slices;  // blocks of 32 k per slice, whole passes of the ring
  per = (per + kDepth<NT> - 1) / kDepth<NT> * kDepth<NT>;
  slices = (kblocks + per - 1) / per;  // so that none is empty
  float* ws = nullptr;
  const size_t mn = (size_t)M * N;
  if (slices > 1 && cudaMallocAsync((void**)&ws, slices * mn * sizeof(float), stream) != cudaSuccess) return 1;
  skinny_mma<T, NT><<<dim3(row_blocks, slices), MMA_WARPS * 32, 0, stream>>>(x, w, y, ws, M, N, K, per);
  if (slices > 1) {
    const int blocks = (int)((mn + 255) / 256 < 4096 ? (mn + 255) / 256 : 4096);
    add_slices<T><<<blocks, 256, 0, stream>>>(ws, y, slices, mn);
    if (cudaFreeAsync(ws, stream) != cudaSuccess) return 1;
  }
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

template <typename T>
int launch_mma(const T* x, const T* w, T* y, int M, int N, int K, cudaStream_t stream) {
  switch ((M + 7) / 8) {
    case 1:
      return launch_mma_nt<T, 1>(x, w, y, M, N, K, stream);
    case 2:
      return launch_mma_nt<T, 2>(x, w, y, M, N, K, stream);
    case 3:
      return launch_mma_nt<T, 3>(x, w, y, M, N, K, stream);
    case 4:
      return launch_mma_nt<T, 4>(x, w, y, M, N, K, stream);
    case 5:
      return launch_mma_nt<T, 5>(x, w, y, M, N, K, stream);
    case 6:
      return launch_mma_nt<T, 6>(x, w, y, M, N, K, stream);
    case 7:
      return launch_mma_nt<T, 7>(x, w, y, M, N, K, stream);
    case 8:
      return launch_mma_nt<T, 8>(x, w, y, M, N, K, stream);
    default:
      return 1;
  }
}

template <typename T>
int launch(const ak_call* call, int M, int N, int K) {
  const T* x = static_cast<const T*>(call->inputs[0].data);
  const T* w = static_cast<const T*>(call->inputs[1].data);
  T* y = static_cast<T*>(call->outputs[0].data);
  const auto stream = static_cast<cudaStream_t>(call->stream);
  const bool vec = K % kE<T> == 0 && ((uintptr_t)x & 15u) == 0 && ((uintptr_t)w & 15u) == 0;
  if constexpr (sizeof(T) == 2) {
    if (vec && M >= MMA_MIN_M && M <= 64) return launch_mma<T>(x, w, y, M, N, K, stream);
  }
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
