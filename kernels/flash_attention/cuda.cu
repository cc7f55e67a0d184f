// @autokernel type=flash_attention
// o = softmax(scale * q k^T [+ causal mask]) v for q, o [B,H,S,D] and k, v [B,HKV,S,D]; scalars:
// [0] causal (!= 0: key j visible to query i iff j <= i), [1] scale.
// Grouped-query attention is native on every path: query head h reads kv head h / (H / HKV)
// (HKV == H: multi-head, HKV == 1: multi-query; H % HKV != 0 is refused). With the heads flattened,
// the query head bh = b*H + h reads kv head bh / group = b*HKV + h / group (group = H / HKV), so
// each block finds its K/V from its own bh; k and v are never copied per query head.
// Layouts (kernel_abi.h): every path addresses q, k, v and o through their strides (batch, head, row; the
// last dim's stride must be 1, else the call is refused), so q, k, v may be transposed [B,S,H,D] or packed qkv
// views and o is written in whatever order it is given ([B,S,H,D] by the harness). The tensor-core paths
// need every stride a multiple of 8 elements (16-byte rows); others take the SIMT fallback.
//
// Main path (f16/bf16, D a multiple of 8 up to 256, 16-byte aligned tensors and strides, scale > 0):
// FlashAttention-2 on tensor cores (mma.sync m16n8k16, f32 accumulation, sm_80+). One block per
// (batch*head, BLOCK_M query tile); each of the NWARPS warps owns BLOCK_M/NWARPS query rows (16
// per m16 tile) and all D output columns, so softmax needs no cross-warp communication. The head
// dim is a compile-time kD in {32, 64, 128, 256} (D rounded up; the pad is zero-filled).
//  - Q is staged once through shared memory; its A fragments are kept in registers when they
//    are small (m-tiles * kD <= 128), else re-read with ldmatrix each key tile (FA2 does so).
//  - K and V tiles of BLOCK_N keys stream through shared memory with cp.async (zero fill past S
//    and past D). STAGES=1 is FA2's schedule (one K and one V buffer: V(j) loads during Q K(j),
//    K(j+1) during softmax and P V(j)); STAGES>=2 is a ring of K+V buffers, tile j+STAGES-1
//    loading while tile j is computed, one __syncthreads per tile.
//  - Shared tiles are rows of kD/8 16-byte chunks, the chunk index XOR-swizzled with the row,
//    so the 8 rows an ldmatrix phase reads (and the 8 chunks a cp.async phase writes) fall in
//    distinct banks.
//  - S = Q K^T: ldmatrix (K rows are the col-major B operand as stored); online softmax in
//    registers in log2 units (exp2 of s*scale*log2e - max*scale*log2e: one FFMA + ex2), the
//    row max/sum reduced across the 4 lanes sharing a row; P is packed to 16 bits in registers
//    and used directly as the A operand of P V (the m16n8 accumulator layout of two adjacent
//    key n-tiles is the m16n8k16 A layout), V via ldmatrix.trans. The row sum is kept in f32
//    (unrounded p) and divides the output once at the end; O is staged through the warp's own
//    Q rows in shared memory for 16-byte stores.
//  - Causal: key tiles beyond the block's last query are never loaded, scores are masked only
//    in tiles that cross the diagonal or S, warps skip tiles wholly above their rows, and the
//    grid runs the longest query tiles first. A masked score is -inf and the max used for the
//    exponent is 0 while a row has seen only -inf, so nothing becomes NaN (a causal row always
//    sees key 0).
// Hopper (compute capability 9.x, D 64 or 128, the main path's other conditions): TMA + wgmma
// with warp specialisation instead, see "Hopper kernel" below.
// Fallback (f32, other D, unaligned pointers or strides, scale <= 0 or not finite, shared memory of the
// chosen tile too large for the device): a simple online-softmax SIMT kernel, f32 throughout.
// @knob BLOCK_M=128 {64,128} query rows per block
// @knob BLOCK_N=64 {32,64,128} keys per K/V shared-memory tile
// @knob NWARPS=4 {4,8} warps per block; each owns BLOCK_M/NWARPS query rows (must be a multiple of 16)
// @knob STAGES=2 {1,2,3} K/V pipeline: 1 = FA2 K/V interleave (one buffer each), >=2 = ring of STAGES K+V tiles
// @knob H_BLOCK_N=128 {64,128} Hopper: keys per K/V tile
// @knob H_STAGES=2 {1,2,3} Hopper: depth of the K and V rings (TMA); a ring over the device's shared memory fails the call
// @knob H_PINGPONG=1 {0,1} Hopper: 1 = the two consumer warpgroups take turns issuing their GEMMs (named barriers), so one's softmax runs while the other's GEMMs do
// @knob H_PERSISTENT=1 {0,1} Hopper: 1 = one block per SM walks the query tiles (causal: longest first, heads in L2-sized sections); O staged apart from Q so the next Q loads during the epilogue (d=128 needs H_STAGES <= 2)
#include <cuda.h>  // CUtensorMap; the encoder comes from the runtime's driver entry point (no -lcuda)
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <atomic>
#include <type_traits>

#include "autokernel/kernel_abi.h"

#ifndef BLOCK_M
#define BLOCK_M 128
#endif
#ifndef BLOCK_N
#define BLOCK_N 64
#endif
#ifndef NWARPS
#define NWARPS 4
#endif
#ifndef STAGES
#define STAGES 2
#endif
#ifndef H_BLOCK_N
#define H_BLOCK_N 128
#endif
#ifndef H_STAGES
#define H_STAGES 2
#endif
#ifndef H_PINGPONG
#define H_PINGPONG 1
#endif
#ifndef H_PERSISTENT
#define H_PERSISTENT 1
#endif

constexpr int kThreads = NWARPS * 32;
constexpr int kWarpRows = BLOCK_M / NWARPS;  // query rows per warp
constexpr int kMT = kWarpRows / 16;          // m16 tiles per warp
constexpr int kNT = BLOCK_N / 8;             // n8 key tiles per K tile
constexpr int kKVBufs = STAGES;              // K buffers (and as many V buffers)
static_assert(NWARPS >= 1 && NWARPS <= 16, "NWARPS must be in [1, 16]");
static_assert(BLOCK_M % (16 * NWARPS) == 0, "BLOCK_M / NWARPS must be a multiple of 16 (each warp owns m16 tiles)");
static_assert(BLOCK_N % 16 == 0 && BLOCK_N >= 16, "BLOCK_N must be a positive multiple of 16");
static_assert(STAGES >= 1 && STAGES <= 4, "STAGES must be in [1, 4]");

// Strides in elements of a [B, heads, S, D] tensor's first three dims (the last dim's is 1); the row stride
// below 2^31 (the host checks), so the inner loops keep one 32-bit register per tensor.
struct Strides {
  int64_t b, h;
  int s;
};

// ---- PTX helpers (sm_80+) ------------------------------------------------------------------
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// 16-byte global -> shared copy; src_ok false writes 16 zero bytes (src is then not read).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool src_ok) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_ok ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
// d += a * b for one m16n8k16 tile: a row-major A fragment, (b0, b1) a col-major B fragment.
template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// Two floats as one 32-bit register of 16-bit values, lo in the low half (round to nearest).
template <typename T> __device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
template <> __device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
__device__ __forceinline__ float ex2(float x) {  // 2^x, -inf -> 0
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(x));
  return r;
}
__device__ __forceinline__ void sts32(void* p, uint32_t v) { *reinterpret_cast<uint32_t*>(p) = v; }
__device__ __forceinline__ void copy16(void* dst, const void* src) {
  *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
}
// ---- end PTX helpers -----------------------------------------------------------------------

// Element offset of 16-byte chunk `c` of row `r` in a [rows][kD] shared tile. The chunk index is
// XORed with bits of the row so that 8 consecutive rows at one chunk (an ldmatrix phase) and 8
// consecutive chunks (a cp.async phase) each cover all 32 banks. Depends on r only through r & 7.
template <int kD> __device__ __forceinline__ int swz(int r, int c) {
  constexpr int C = kD / 8;  // chunks per row: 4, 8, 16 or 32
  static_assert(C == 4 || C % 8 == 0, "kD must be 32 or a multiple of 64");
  const int x = C >= 8 ? (r & 7) : ((r >> 1) & 3);
  return r * kD + ((c ^ x) << 3);
}

// Issue the copies of rows [row0, row0 + kRows) of a [S][D] matrix whose rows are `ld` elements apart (a
// multiple of 8) into a swizzled [kRows][kD] shared tile at shared address `sm`; rows >= S and columns >= D
// are zero-filled.
template <int kRows, int kD, typename T>
__device__ __forceinline__ void load_tile(uint32_t sm, const T* __restrict__ g, int row0, int S, int D, int ld) {
  constexpr int C = kD / 8, kChunks = kRows * C, kIters = (kChunks + kThreads - 1) / kThreads;
#pragma unroll
  for (int i = 0; i < kIters; ++i) {
    const int e = threadIdx.x + i * kThreads;
    if (kChunks % kThreads == 0 || e < kChunks) {
      const int r = e / C, c = e % C, gr = row0 + r;
      const bool ok = gr < S && c * 8 < D;
      cp_async16(sm + 2 * swz<kD>(r, c), ok ? g + (int64_t)gr * ld + c * 8 : g, ok);
    }
  }
}

template <int kD> constexpr size_t tc_smem_bytes() { return (size_t)(BLOCK_M + 2 * kKVBufs * BLOCK_N) * kD * 2; }

// ---- tensor-core kernel --------------------------------------------------------------------
template <typename T, int kD>
__global__ void __launch_bounds__(kThreads)
    flash_attention_tc(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ o,
                       Strides qs, Strides ks, Strides vs, Strides os, int S, int D, int n_qtiles, int BH, int H,
                       int group, float scale_log2e, int causal) {
  constexpr int kKS = kD / 16;                        // k16 steps of Q K^T
  constexpr bool kQRegs = kMT * kD <= 128;            // Q A fragments live in registers
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* Qs = reinterpret_cast<T*>(smem_raw);             // [BLOCK_M][kD], later this block's O
  constexpr uint32_t kTileBytes = BLOCK_N * kD * 2;   // one K or V buffer
  const uint32_t sQ = smem_addr(Qs);                  // shared-space addresses
  const uint32_t sK = sQ + BLOCK_M * kD * 2;          // [kKVBufs][BLOCK_N][kD]
  const uint32_t sV = sK + kKVBufs * kTileBytes;      // [kKVBufs][BLOCK_N][kD]

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane >> 2, t4 = lane & 3;             // mma fragment row group / column pair
  // Causal: query tiles from the longest (last) down, across all heads first; else head-major.
  int qt, bh;
  if (causal) {
    qt = n_qtiles - 1 - (int)(blockIdx.x / BH), bh = (int)(blockIdx.x % BH);
  } else {
    qt = (int)(blockIdx.x % n_qtiles), bh = (int)(blockIdx.x / n_qtiles);
  }
  const int q0 = qt * BLOCK_M;
  const int b = bh / H, h = bh - b * H, kvh = h / group;  // GQA: the group's kv head
  q += b * qs.b + h * qs.h, o += b * os.b + h * os.h, k += b * ks.b + kvh * ks.h, v += b * vs.b + kvh * vs.h;
  if constexpr (kD >= 128) {
    // The four pointers as four registers from here on: left to itself, ptxas keeps parts of the sums live
    // and spilled 152 bytes at kD = 128 (32 with contiguous tensors, as with this).
    const T* qp = q;
    asm volatile("" : "+l"(qp), "+l"(k), "+l"(v), "+l"(o));
    q = qp;
  }

  const int row_lo = q0 + warp * kWarpRows;           // this warp's first query row
  const int kv_len = causal ? min(S, q0 + BLOCK_M) : S;
  const int n_tiles = (kv_len + BLOCK_N - 1) / BLOCK_N;

  // Per-lane ldmatrix byte offsets. The swizzle depends on the row only via row & 7 and changes
  // only the low 3 bits of the chunk, so step i (chunks 2i, 2i+1) of rows r + 16n lies at
  // off[i & 3] + 128 * (i >> 2) + 32 * n * kD bytes: 4 registers per operand.
  const int a_row = (lane & 7) + ((lane >> 3) & 1) * 8, a_chunk = lane >> 4;  // Q (A) x4
  const int b_row = (lane & 7) + (lane >> 4) * 8, b_chunk = (lane >> 3) & 1;  // K x4: 2 n8 tiles
  const int v_row = (lane & 7) + ((lane >> 3) & 1) * 8, v_chunk = lane >> 4;  // V x4.trans
  uint32_t q_off[4], k_off[4], v_off[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int c = 2 * (i % (kD / 16));  // kD = 32 has two steps only
    q_off[i] = sQ + 2 * swz<kD>(warp * kWarpRows + a_row, c + a_chunk);
    k_off[i] = 2 * swz<kD>(b_row, c + b_chunk);
    v_off[i] = 2 * swz<kD>(v_row, c + v_chunk);
  }

  uint32_t qf[kQRegs ? kMT : 1][kQRegs ? kKS : 1][4];
  float acc[kMT][kD / 8][4];
  float m_run[kMT][2], l_run[kMT][2];                 // raw running max; per-lane partial sums
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) m_run[mt][h] = -INFINITY, l_run[mt][h] = 0.0f;
#pragma unroll
    for (int dn = 0; dn < kD / 8; ++dn)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mt][dn][e] = 0.0f;
  }

  // Prologue: Q and the first K (+V) tiles.
  load_tile<BLOCK_M, kD>(sQ, q, q0, S, D, qs.s);
  if (STAGES == 1) {
    load_tile<BLOCK_N, kD>(sK, k, 0, S, D, ks.s);
    cp_async_commit();
  } else {
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
      if (s < n_tiles) {
        load_tile<BLOCK_N, kD>(sK + s * kTileBytes, k, s * BLOCK_N, S, D, ks.s);
        load_tile<BLOCK_N, kD>(sV + s * kTileBytes, v, s * BLOCK_N, S, D, vs.s);
      }
      cp_async_commit();  // always, so the group count per tile stays fixed
    }
  }

  for (int j = 0; j < n_tiles; ++j) {
    const int n0 = j * BLOCK_N;
    uint32_t sKt, sVt;  // this tile's K and V buffers
    if (STAGES == 1) {
      cp_async_wait<0>();
      __syncthreads();  // K(j) (and Q) landed; every warp is done with V(j-1)
      load_tile<BLOCK_N, kD>(sV, v, n0, S, D, vs.s);
      cp_async_commit();
      sKt = sK, sVt = sV;
    } else {
      cp_async_wait<(STAGES >= 2 ? STAGES - 2 : 0)>();
      __syncthreads();  // tile j landed; every warp is done with tile j-1, whose buffers refill now
      const int nj = j + STAGES - 1;
      if (nj < n_tiles) {
        load_tile<BLOCK_N, kD>(sK + (nj % STAGES) * kTileBytes, k, nj * BLOCK_N, S, D, ks.s);
        load_tile<BLOCK_N, kD>(sV + (nj % STAGES) * kTileBytes, v, nj * BLOCK_N, S, D, vs.s);
      }
      cp_async_commit();
      sKt = sK + (j % STAGES) * kTileBytes, sVt = sV + (j % STAGES) * kTileBytes;
    }
    if (kQRegs && j == 0) {
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int ks = 0; ks < kKS; ++ks)
          ldsm_x4(qf[kQRegs ? mt : 0][kQRegs ? ks : 0], q_off[ks & 3] + 128 * (ks >> 2) + mt * 32 * kD);
    }
    // Warp-uniform: rows past S, or (causal) every key of the tile above every row of the warp.
    const bool active = row_lo < S && !(causal && n0 > row_lo + kWarpRows - 1);

    // ---- S = Q K^T ----
    float s[kMT][kNT][4];
    if (active) {
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.0f;
#pragma unroll
      for (int ks = 0; ks < kKS; ++ks) {
        uint32_t qa[kMT][4];
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          if (kQRegs) {
#pragma unroll
            for (int e = 0; e < 4; ++e) qa[mt][e] = qf[kQRegs ? mt : 0][kQRegs ? ks : 0][e];
          } else {
            ldsm_x4(qa[mt], q_off[ks & 3] + 128 * (ks >> 2) + mt * 32 * kD);
          }
        }
#pragma unroll
        for (int np = 0; np < kNT / 2; ++np) {
          uint32_t kb[4];
          ldsm_x4(kb, sKt + k_off[ks & 3] + 128 * (ks >> 2) + np * 32 * kD);
#pragma unroll
          for (int mt = 0; mt < kMT; ++mt) {
            mma16816<T>(s[mt][2 * np], qa[mt], kb[0], kb[1]);
            mma16816<T>(s[mt][2 * np + 1], qa[mt], kb[2], kb[3]);
          }
        }
      }
      // Mask keys >= S and (causal) keys after the query, only where the tile needs it.
      if (n0 + BLOCK_N > S || (causal && n0 + BLOCK_N - 1 > row_lo)) {
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
          for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int key = n0 + nt * 8 + 2 * t4 + (e & 1);
              const int row = row_lo + mt * 16 + g + (e >> 1) * 8;
              if (key >= S || (causal && key > row)) s[mt][nt][e] = -INFINITY;
            }
      }
    }

    if (STAGES == 1) {
      cp_async_wait<0>();
      __syncthreads();  // V(j) landed; every warp is done with K(j)
      if (j + 1 < n_tiles) load_tile<BLOCK_N, kD>(sK, k, n0 + BLOCK_N, S, D, ks.s);
      cp_async_commit();
    }
    if (!active) continue;

    // ---- online softmax (log2 units) ----
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float mx = m_run[mt][h];
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * h], s[mt][nt][2 * h + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // While the row has seen only -inf, subtract 0 (not -inf - -inf = NaN): p = 0, alpha = 0.
        const float m_sub = mx == -INFINITY ? 0.0f : mx * scale_log2e;
        const float alpha = ex2(m_run[mt][h] * scale_log2e - m_sub);
        m_run[mt][h] = mx;
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
          for (int e = 2 * h; e < 2 * h + 2; ++e) {
            s[mt][nt][e] = ex2(fmaf(s[mt][nt][e], scale_log2e, -m_sub));
            sum += s[mt][nt][e];
          }
        l_run[mt][h] = l_run[mt][h] * alpha + sum;
#pragma unroll
        for (int dn = 0; dn < kD / 8; ++dn) acc[mt][dn][2 * h] *= alpha, acc[mt][dn][2 * h + 1] *= alpha;
      }
    }

    // ---- O += P V ----
#pragma unroll
    for (int kk = 0; kk < kNT / 2; ++kk) {
      uint32_t pa[kMT][4];  // P of keys [16kk, 16kk+16) packed to 16 bits: the A fragment
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        pa[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        pa[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        pa[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        pa[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < kD / 16; ++dp) {
        uint32_t vb[4];
        ldsm_x4_trans(vb, sVt + v_off[dp & 3] + 128 * (dp >> 2) + kk * 32 * kD);
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma16816<T>(acc[mt][2 * dp], pa[mt], vb[0], vb[1]);
          mma16816<T>(acc[mt][2 * dp + 1], pa[mt], vb[2], vb[3]);
        }
      }
    }
  }

  // ---- epilogue: O / l, staged through this warp's own Q rows, 16-byte stores ----
  __syncwarp();  // every lane of the warp is past its last ldmatrix of these rows
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float l = l_run[mt][h];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      const int r = warp * kWarpRows + mt * 16 + g + h * 8;
#pragma unroll
      for (int dn = 0; dn < kD / 8; ++dn)
        sts32(Qs + swz<kD>(r, dn) + 2 * t4, pack2<T>(acc[mt][dn][2 * h] * inv, acc[mt][dn][2 * h + 1] * inv));
    }
  __syncwarp();
  constexpr int C = kD / 8;
#pragma unroll
  for (int i = 0; i < (kWarpRows * C + 31) / 32; ++i) {
    const int e = lane + i * 32;
    const int r = e / C, c = e % C, gr = row_lo + r;
    if ((kWarpRows * C % 32 == 0 || e < kWarpRows * C) && gr < S && c * 8 < D)
      copy16(o + (int64_t)gr * os.s + c * 8, Qs + swz<kD>(warp * kWarpRows + r, c));
  }
}

// ---- Hopper kernel: TMA + wgmma, warp-specialised (D 64 or 128, f16/bf16) --------------------
// One producer warpgroup (one thread issues TMA copies) and two consumer warpgroups of 64 query
// rows each (a 128-row query tile per block). Q is loaded once; K and V tiles of H_BLOCK_N keys
// stream through an H_STAGES ring with their own "full" / "empty" mbarriers, so S = Q K^T of a
// tile can start before its V has landed. Per key tile a consumer runs S = Q K^T (wgmma, both
// operands K-major in shared memory), the online softmax on S in registers (base 2, as the
// mma.sync kernel), and O += P V with P taken straight from registers as wgmma's A operand and V
// read N-major (imm-trans-b). Within a warpgroup, the softmax of tile j runs while P V of tile
// j-1 is still on the tensor cores (S_j is issued first; wgmma groups complete in order), and the
// two warpgroups interleave on their own. The tensors are seen by the TMA as 3-D maps, q and o as
// [B*H][S][D], k and v as [B*HKV][S][D] (the block of query head bh loads kv head bh / group), so tiles
// never cross into the next head: rows past S load as zeros (their keys are masked) and the
// output tile, staged in the warpgroup's own Q rows, is stored clipped at S. Compiled only for
// sm_90a; the host takes this path on compute capability 9.x (on a plain sm_90 build it traps).
// Two schedule knobs, both on by default (FlashAttention-3's mechanisms, our own code; H100, bf16, the model's
// layout: causal +2-12% on every row at d 64 and 128, seq 2k-8k, non-causal d 64 +3-5%, d 128 -0.5 to -2%):
//  - H_PINGPONG=1: the two warpgroups take turns issuing their GEMMs (S_j and P_{j-1} V_{j-1}) through
//    a pair of named barriers, so the tensor cores run one warpgroup's GEMMs while the other's softmax
//    (its exponentials) runs, instead of both warpgroups contending at once and then both waiting.
//  - H_PERSISTENT=1: one block per SM walks the query tiles by a static stride through an order of
//    sections of heads whose K and V fit the L2; causal: longest first in one section (every other pass
//    backwards), or a head's long and short tiles paired (equal work) when there are several. The output
//    is staged in its own shared tile, so the next tile's Q loads (an mbarrier, q_empty, says every
//    consumer warp's last S = Q K^T is done) and its first K tiles stream in during this tile's last P V
//    and store; the ring position runs on across tiles. At d=128 it fits with H_STAGES <= 2 only.
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define AK_HOPPER_DEVICE 1
#endif

namespace hopper {
constexpr int kBlockM = 128, kThreads = 384;  // producer + 2 consumer warpgroups of 64 rows
static_assert(H_BLOCK_N == 64 || H_BLOCK_N == 128, "H_BLOCK_N must be 64 or 128");
static_assert(H_STAGES >= 1 && H_STAGES <= 4, "H_STAGES must be in [1, 4]");
static_assert(H_PINGPONG == 0 || H_PINGPONG == 1, "H_PINGPONG must be 0 or 1");
static_assert(H_PERSISTENT == 0 || H_PERSISTENT == 1, "H_PERSISTENT must be 0 or 1");
constexpr bool kPersistent = H_PERSISTENT != 0;
// Named barrier ids (0 is __syncthreads): 1 + c, warpgroup c's epilogue (128 threads); with H_PINGPONG,
// 3 + c, warpgroup c's turn to issue its GEMMs (256 threads: its own bar.sync, the other's bar.arrive).
constexpr int kBarEpilogue = 1, kBarTurn = 3;

template <int kD>
struct Geo {
  static constexpr int kPanels = kD / 64;                 // 64-column (128-byte) panels of a row
  static constexpr int kQBytes = kBlockM * kD * 2;        // also the output staging, unless persistent
  static constexpr int kKVBytes = H_BLOCK_N * kD * 2;     // one K (or V) tile
  static constexpr int kQPanel = kBlockM * 128, kKVPanel = H_BLOCK_N * 128;
  static constexpr int kOOffset = kQBytes + 2 * H_STAGES * kKVBytes;  // persistent: O's own staging
  static constexpr int kBarOffset = kOOffset + (kPersistent ? kQBytes : 0);
  static constexpr int kSmemBytes = 1024 + kBarOffset + (1 + 4 * H_STAGES + (kPersistent ? 1 : 0)) * 8;
};

// @shared begin hopper_ptx: copied in other starters, every copy the same (tests/test_starter_regions.py)
// Shared-memory matrix descriptor: start address, leading / stride byte offsets (all >> 4),
// 128-byte swizzle (layout type 1 in bits 62-63). Tiles start 1024-byte aligned (base offset 0).
__device__ __forceinline__ uint64_t desc(uint32_t saddr, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((saddr & 0x3FFFF) >> 4) | (uint64_t)((lbo >> 4) & 0x3FFF) << 16 |
         (uint64_t)((sbo >> 4) & 0x3FFF) << 32 | 1ull << 62;
}
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred done;\nWAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving accumulator reads or writes across the asynchronous wgmma.
template <int R>
__device__ __forceinline__ void fence_regs(float (&d)[R]) {
#pragma unroll
  for (int i = 0; i < R; ++i) asm volatile("" : "+f"(d[i])::"memory");
}
// @shared end hopper_ptx
// 4-D boxes of the [B][heads][S][D] maps: coordinates (column, row, head, batch), innermost first.
__device__ __forceinline__ void tma_load(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1, int c2,
                                         int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], "
      "[%2];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}
__device__ __forceinline__ void tma_store(const CUtensorMap* map, uint32_t src, int c0, int c1, int c2, int c3) {
  asm volatile("cp.async.bulk.tensor.4d.global.shared::cta.bulk_group [%0, {%2, %3, %4, %5}], [%1];\n" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(src), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
               : "memory");
}

// d = A[64x16] * B[16x128] (+ d when accumulate); A and B K-major in shared memory, 128B-swizzled.
#define AK_WGMMA_SS_N128(TY)                                                                                    \
  asm volatile(                                                                                                 \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                                              \
      "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " "                                              \
      "{"                                                                                                       \
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                  \
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "                        \
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                        \
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"                          \
      "}, %64, %65, p, 1, 1, 0, 0;\n"                                                                           \
      "}\n"                                                                                                     \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])  \
      : "l"(da), "l"(db), "r"(accumulate))
template <typename T>
__device__ __forceinline__ void wgmma_ss_n128(float (&d)[64], uint64_t da, uint64_t db, int accumulate) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) AK_WGMMA_SS_N128("bf16");
  else AK_WGMMA_SS_N128("f16");
}
#undef AK_WGMMA_SS_N128
// d = A[64x16] * B[16x64] (+ d when accumulate); A and B K-major in shared memory, 128B-swizzled.
#define AK_WGMMA_SS_N64(TY)                                                                                     \
  asm volatile(                                                                                                 \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                                              \
      "wgmma.mma_async.sync.aligned.m64n64k16.f32." TY "." TY " "                                               \
      "{"                                                                                                       \
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                  \
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"                          \
      "}, %32, %33, p, 1, 1, 0, 0;\n"                                                                           \
      "}\n"                                                                                                     \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])  \
      : "l"(da), "l"(db), "r"(accumulate))
template <typename T>
__device__ __forceinline__ void wgmma_ss_n64(float (&d)[32], uint64_t da, uint64_t db, int accumulate) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) AK_WGMMA_SS_N64("bf16");
  else AK_WGMMA_SS_N64("f16");
}
#undef AK_WGMMA_SS_N64
// d += A[64x16] * B[16x128]; A in registers (m16k16 fragments per warp), B N-major in shared memory.
#define AK_WGMMA_RS_N128(TY)                                                                                    \
  asm volatile(                                                                                                 \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                                              \
      "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " "                                              \
      "{"                                                                                                       \
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                  \
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "                        \
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                        \
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"                          \
      "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n"                                                             \
      "}\n"                                                                                                     \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])  \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1))
template <typename T>
__device__ __forceinline__ void wgmma_rs_n128(float (&d)[64], const uint32_t (&a)[4], uint64_t db) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) AK_WGMMA_RS_N128("bf16");
  else AK_WGMMA_RS_N128("f16");
}
#undef AK_WGMMA_RS_N128
// d += A[64x16] * B[16x64]; A in registers (m16k16 fragments per warp), B N-major in shared memory.
#define AK_WGMMA_RS_N64(TY)                                                                                     \
  asm volatile(                                                                                                 \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                                              \
      "wgmma.mma_async.sync.aligned.m64n64k16.f32." TY "." TY " "                                               \
      "{"                                                                                                       \
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                  \
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"                          \
      "}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n"                                                             \
      "}\n"                                                                                                     \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])  \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1))
template <typename T>
__device__ __forceinline__ void wgmma_rs_n64(float (&d)[32], const uint32_t (&a)[4], uint64_t db) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) AK_WGMMA_RS_N64("bf16");
  else AK_WGMMA_RS_N64("f16");
}
#undef AK_WGMMA_RS_N64

template <typename T, int N>
__device__ __forceinline__ void wgmma_ss(float (&d)[N / 2], uint64_t da, uint64_t db, int accumulate) {
  if constexpr (N == 128) wgmma_ss_n128<T>(d, da, db, accumulate);
  else wgmma_ss_n64<T>(d, da, db, accumulate);
}
template <typename T, int N>
__device__ __forceinline__ void wgmma_rs(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t db) {
  if constexpr (N == 128) wgmma_rs_n128<T>(d, a, db);
  else wgmma_rs_n64<T>(d, a, db);
}

// Tile orders of the persistent walk (the host picks one per call).
enum TileOrder : int {
  kOrderStride = 0,  // tile k * grid + b of the section order (non-causal: every tile costs the same)
  kOrderSnake = 1,   // causal, one section: longest first, every other pass of the grid backwards
  kOrderPairs = 2,   // causal, several sections: pair k / 2 * grid + b, its long tile then its short one
};
// The query tile a block computes at step k of its walk (bh: row of the [B*H] q/o maps; q0: first query
// row): 1, or 0 when the walk is over, 2 for a step with no tile (the missing half of a pair). One block
// per tile: the block's own tile, longest causal tiles of each head first, head-major. Persistent (grid
// <= SMs): tiles in sections of `sec` consecutive query heads (their kv heads' K and V fit the L2), a
// section's heads side by side, longest first. Stride: block b takes tile k * grid + b. Snake: the same,
// but every other pass runs backwards (k * grid + grid - 1 - b), so the long and short ends of the order
// even out; it needs the order to be longest-first throughout (one section), else each section's
// restart piles long tiles on the same blocks. Pairs: query tile p of a head goes with tile
// n_qtiles - 1 - p (their key tiles add up to n_qtiles + 1 at any p), pairs in section order; block b
// takes pair k / 2 * grid + b, its long tile at even k, its short one at odd k (none: the middle tile of
// an odd n_qtiles).
__device__ __forceinline__ int tile_at(int k, int n_qtiles, int BH, int sec, int order, int& bh, int& q0) {
  int qt;
  if constexpr (!kPersistent) {
    bh = (int)(blockIdx.x / n_qtiles);
    qt = n_qtiles - 1 - (int)(blockIdx.x % n_qtiles);
  } else {
    const int G = (int)gridDim.x, b = (int)blockIdx.x;
    const bool pairs = order == kOrderPairs;
    const int per_head = pairs ? (n_qtiles + 1) / 2 : n_qtiles;  // items of one head: pairs or tiles
    const int pass = pairs ? k >> 1 : k;
    const int i = pass * G + (order == kOrderSnake && (pass & 1) ? G - 1 - b : b);
    if (i >= BH * per_head) return 0;
    const int per_sec = sec * per_head, s = i / per_sec, r = i - s * per_sec;
    const int h0 = s * sec, hn = min(sec, BH - h0);  // the last section may be short
    bh = h0 + r % hn;
    const int rank = r / hn;  // longest first: rank 0 is the last query tile
    if (!pairs) {
      qt = n_qtiles - 1 - rank;
    } else if (!(k & 1)) {
      qt = n_qtiles - 1 - rank;
    } else {
      qt = rank;
      if (qt == n_qtiles - 1 - rank) return 2;  // the middle tile has no partner
    }
  }
  q0 = qt * kBlockM;
  return 1;
}

template <typename T, int kD>
__global__ void __launch_bounds__(kThreads, 1)
    attention(const __grid_constant__ CUtensorMap map_q, const __grid_constant__ CUtensorMap map_k,
              const __grid_constant__ CUtensorMap map_v, const __grid_constant__ CUtensorMap map_o, int S,
              int n_qtiles, int H, int group, float scale_log2e, int causal, int BH, int sec, int order) {
#ifdef AK_HOPPER_DEVICE
  using G = Geo<kD>;
  constexpr int kBN = H_BLOCK_N, kS = kBN / 2, kO = kD / 2;  // S and O accumulators per thread
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_addr(smem_raw) + 1023) & ~1023u;
  const uint32_t q_tile = base;
  const uint32_t o_tile = kPersistent ? base + G::kOOffset : q_tile;  // the output's staging
  auto k_tile = [&](int s) { return base + G::kQBytes + s * G::kKVBytes; };
  auto v_tile = [&](int s) { return base + G::kQBytes + (H_STAGES + s) * G::kKVBytes; };
  const uint32_t q_full = base + G::kBarOffset;
  auto k_full = [&](int s) { return q_full + 8 * (1 + s); };
  auto k_empty = [&](int s) { return q_full + 8 * (1 + H_STAGES + s); };
  auto v_full = [&](int s) { return q_full + 8 * (1 + 2 * H_STAGES + s); };
  auto v_empty = [&](int s) { return q_full + 8 * (1 + 3 * H_STAGES + s); };
  const uint32_t q_empty = q_full + 8 * (1 + 4 * H_STAGES);  // persistent: every consumer warp is done with Q
  const int wg = threadIdx.x / 128;
  // Key tiles of the query tile at q0 (causal: up to its last row).
  auto kv_tiles = [&](int q0) { return ((causal ? min(S, q0 + kBlockM) : S) + kBN - 1) / kBN; };

  if (threadIdx.x == 0) {
    mbar_init(q_full, 1);
    for (int s = 0; s < H_STAGES; ++s) {
      mbar_init(k_full(s), 1), mbar_init(v_full(s), 1);
      mbar_init(k_empty(s), 2), mbar_init(v_empty(s), 2);  // one arrival per consumer warpgroup
    }
    if (kPersistent) mbar_init(q_empty, 8);  // one arrival per consumer warp
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (wg == 0) {  // producer
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      int g = 0;   // key tiles loaded so far: the ring position runs on across a persistent block's tiles
      int it = 0;  // query tiles loaded so far (Q's barriers' phase)
      for (int k = 0;; ++k) {
        int bh, q0;
        const int step = tile_at(k, n_qtiles, BH, sec, order, bh, q0);
        if (step == 0) break;
        if (step == 2) continue;
        // Query head h of batch b (the maps' coordinates), and the kv head its group reads.
        const int b = bh / H, h = bh - b * H, kvh = h / group, n_kv = kv_tiles(q0);
        auto load_q = [&] {
          mbar_expect_tx(q_full, G::kQBytes);
#pragma unroll
          for (int p = 0; p < G::kPanels; ++p) tma_load(q_tile + p * G::kQPanel, &map_q, q_full, 64 * p, q0, h, b);
        };
        if (!kPersistent) load_q();
        for (int j = 0; j < n_kv; ++j) {
          const int s = (g + j) % H_STAGES;
          const uint32_t parity = (((g + j) / H_STAGES) & 1) ^ 1;  // the first round passes at once
          mbar_wait(k_empty(s), parity);
          mbar_expect_tx(k_full(s), G::kKVBytes);
#pragma unroll
          for (int p = 0; p < G::kPanels; ++p)
            tma_load(k_tile(s) + p * G::kKVPanel, &map_k, k_full(s), 64 * p, j * kBN, kvh, b);
          if (kPersistent && j == 0) {  // Q once the previous tile's last S = Q K^T is done (none before the first)
            mbar_wait(q_empty, (it & 1) ^ 1);
            load_q();
          }
          mbar_wait(v_empty(s), parity);
          mbar_expect_tx(v_full(s), G::kKVBytes);
#pragma unroll
          for (int p = 0; p < G::kPanels; ++p)
            tma_load(v_tile(s) + p * G::kKVPanel, &map_v, v_full(s), 64 * p, j * kBN, kvh, b);
        }
        g += n_kv, ++it;
        if (!kPersistent) break;
      }
    }
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
  const int c = wg - 1, t = threadIdx.x % 128, w = t / 32, lane = t % 32;
  float o[kO], sc[kS];
  uint32_t pa[kBN / 16][4];
  float m[2], l[2];
  int g = 0;   // key tiles consumed so far (ring position), as the producer counts them
  int it = 0;  // query tiles done so far (q_full's phase)
  int q0 = 0;  // this tile's first query row
  int row0 = 0;

  // S_j = Q K_j^T over kD / 16 steps (Q rows 64c.. of panel kk/4, all kBN rows of the K tile; 32
  // bytes along the swizzled rows per step), issued and committed, not waited for.
  auto issue_s = [&](int j) {
    const int s = (g + j) % H_STAGES;
    mbar_wait(k_full(s), ((g + j) / H_STAGES) & 1);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
      const uint32_t off = (kk % 4) * 32;
      const uint64_t dq = desc(q_tile + (kk / 4) * G::kQPanel + c * 64 * 128 + off, 16, 1024);
      const uint64_t dk = desc(k_tile(s) + (kk / 4) * G::kKVPanel + off, 16, 1024);
      wgmma_ss<T, kBN>(sc, dq, dk, kk > 0);
    }
    wgmma_commit();
  };
  // O += P_j V_j: V tile rows are keys (16 rows = 2048 bytes per step), its 64-column panels LBO apart.
  auto issue_pv = [&](int j) {
    const int s = (g + j) % H_STAGES;
    mbar_wait(v_full(s), ((g + j) / H_STAGES) & 1);
    wgmma_fence();
#pragma unroll
    for (int k = 0; k < kBN / 16; ++k) wgmma_rs<T, kD>(o, pa[k], desc(v_tile(s) + k * 2048, G::kKVPanel, 1024));
    wgmma_commit();
  };
  // Online softmax of S_j in base 2, in place (p = 2^(s*scale*log2e - m*scale*log2e)); alpha is the
  // factor O must be rescaled by. A row that has seen only -inf uses 0 for its max: nothing is NaN.
  auto softmax = [&](int j, float (&alpha)[2]) {
    const int kv0 = j * kBN;
    // Mask keys past S, and (causal) keys after the row's query; only tiles that reach them.
    if (kv0 + kBN > S || (causal && kv0 + kBN - 1 > q0 + 64 * c)) {
#pragma unroll
      for (int n = 0; n < kBN / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = kv0 + 8 * n + 2 * (lane % 4) + (e & 1), row = row0 + 8 * (e >> 1);
          if (key >= S || (causal && key > row)) sc[4 * n + e] = -INFINITY;
        }
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float mx = m[h];
#pragma unroll
      for (int n = 0; n < kBN / 8; ++n) mx = fmaxf(mx, fmaxf(sc[4 * n + 2 * h], sc[4 * n + 2 * h + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_use = mx == -INFINITY ? 0.0f : mx * scale_log2e;
      alpha[h] = ex2(m[h] * scale_log2e - m_use);  // m = -inf: 0 (o and l are 0 then anyway)
      m[h] = mx;
      float sum = 0.0f;
#pragma unroll
      for (int n = 0; n < kBN / 8; ++n)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& v = sc[4 * n + 2 * h + e];
          v = ex2(fmaf(v, scale_log2e, -m_use));
          sum += v;
        }
      l[h] = l[h] * alpha[h] + sum;
    }
  };
  // O *= alpha; P_j as A fragments: keys 16k..16k+15 are the accumulators of n8 tiles 2k and 2k+1.
  auto rescale_and_pack = [&](const float (&alpha)[2]) {
#pragma unroll
    for (int n = 0; n < kD / 8; ++n) {
      o[4 * n] *= alpha[0], o[4 * n + 1] *= alpha[0];
      o[4 * n + 2] *= alpha[1], o[4 * n + 3] *= alpha[1];
    }
#pragma unroll
    for (int k = 0; k < kBN / 16; ++k)
#pragma unroll
      for (int i = 0; i < 4; ++i) pa[k][i] = pack2<T>(sc[8 * k + 2 * i], sc[8 * k + 2 * i + 1]);
  };
  // P_j's registers are read by the asynchronous P V: keep them live (unreused) until it is waited for.
  auto hold_pa = [&] {
#pragma unroll
    for (int k = 0; k < kBN / 16; ++k)
#pragma unroll
      for (int i = 0; i < 4; ++i) asm volatile("" : "+r"(pa[k][i])::"memory");
  };
  // Ping-pong (H_PINGPONG): at loop step j (1 <= j < n_kv) a warpgroup issues S_j and P_{j-1} V_{j-1}
  // only in its turn, warpgroup 0 first, so the tensor cores run one's GEMMs while the other does
  // its softmax. Warpgroup c waits on barrier kBarTurn + c (bar.sync: its 128 threads) for the
  // other's bar.arrive (128 more) after that one has issued. Warpgroup 0's step j waits for 1's step
  // j - 1 (none before step 2); 1's step j waits for 0's step j. So per tile, warpgroup 0 arrives at
  // steps 1..n_kv-1 and 1 at steps 1..n_kv-2: every arrival is matched by one wait of the same tile,
  // none is left over (both warpgroups walk the same n_kv key tiles of the same query tile).
  auto turn_wait = [&](int j) {
    if (H_PINGPONG && (c == 1 || j > 1)) asm volatile("bar.sync %0, 256;\n" ::"r"(kBarTurn + c) : "memory");
  };
  auto turn_pass = [&](int j, int n_kv) {
    if (H_PINGPONG && (c == 0 || j < n_kv - 1)) asm volatile("bar.arrive %0, 256;\n" ::"r"(kBarTurn + 1 - c) : "memory");
  };

  for (int k = 0;; ++k) {
    int bh;
    const int step = tile_at(k, n_qtiles, BH, sec, order, bh, q0);
    if (step == 0) break;
    if (step == 2) continue;  // the producer skips it too
    const int n_kv = kv_tiles(q0);
    // This thread's two rows of the block: r and r + 8 (the m64nN accumulator layout).
    row0 = q0 + 64 * c + 16 * w + lane / 4;
#pragma unroll
    for (int i = 0; i < kO; ++i) o[i] = 0.0f;
    fence_regs(o);
    m[0] = m[1] = -INFINITY, l[0] = l[1] = 0.0f;

    // The softmax of tile j runs while P_{j-1} V_{j-1} is on the tensor cores (groups complete in order).
    mbar_wait(q_full, it & 1);
    float alpha[2];
    issue_s(0);
    wgmma_wait<0>();
    fence_regs(sc);
    if (t == 0) mbar_arrive(k_empty(g % H_STAGES));
    softmax(0, alpha);
    rescale_and_pack(alpha);
    for (int j = 1; j < n_kv; ++j) {
      turn_wait(j);
      issue_s(j);
      issue_pv(j - 1);
      turn_pass(j, n_kv);
      wgmma_wait<1>();  // S_j is done
      fence_regs(sc);
      if (t == 0) mbar_arrive(k_empty((g + j) % H_STAGES));
      softmax(j, alpha);
      wgmma_wait<0>();  // P_{j-1} V_{j-1} is done
      fence_regs(o);
      hold_pa();
      if (t == 0) mbar_arrive(v_empty((g + j - 1) % H_STAGES));
      rescale_and_pack(alpha);
    }
    if (kPersistent && lane == 0) mbar_arrive(q_empty);  // this warp's S = Q K^T are done: Q may reload
    issue_pv(n_kv - 1);
    wgmma_wait<0>();
    fence_regs(o);
    hold_pa();
    if (t == 0) mbar_arrive(v_empty((g + n_kv - 1) % H_STAGES));
    g += n_kv, ++it;

    // Epilogue: O / l, rounded into this warpgroup's 64 rows of the staging tile (128-byte swizzled
    // like the TMA box; Q's own rows unless persistent), then one TMA store per 64-column panel,
    // clipped at S. Persistent: the staging is reused only once the previous tile's store has read it.
    if (kPersistent) {
      if (t == 0) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
      asm volatile("bar.sync %0, 128;\n" ::"r"(kBarEpilogue + c) : "memory");
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
      l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
    }
    const float inv[2] = {l[0] > 0.0f ? 1.0f / l[0] : 0.0f, l[1] > 0.0f ? 1.0f / l[1] : 0.0f};
#pragma unroll
    for (int n = 0; n < kD / 8; ++n)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = 64 * c + 16 * w + lane / 4 + 8 * h;  // row in the block's tile
        const uint32_t addr = o_tile + (n / 8) * G::kQPanel + r * 128 + (((n % 8) ^ (r % 8)) * 16) + (lane % 4) * 4;
        const uint32_t v = pack2<T>(o[4 * n + 2 * h] * inv[h], o[4 * n + 2 * h + 1] * inv[h]);
        asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(v) : "memory");
      }
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // the TMA (async proxy) reads these writes
    asm volatile("bar.sync %0, 128;\n" ::"r"(kBarEpilogue + c) : "memory");
    if (t == 0) {
      const int b = bh / H, h = bh - b * H;
#pragma unroll
      for (int p = 0; p < G::kPanels; ++p)
        tma_store(&map_o, o_tile + p * G::kQPanel + c * 64 * 128, 64 * p, q0 + 64 * c, h, b);
      asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
      if (!kPersistent) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
    }
    if (!kPersistent) break;
  }
  if (kPersistent && t == 0) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
#else
  __trap();  // not an sm_90a build: the host should not have chosen this path
#endif
}
}  // namespace hopper

// ---- SIMT fallback -------------------------------------------------------------------------
// Fixed shape (no knobs): 4 warps of 2 query rows each, 32-key tiles.
constexpr int kFbWarps = 4, kFbRows = 2, kFbKeys = 32;
constexpr int kFbThreads = kFbWarps * 32, kFbBlockQ = kFbWarps * kFbRows;

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
__device__ __forceinline__ float warp_reduce_max(float v) {
#pragma unroll
  for (int s = 16; s > 0; s >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, s));
  return v;
}
__device__ __forceinline__ float warp_reduce_sum(float v) {
#pragma unroll
  for (int s = 16; s > 0; s >>= 1) v += __shfl_xor_sync(0xffffffffu, v, s);
  return v;
}
template <int DCH> constexpr size_t fb_smem_bytes() {
  return ((size_t)kFbBlockQ * (32 * DCH) + 2 * (size_t)kFbKeys * (32 * DCH + 1)) * sizeof(float);
}

// Each warp owns kFbRows query rows; per tile of kFbKeys keys staged in shared memory (f32),
// lane j scores key j, the warp takes the tile max, rescales its running (max, sum, output), and
// accumulates p.V with lane d owning output columns d, d+32, ... Any D up to 32*DCH, any scale.
template <typename T, int DCH>
__global__ void __launch_bounds__(kFbThreads)
    flash_attention_simt(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                         T* __restrict__ o, Strides qs, Strides ks, Strides vs, Strides os, int S, int D,
                         int n_qtiles, int H, int group, float scale_log2e, int causal) {
  constexpr int kDP = 32 * DCH, kPitch = kDP + 1;  // odd pitch: lanes reading different K rows
  extern __shared__ __align__(16) float fsm[];
  float* Qs = fsm;                    // [kFbBlockQ][kDP]  q * scale * log2(e)
  float* Ks = Qs + kFbBlockQ * kDP;   // [kFbKeys][kPitch] zero past S and past D
  float* Vs = Ks + kFbKeys * kPitch;  // [kFbKeys][kPitch]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bh = blockIdx.x / n_qtiles;
  const int q0 = (n_qtiles - 1 - (int)(blockIdx.x % n_qtiles)) * kFbBlockQ;
  const int64_t b = bh / H, h = bh - b * H, kvh = h / group;  // GQA: the group's kv head
  q += b * qs.b + h * qs.h, o += b * os.b + h * os.h, k += b * ks.b + kvh * ks.h, v += b * vs.b + kvh * vs.h;

  for (int e = threadIdx.x; e < kFbBlockQ * D; e += kFbThreads) {
    const int r = e / D, d = e % D, qi = q0 + r;
    Qs[r * kDP + d] = qi < S ? to_f32(q[(int64_t)qi * qs.s + d]) * scale_log2e : 0.0f;
  }
  float m[kFbRows], l[kFbRows], acc[kFbRows][DCH];
#pragma unroll
  for (int r = 0; r < kFbRows; ++r) {
    m[r] = -INFINITY, l[r] = 0.0f;
#pragma unroll
    for (int c = 0; c < DCH; ++c) acc[r][c] = 0.0f;
  }
  const int kv_end = causal ? min(S, q0 + kFbBlockQ) : S;
  for (int kv0 = 0; kv0 < kv_end; kv0 += kFbKeys) {
    __syncthreads();
    for (int e = threadIdx.x; e < kFbKeys * kDP; e += kFbThreads) {
      const int j = e / kDP, d = e % kDP, kj = kv0 + j;
      const bool in = kj < S && d < D;
      Ks[j * kPitch + d] = in ? to_f32(k[(int64_t)kj * ks.s + d]) : 0.0f;
      Vs[j * kPitch + d] = in ? to_f32(v[(int64_t)kj * vs.s + d]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < kFbRows; ++r) {
      const int row = warp * kFbRows + r, qi = q0 + row;
      if (qi >= S || (causal && kv0 > qi)) continue;  // warp-uniform
      const int kj = kv0 + lane;
      float dot = 0.0f;
      for (int d = 0; d < D; ++d) dot = fmaf(Qs[row * kDP + d], Ks[lane * kPitch + d], dot);
      const float p_raw = (kj >= S || (causal && kj > qi)) ? -INFINITY : dot;
      const float m_new = fmaxf(m[r], warp_reduce_max(p_raw));
      if (m_new == -INFINITY) continue;
      const float alpha = exp2f(m[r] - m_new);
      m[r] = m_new;
      const float p = exp2f(p_raw - m_new);
      l[r] = l[r] * alpha + p;
#pragma unroll
      for (int c = 0; c < DCH; ++c) acc[r][c] *= alpha;
      for (int src = 0; src < kFbKeys; ++src) {
        const float pj = __shfl_sync(0xffffffffu, p, src);
#pragma unroll
        for (int c = 0; c < DCH; ++c) acc[r][c] = fmaf(pj, Vs[src * kPitch + c * 32 + lane], acc[r][c]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kFbRows; ++r) {
    const int qi = q0 + warp * kFbRows + r;
    if (qi >= S) continue;
    const float inv = 1.0f / warp_reduce_sum(l[r]);
#pragma unroll
    for (int c = 0; c < DCH; ++c) {
      const int d = c * 32 + lane;
      if (d < D) o[(int64_t)qi * os.s + d] = from_f32<T>(acc[r][c] * inv);
    }
  }
}

// ---- host side -----------------------------------------------------------------------------
// Opt in to `smem` bytes of dynamic shared memory for `kernel`; false if the device has less.
template <typename K> static bool smem_fits(K kernel, size_t smem) {
  if (smem <= 48 * 1024) return true;
  int dev = 0, max_optin = 0;
  return cudaGetDevice(&dev) == cudaSuccess &&
         cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) == cudaSuccess &&
         smem <= (size_t)max_optin &&
         cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) == cudaSuccess;
}

struct Args {
  const void *q, *k, *v;
  void* o;
  Strides qs, ks, vs, os;  // in elements
  int64_t BH;              // query heads, B * H
  int H;                   // query heads per batch
  int group;               // query heads per kv head, H / HKV: k and v hold BH / group heads
  int S, D;
  bool causal;
  float scale;
  cudaStream_t stream;
};

template <typename T, int DCH> static int launch_simt(const Args& a) {
  auto kernel = flash_attention_simt<T, DCH>;
  const size_t smem = fb_smem_bytes<DCH>();
  if (!smem_fits(kernel, smem)) return 1;
  const int n_qtiles = (a.S + kFbBlockQ - 1) / kFbBlockQ;
  if (a.BH * n_qtiles > 0x7fffffff) return 1;
  kernel<<<(unsigned)(a.BH * n_qtiles), kFbThreads, smem, a.stream>>>(
      static_cast<const T*>(a.q), static_cast<const T*>(a.k), static_cast<const T*>(a.v), static_cast<T*>(a.o), a.qs,
      a.ks, a.vs, a.os, a.S, a.D, n_qtiles, a.H, a.group, a.scale * 1.4426950408889634f, a.causal ? 1 : 0);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}
template <typename T> static int simt(const Args& a) {
  if (a.D <= 32) return launch_simt<T, 1>(a);
  if (a.D <= 64) return launch_simt<T, 2>(a);
  if (a.D <= 128) return launch_simt<T, 4>(a);
  if (a.D <= 256) return launch_simt<T, 8>(a);
  return 1;
}

// 1: launched or failed to launch (rc in *rc); 0: not applicable (shared memory), use the fallback.
template <typename T, int kD> static bool launch_tc(const Args& a, int* rc) {
  auto kernel = flash_attention_tc<T, kD>;
  const size_t smem = tc_smem_bytes<kD>();
  if (!smem_fits(kernel, smem)) return false;
  const int n_qtiles = (a.S + BLOCK_M - 1) / BLOCK_M;
  if (a.BH * n_qtiles > 0x7fffffff) return *rc = 1, true;
  kernel<<<(unsigned)(a.BH * n_qtiles), kThreads, smem, a.stream>>>(
      static_cast<const T*>(a.q), static_cast<const T*>(a.k), static_cast<const T*>(a.v), static_cast<T*>(a.o), a.qs,
      a.ks, a.vs, a.os, a.S, a.D, n_qtiles, (int)a.BH, a.H, a.group, a.scale * 1.4426950408889634f, a.causal ? 1 : 0);
  *rc = cudaGetLastError() == cudaSuccess ? 0 : 1;
  return true;
}
// @shared begin tensor_map_encoder: copied in other starters, every copy the same (tests/test_starter_regions.py)
// The driver's tensor-map encoder, looked up once through the runtime.
static PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
      p = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}
// @shared end tensor_map_encoder

// A [B][heads][S][D] 16-bit tensor (q, o: H heads; k, v: HKV) with its own strides (row, head, batch: multiples
// of 8 elements, so 16-byte multiples as TMA needs), read or written in boxes of 64 columns (128 bytes) x `rows`
// x 1 head x 1 batch, 128-byte swizzled. Rows past S load as zeros and are not stored.
static bool make_map(CUtensorMap* map, const void* ptr, bool bf16, const Args& a, int64_t heads, const Strides& st,
                     uint32_t rows) {
  const auto encode = tensor_map_encoder();
  if (!encode) return false;
  cuuint64_t dims[4] = {(cuuint64_t)a.D, (cuuint64_t)a.S, (cuuint64_t)heads, (cuuint64_t)(a.BH / a.H)};
  cuuint64_t strides[3] = {(cuuint64_t)st.s * 2, (cuuint64_t)st.h * 2, (cuuint64_t)st.b * 2};
  cuuint32_t box[4] = {64, rows, 1, 1};
  cuuint32_t elem_strides[4] = {1, 1, 1, 1};
  return encode(map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4, const_cast<void*>(ptr),
                dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// Raises the Hopper kernel's dynamic shared-memory limit once per device; false if the device has less.
template <typename T, int kD> static bool hopper_smem_fits() {
  static std::atomic<uint64_t> done{0};  // bit d: device d is set
  constexpr int bytes = hopper::Geo<kD>::kSmemBytes;
  int dev = 0, max_optin = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  const uint64_t bit = dev < 64 ? 1ull << dev : 0;
  if (bit && (done.load() & bit)) return true;
  if (cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
      bytes > max_optin ||
      cudaFuncSetAttribute(hopper::attention<T, kD>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) != cudaSuccess)
    return false;
  done.fetch_or(bit);
  return true;
}

// 1: launched or failed to launch (rc in *rc); 0: not applicable (shared memory, or strides the tensor maps
// refuse), use another path.
template <typename T, int kD> static bool launch_hopper(const Args& a, int* rc) {
  if (!hopper_smem_fits<T, kD>()) return false;
  const int n_qtiles = (a.S + hopper::kBlockM - 1) / hopper::kBlockM;
  if (a.BH * n_qtiles > 0x7fffffff) return *rc = 1, true;
  const bool bf16 = std::is_same_v<T, __nv_bfloat16>;
  CUtensorMap mq, mk, mv, mo;
  const int64_t kv_heads = a.H / a.group;
  if (!make_map(&mq, a.q, bf16, a, a.H, a.qs, hopper::kBlockM) || !make_map(&mk, a.k, bf16, a, kv_heads, a.ks, H_BLOCK_N) ||
      !make_map(&mv, a.v, bf16, a, kv_heads, a.vs, H_BLOCK_N) || !make_map(&mo, a.o, bf16, a, a.H, a.os, 64))
    return false;
  int64_t grid = a.BH * n_qtiles;
  int sec = 1, order = hopper::kOrderStride;  // persistent: query heads per section of the tile order, the order
  if (hopper::kPersistent) {
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || sms < 1)
      return *rc = 1, true;
    grid = grid < sms ? grid : sms;
    // As many kv heads as keep their K and V within 32 MiB of the L2 (FlashAttention-3's figure; the
    // H100 and H200 have 50 MB), a power of two, times the query heads that share each.
    const int64_t kv_bytes = (int64_t)a.S * a.D * 2 * 2, budget = 32ll << 20;
    int64_t kv = 1;
    while (kv * 2 * kv_bytes <= budget) kv *= 2;
    const int64_t heads = kv * a.group;
    sec = (int)(heads < a.BH ? heads : a.BH);
    order = !a.causal ? hopper::kOrderStride : sec == a.BH ? hopper::kOrderSnake : hopper::kOrderPairs;
  }
  hopper::attention<T, kD><<<(unsigned)grid, hopper::kThreads, hopper::Geo<kD>::kSmemBytes, a.stream>>>(
      mq, mk, mv, mo, a.S, n_qtiles, a.H, a.group, a.scale * 1.4426950408889634f, a.causal ? 1 : 0, (int)a.BH, sec,
      order);
  *rc = cudaGetLastError() == cudaSuccess ? 0 : 1;
  return true;
}

template <typename T> static int run(const Args& a) {
  // 16-byte rows: every pointer 16-byte aligned and every stride a multiple of 8 elements.
  int64_t strides = 0;
  for (const Strides* st : {&a.qs, &a.ks, &a.vs, &a.os}) strides |= st->b | st->h | st->s;
  const bool aligned = ((uintptr_t)a.q | (uintptr_t)a.k | (uintptr_t)a.v | (uintptr_t)a.o) % 16 == 0 && strides % 8 == 0;
  if (aligned && a.D % 8 == 0 && a.scale > 0.0f && a.scale <= 3.0e38f && a.BH <= 0x7fffffff) {
    int rc = 0, dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
      return 1;
    if (major == 9 && (a.D == 64 ? launch_hopper<T, 64>(a, &rc) : a.D == 128 && launch_hopper<T, 128>(a, &rc)))
      return rc;
    if (a.D <= 32 ? launch_tc<T, 32>(a, &rc)
        : a.D <= 64 ? launch_tc<T, 64>(a, &rc)
        : a.D <= 128 ? launch_tc<T, 128>(a, &rc)
                     : launch_tc<T, 256>(a, &rc))
      return rc;
  }
  return simt<T>(a);
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 3 || call->n_outputs != 1 || call->n_scalars < 2) return 1;
  const ak_tensor *Q = &call->inputs[0], *K = &call->inputs[1];
  for (int i = 0; i < 4; ++i) {
    const ak_tensor* t = i < 3 ? &call->inputs[i] : &call->outputs[0];
    const ak_tensor* like = i == 1 || i == 2 ? K : Q;  // k and v: [B,HKV,S,D]; q and o: [B,H,S,D]
    if (t->ndim != 4 || t->dtype != Q->dtype) return 1;
    for (int d = 0; d < 4; ++d)
      if (t->shape[d] != like->shape[d] || (d != 1 && t->shape[d] != Q->shape[d])) return 1;  // S_q == S_k, one D
  }
  const int64_t H = Q->shape[1], HKV = K->shape[1];
  const int64_t BH = Q->shape[0] * H, S = Q->shape[2], D = Q->shape[3];
  if (HKV < 1 ? H != 0 : H % HKV != 0) return 1;  // GQA: each kv head serves H / HKV query heads
  if (S > INT32_MAX / 2 || D > 256 || S * D > INT32_MAX || H > INT32_MAX) return 1;
  if (BH == 0 || S == 0) return 0;
  if (D == 0) return 1;
  Strides st[4];
  for (int i = 0; i < 4; ++i) {
    const ak_tensor* t = i < 3 ? &call->inputs[i] : &call->outputs[0];
    if (t->stride[3] != 1 || t->stride[0] < 0 || t->stride[1] < 0 || t->stride[2] < 0) return 1;  // kernel_abi.h
    if (t->stride[2] > INT32_MAX) return 1;
    st[i] = {t->stride[0], t->stride[1], (int)t->stride[2]};
  }
  const Args a{call->inputs[0].data, call->inputs[1].data, call->inputs[2].data, call->outputs[0].data, st[0], st[1],
               st[2], st[3], BH, (int)H, (int)(H / HKV), (int)S, (int)D, call->scalars[0] != 0.0,
               (float)call->scalars[1], (cudaStream_t)call->stream};
  switch (Q->dtype) {
    case AK_F16: return run<__half>(a);
    case AK_BF16: return run<__nv_bfloat16>(a);
    case AK_F32: return simt<float>(a);
    default: return 1;
  }
}
