// @autokernel type=matmul
// C[M,N] = A[M,K] @ B[K,N], f32 accumulation for every dtype; A and C row-major, B row-major or K-major (b(k, n) at
// B[n * ld + k]: F.linear's weight W[N,K] as it is, B = W^T; kernel_abi.h), each path a template flag kBT for it;
// an optional bias[N] (every row) and residual[M,N] (kernel_abi.h; told apart by ndim) are added to the f32 tile in
// each path's epilogue, before the one rounding.
// bf16/f16 on Hopper (compute capability 9.x): TMA copies and wgmma in a warp-specialised kernel,
// its tile set by the H_* knobs (see "Hopper kernel" below); the epilogue stores C through TMA too.
// bf16/f16 on other sm_80+ GPUs: tensor-core GEMM on mma.sync.m16n8k16. A block computes a BM x BN
// tile of C with WARPS_M x WARPS_N warps, each owning a (BM/WARPS_M) x (BN/WARPS_N) tile of f32
// accumulators. BK-deep slices of A and B stream through a STAGES-deep shared-memory ring filled by
// 16-byte cp.async copies (zero fill past the M/N/K edges through the src-size operand), so the loads
// of later slices overlap the MMAs of this one. Shared tiles are XOR-swizzled in 16-byte chunks so
// ldmatrix (.trans for a row-major B, staged as BK rows of BN; a K-major B is staged as A is and read
// without it) reads them without bank conflicts. The epilogue
// rounds C into shared memory and writes it back in coalesced 16-byte stores.
// Both tensor-core kernels order blocks in groups of GROUP_M tile rows, so that blocks running
// together share A rows and B columns in L2, and need N, K and B's leading stride multiples of 8 and
// 16-byte aligned pointers; other calls, and f32, take a plain shared-memory tiled SIMT kernel (correct,
// not fast).
// @knob BM=128 {64,128,256} rows of C per block
// @knob BN=128 {64,128,256} columns of C per block
// @knob BK=32 {32,64} depth of one shared-memory K slice
// @knob WARPS_M=2 {1,2,4} warps along M; over 64x64 accumulators per warp or 32K per block (spills) do not compile
// @knob WARPS_N=2 {1,2,4} warps along N
// @knob STAGES=4 {2,3,4,5} depth of the cp.async ring; a ring over the device's shared memory fails the call
// @knob GROUP_M=8 {1,4,8,16} tile rows per L2 group of the block order (both tensor-core kernels; pairs of tile rows with H_CLUSTER=2)
// @knob H_BN=0 {0,128,256} Hopper: columns of C per block (the wgmma N); 0 = per call, the tile the host's plan predicts fastest
// @knob H_MI=1 {1,2} Hopper: 64-row wgmma tiles per consumer warpgroup; 2 with H_BN=256 does not compile (spills)
// @knob H_CONSUMERS=2 {1,2} Hopper: consumer warpgroups per block; rows per block = 64 * H_MI * H_CONSUMERS
// @knob H_STAGES=4 {2,3,4,5,6} Hopper: depth of the TMA ring; a ring over the device's shared memory fails the call
// @knob H_PERSISTENT=1 {0,1} Hopper: 1 = one block per SM looping over tiles, the next tile's slices loading while this one's C is stored
// @knob H_CLUSTER=1 {1,2} Hopper: 2 = clusters of two blocks on vertically neighbouring tiles, each B slice read from L2 once and TMA-multicast to both
// @knob H_PINGPONG=0 {0,1} Hopper: 1 = each consumer warpgroup owns a whole 64*H_MI x H_BN tile, one's MMAs running while the other stores C (needs H_CONSUMERS=2, H_PERSISTENT=1)
// @knob H_SPLIT_K=0 {0,1,2,4} Hopper: blocks (a cluster) sharing one tile's K, reduced through distributed shared memory; 0 = per call, from the host's plan (not with H_CLUSTER=2 or H_PINGPONG=1)
#include <cuda.h>  // CUtensorMap; the encoder comes from the runtime's driver entry point (no -lcuda)
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <atomic>
#include <type_traits>

#include "autokernel/kernel_abi.h"

#ifndef BM
#define BM 128
#endif
#ifndef BN
#define BN 128
#endif
#ifndef BK
#define BK 32
#endif
#ifndef WARPS_M
#define WARPS_M 2
#endif
#ifndef WARPS_N
#define WARPS_N 2
#endif
#ifndef STAGES
#define STAGES 4
#endif
#ifndef GROUP_M
#define GROUP_M 8
#endif
#ifndef H_BN
#define H_BN 0
#endif
#ifndef H_MI
#define H_MI 1
#endif
#ifndef H_CONSUMERS
#define H_CONSUMERS 2
#endif
#ifndef H_STAGES
#define H_STAGES 4
#endif
#ifndef H_PERSISTENT
#define H_PERSISTENT 1
#endif
#ifndef H_CLUSTER
#define H_CLUSTER 1
#endif
#ifndef H_PINGPONG
#define H_PINGPONG 0
#endif
#ifndef H_SPLIT_K
#define H_SPLIT_K 0
#endif

constexpr int kThreads = WARPS_M * WARPS_N * 32;
constexpr int kWM = BM / WARPS_M, kWN = BN / WARPS_N;  // warp tile
constexpr int kMI = kWM / 16, kNI = kWN / 8;           // m16 x n8 MMA tiles per warp
static_assert(BM % (16 * WARPS_M) == 0 && BN % (16 * WARPS_N) == 0, "warp tiles must be multiples of 16x16");
static_assert(kWM * kWN <= 64 * 64, "warp tile over 64x64 outputs: its f32 accumulators would spill");
static_assert(kWM * kWN / 32 * kThreads <= 32768, "over 32K f32 accumulators per block: they would spill");
static_assert(BK == 32 || BK == 64, "BK must be 32 or 64");
static_assert(STAGES >= 2, "STAGES must be >= 2");
static_assert(GROUP_M >= 1, "GROUP_M must be >= 1");

constexpr int kAStage = BM * BK, kBStage = BK * BN;  // elements of one ring slot
constexpr int kCStride = BN + 8;                     // epilogue tile row, padded: conflict-free writes
constexpr int kPipeBytes = STAGES * (kAStage + kBStage) * 2;
constexpr int kEpiBytes = BM * kCStride * 2;
constexpr int kSmemBytes = kPipeBytes > kEpiBytes ? kPipeBytes : kEpiBytes;

// ---- PTX wrappers ------------------------------------------------------------------------
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
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(smem)));
}

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

// @shared begin store2_swz: copied in other starters, every copy the same (tests/test_starter_regions.py)
// Two f32 rounded to T and stored as one 32-bit word (lo at the lower address).
__device__ __forceinline__ void store2(__half* p, float lo, float hi) {
  *reinterpret_cast<__half2*>(p) = __floats2half2_rn(lo, hi);
}
__device__ __forceinline__ void store2(__nv_bfloat16* p, float lo, float hi) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(lo, hi);
}

// Element offset of 16-byte chunk c of row r in a shared tile of kChunks chunks per row. The chunk's
// position within its 128-byte line is XORed with the line number, so the 8 row addresses of one
// ldmatrix 8x8 matrix (8 rows, same chunk) land in 8 different 16-byte bank groups.
template <int kChunks>
__device__ __forceinline__ int swz(int r, int c) {
  if constexpr (kChunks >= 8) {
    return (r * kChunks + (c ^ (r & 7))) * 8;
  } else {
    const int i = r * kChunks + c;
    return ((i & ~7) | ((i ^ (r / (8 / kChunks))) & 7)) * 8;
  }
}
// @shared end store2_swz

// The epilogue's optional inputs (kernel_abi.h): bias[N], added to every row, and residual[M,N] (row-major, N per
// row); null where absent.
template <typename T>
struct Epilogue {
  const T* bias;
  const T* res;
};

// What the epilogue adds at (row, col) and (row, col + 1) of C, on the tensor-core paths: col is even and col + 1 < N
// wherever col < N (N % 8 == 0), so the residual's pair is one aligned 4-byte load (its data 16-byte aligned: the
// host checks); zero past C's edges.
__device__ __forceinline__ float2 pair_f32(const __nv_bfloat16* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}
__device__ __forceinline__ float2 pair_f32(const __half* p) { return __half22float2(*reinterpret_cast<const __half2*>(p)); }
// The Hopper kernel's raw form of the same: two 16-bit values in one register (the first in the low half), unpacked
// where they are added.
template <typename T>
__device__ __forceinline__ uint32_t load_pair(const T* p, bool aligned) {
  if (aligned) return __ldg(reinterpret_cast<const unsigned int*>(p));
  const unsigned short* h = reinterpret_cast<const unsigned short*>(p);
  return (uint32_t)__ldg(h) | (uint32_t)__ldg(h + 1) << 16;
}
template <typename T>
__device__ __forceinline__ float2 unpack_pair(uint32_t u) {
  if constexpr (std::is_same_v<T, __half>) return __half22float2(*reinterpret_cast<const __half2*>(&u));
  else return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u));
}
template <typename T>
__device__ __forceinline__ float2 epilogue_pair(const Epilogue<T>& e, int row, int col, int M, int N) {
  float2 v = make_float2(0.0f, 0.0f);
  if (col >= N) return v;
  if (e.bias) v.x = to_f32(e.bias[col]), v.y = to_f32(e.bias[col + 1]);
  if (e.res && row < M) {
    const float2 r = pair_f32(e.res + (int64_t)row * N + col);
    v.x += r.x, v.y += r.y;
  }
  return v;
}

// ---- tensor-core kernel ------------------------------------------------------------------
// kBT: B lies K-major (b(k, n) at B[n * ldb + k], F.linear's weight as it is): its slices are staged as
// BN rows of BK, like A's, and read with plain ldmatrix; else row-major (B[k * ldb + n]) and read with .trans.
template <typename T, bool kBT>
__global__ void __launch_bounds__(kThreads)
    mma_gemm(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C, Epilogue<T> epi, int M,
             int N, int K, int64_t ldb) {
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* const sA = reinterpret_cast<T*>(smem_raw);
  T* const sB = sA + STAGES * kAStage;

  // Grouped block order: GROUP_M tile rows advance together along N.
  const int tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN;
  const int pid = blockIdx.x, per_group = GROUP_M * tiles_n;
  const int first_m = (pid / per_group) * GROUP_M;
  const int group_rows = min(tiles_m - first_m, GROUP_M);
  const int m0 = (first_m + (pid % per_group) % group_rows) * BM;
  const int n0 = ((pid % per_group) / group_rows) * BN;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = (warp / WARPS_N) * kWM, wn = (warp % WARPS_N) * kWN;
  const int KT = (K + BK - 1) / BK;

  // Issue the cp.async copies of K slice kt into ring slot `slot`. K % 8 == 0 and N % 8 == 0, so a
  // 16-byte chunk is either wholly inside the matrix or wholly outside (then zero-filled). Thread
  // tid copies chunks tid, tid + kThreads, ...: with kThreads a multiple of the chunks per row, its
  // column chunk is fixed and its rows step by kThreads / chunks-per-row.
  constexpr int kAC = BK / 8, kAChunks = BM * kAC, kARows = kThreads / kAC;
  // B's staged slice: BK rows of BN (row-major B) or, kBT, BN rows of BK.
  constexpr int kBC = (kBT ? BK : BN) / 8, kBRowsAll = kBT ? BN : BK, kBChunks = kBRowsAll * kBC;
  constexpr int kBRows = kThreads / kBC;
  static_assert(kThreads % kAC == 0, "threads must cover whole A rows");
  const int a_r = tid / kAC, a_c = tid % kAC;
  const int b_r = tid / kBC, b_c = tid % kBC;  // b_r may be past the slice's rows when kThreads > kBChunks
  const T* const a_src = A + (int64_t)(m0 + a_r) * K + a_c * 8;
  const T* const b_src = kBT ? B + (int64_t)(n0 + b_r) * ldb + b_c * 8 : B + (int64_t)b_r * ldb + n0 + b_c * 8;
  auto load_slice = [&](int slot, int kt) {
    const int k0 = kt * BK;
    T* a = sA + slot * kAStage;
    T* b = sB + slot * kBStage;
#pragma unroll
    for (int it = 0; it < (kAChunks + kThreads - 1) / kThreads; ++it) {
      const int r = a_r + it * kARows;
      if (kAChunks % kThreads == 0 || r < BM) {
        const bool ok = m0 + r < M && k0 + a_c * 8 < K;
        cp_async16(a + swz<kAC>(r, a_c), ok ? a_src + (int64_t)it * kARows * K + k0 : A, ok);
      }
    }
#pragma unroll
    for (int it = 0; it < (kBChunks + kThreads - 1) / kThreads; ++it) {
      const int r = b_r + it * kBRows;
      if (kBChunks % kThreads == 0 || r < kBRowsAll) {
        if constexpr (kBT) {  // row r: column n0 + r of B, its k0.. chunk
          const bool ok = n0 + r < N && k0 + b_c * 8 < K;
          cp_async16(b + swz<kBC>(r, b_c), ok ? b_src + (int64_t)it * kBRows * ldb + k0 : B, ok);
        } else {  // row r: row k0 + r of B, its n0.. chunk
          const bool ok = k0 + r < K && n0 + b_c * 8 < N;
          cp_async16(b + swz<kBC>(r, b_c), ok ? b_src + (int64_t)(k0 + it * kBRows) * ldb : B, ok);
        }
      }
    }
  };

  float acc[kMI][kNI][4];
#pragma unroll
  for (int i = 0; i < kMI; ++i)
#pragma unroll
    for (int j = 0; j < kNI; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) acc[i][j][v] = 0.0f;

  // Prologue: slices 0 .. STAGES-2 in flight, one commit group each (empty past KT).
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < KT) load_slice(s, s);
    cp_async_commit();
  }

  for (int kt = 0; kt < KT; ++kt) {
    cp_async_wait<STAGES - 2>();  // slice kt has landed (for this thread) ...
    __syncthreads();              // ... for all threads; and slot (kt-1) % STAGES is no longer read
    {
      const int nk = kt + STAGES - 1;
      if (nk < KT) load_slice(nk % STAGES, nk);
      cp_async_commit();
    }
    const T* a = sA + (kt % STAGES) * kAStage;
    const T* b = sB + (kt % STAGES) * kBStage;
    // Fragments double-buffered across the BK/16 steps: step kk+1 loads while step kk multiplies.
    uint32_t af[2][kMI][4], bf[2][kNI][2];
    auto load_frags = [&](int kk, uint32_t (&fa)[kMI][4], uint32_t (&fb)[kNI][2]) {
#pragma unroll
      for (int i = 0; i < kMI; ++i)  // x4: rows 0-7/8-15 x k 0-7/8-15 = a0..a3
        ldsm_x4(fa[i], a + swz<BK / 8>(wm + i * 16 + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
      for (int j = 0; j < kNI; j += 2) {
        uint32_t t[4];
        if constexpr (kBT)  // x4: n 0-7 x k 0-7/8-15, then n 8-15 x k 0-7/8-15 = b0,b1 of two n8 tiles
          ldsm_x4(t, b + swz<BK / 8>(wn + j * 8 + ((lane >> 4) << 3) + (lane & 7), kk * 2 + ((lane >> 3) & 1)));
        else  // x4.trans: k 0-7/8-15 x n 0-7/8-15 = b0,b1 of two n8 tiles
          ldsm_x4_trans(t, b + swz<BN / 8>(kk * 16 + (lane & 15), (wn + j * 8) / 8 + (lane >> 4)));
        fb[j][0] = t[0], fb[j][1] = t[1], fb[j + 1][0] = t[2], fb[j + 1][1] = t[3];
      }
    };
    load_frags(0, af[0], bf[0]);
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk) {
      if (kk + 1 < BK / 16) load_frags(kk + 1, af[(kk + 1) % 2], bf[(kk + 1) % 2]);
#pragma unroll
      for (int i = 0; i < kMI; ++i)
#pragma unroll
        for (int j = 0; j < kNI; ++j) mma16816<T>(acc[i][j], af[kk % 2][i], bf[kk % 2][j][0], bf[kk % 2][j][1]);
    }
  }

  // Epilogue: round into a padded shared tile (the ring is free once every copy has landed), then
  // 16-byte coalesced stores; N % 8 == 0 makes every chunk wholly inside or outside C.
  cp_async_wait<0>();
  __syncthreads();
  T* const sC = reinterpret_cast<T*>(smem_raw);
#pragma unroll
  for (int i = 0; i < kMI; ++i) {
    // The epilogue's inputs of this 16-row strip first, every load in flight before the first store (a global
    // load is not moved past a store the compiler cannot prove apart from it): one latency per strip, not per pair.
    const int r = wm + i * 16 + (lane >> 2);
    float2 e[kNI][2];
#pragma unroll
    for (int j = 0; j < kNI; ++j) {
      const int c = wn + j * 8 + (lane & 3) * 2;
      e[j][0] = epilogue_pair(epi, m0 + r, n0 + c, M, N);
      e[j][1] = epilogue_pair(epi, m0 + r + 8, n0 + c, M, N);
    }
#pragma unroll
    for (int j = 0; j < kNI; ++j) {
      const int c = wn + j * 8 + (lane & 3) * 2;
      store2(sC + r * kCStride + c, acc[i][j][0] + e[j][0].x, acc[i][j][1] + e[j][0].y);
      store2(sC + (r + 8) * kCStride + c, acc[i][j][2] + e[j][1].x, acc[i][j][3] + e[j][1].y);
    }
  }
  __syncthreads();
  constexpr int kCC = BN / 8, kCChunks = BM * kCC;
#pragma unroll
  for (int it = 0; it < (kCChunks + kThreads - 1) / kThreads; ++it) {
    const int i = tid + it * kThreads;
    if (kCChunks % kThreads == 0 || i < kCChunks) {
      const int r = i / kCC, c = i % kCC, gm = m0 + r, gn = n0 + c * 8;
      if (gm < M && gn < N)
        st16(C + (int64_t)gm * N + gn, *reinterpret_cast<const uint4*>(sC + r * kCStride + c * 8));
    }
  }
}

// ---- Hopper kernel: TMA + wgmma, warp-specialised ------------------------------------------
// One producer warpgroup (one thread issues the TMA copies) and H_CONSUMERS consumer warpgroups,
// each owning H_MI x 64 rows of the block's tile and all H_BN of its columns. K slices of 64 stream
// through an H_STAGES ring: "full" barriers count the TMA bytes in, "empty" barriers count the
// consumers out. A is K-major (a 128-byte row of 64 K values per tile row); B [K,N] is N-major, so
// it lands as H_BN/64 panels of 64 columns x 64 K rows, each 128-byte swizzled by the TMA and read
// by wgmma with imm-trans-b. Compiled only for sm_90a; the host takes this path on compute
// capability 9.x, where the backend always builds sm_90a (on a plain sm_90 build it traps).
// H_PERSISTENT=1 launches one block per SM, each looping over tiles (every gridDim.x-th in the
// GROUP_M order). The ring's slice counter runs on across tiles, so the producer loads the next tile
// while the consumers store this one. C is then staged outside the ring, two 64-column panels per
// 64 rows at a time (16 KB per m64 tile), so that a 4-deep ring of 128x256 tiles still fits.
// H_CLUSTER=2 launches clusters of two blocks (cudaLaunchKernelEx) that work on vertically neighbouring
// tiles with the same columns, pair after pair: each block loads half of the B slice (the weight)
// and TMA-multicasts it into both blocks' rings, so each weight slice leaves L2 once per cluster (along M,
// not N: the weight is the larger operand of a 128x256 tile, 32 KB of a 48 KB slice, so a pair reads 64 KB
// per slice instead of 96, where sharing A would save only 16). Each block's full barrier still counts its
// whole slice in bytes; a slot's empty barrier counts the consumers of both blocks, each consumer freeing the
// slot in its own block and, by a remote arrive, in the peer's. A cluster barrier after the barrier inits and
// another before exit keep either block from arriving on (or copying into) the other's shared memory before
// it is set up or after it has left. H_PINGPONG=1 gives each of the two consumer warpgroups a whole tile of
// 64*H_MI rows (the producer loads the block's tiles in order; consumer c takes tiles c, c+2, ...), and the
// two take turns on the tensor cores: a consumer issues its tile's MMAs only after the other has issued all
// of its previous tile's (named barriers 4 and 5), so one's epilogue runs under the other's MMAs.
// The tile's width is a template argument: H_BN=0 (the default) compiles 128 and 256 and the host picks one per
// call (see "which tile and split a call gets" in the host part). H_SPLIT_K (a template flag plus the cluster size
// at launch, 2 or 4) has a cluster of blocks share one tile's K range and reduce their f32 partial tiles through
// distributed shared memory, each block storing the pieces it owns: no workspace in global memory, no atomics,
// nothing allocated (so a CUDA graph captures it as one kernel node), and a fixed order of the sums (deterministic).
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define AK_HOPPER_DEVICE 1
#endif

namespace hopper {
constexpr int kBK = 64;                                 // one 128-byte swizzle row of 16-bit values
constexpr bool kPingpong = H_PINGPONG != 0;
constexpr int kCluster = H_CLUSTER;                      // blocks per cluster, along M
constexpr int kBM = 64 * H_MI * (kPingpong ? 1 : H_CONSUMERS);  // one tile's rows (pingpong: one consumer's)
constexpr int kThreads = 128 * (1 + H_CONSUMERS);
constexpr int kABytes = kBM * kBK * 2, kBPanelBytes = kBK * 64 * 2;
constexpr bool kPersistent = H_PERSISTENT != 0;
static_assert(H_BN == 0 || H_BN == 128 || H_BN == 256, "H_BN must be 0 (per call), 128 or 256");
static_assert(H_MI == 1 || H_MI == 2, "H_MI must be 1 or 2");
static_assert(H_CONSUMERS == 1 || H_CONSUMERS == 2, "H_CONSUMERS must be 1 or 2");
static_assert(kBM <= 256, "the A box of one TMA copy is at most 256 rows");
static_assert(H_STAGES >= 2, "H_STAGES must be >= 2");
static_assert(H_PERSISTENT == 0 || H_PERSISTENT == 1, "H_PERSISTENT must be 0 or 1");
static_assert(H_CLUSTER == 1 || H_CLUSTER == 2, "H_CLUSTER must be 1 or 2");
static_assert(H_PINGPONG == 0 || H_PINGPONG == 1, "H_PINGPONG must be 0 or 1");
static_assert(!kPingpong || (H_CONSUMERS == 2 && kPersistent), "H_PINGPONG=1 needs H_CONSUMERS=2 and H_PERSISTENT=1");
static_assert(H_SPLIT_K == 0 || H_SPLIT_K == 1 || H_SPLIT_K == 2 || H_SPLIT_K == 4,
              "H_SPLIT_K must be 0 (per call), 1, 2 or 4");
// Consumer arrivals that free one ring slot: every consumer warpgroup that reads it (one with pingpong), in
// every block of the cluster, since each block's producer multicasts into the other's slot too.
constexpr int kEmptyArrivals = (kPingpong ? 1 : H_CONSUMERS) * kCluster;

// What depends on the tile's width NB (128 or 256): with H_BN=0 both are compiled and the host picks one per call.
template <int NB>
struct Tile {
  static constexpr int kBN = NB;
  static constexpr int kPanels = NB / 64;  // 64-column panels of B and of C
  static constexpr int kAcc = NB / 2;      // f32 accumulators per thread per m64 tile
  static constexpr int kBBytes = kPanels * kBPanelBytes;
  static constexpr int kStageBytes = kABytes + kBBytes;
  static constexpr int kRoundPanels = kPanels < 2 ? kPanels : 2;  // persistent: C panels staged per m64 tile at a time
  static constexpr int kCStageBytes = kPersistent ? H_CONSUMERS * H_MI * kRoundPanels * 8192 : 0;
  static constexpr int kBiasBytes = kPersistent ? H_CONSUMERS * NB * 2 : 0;  // persistent: each consumer's tile bias
  static constexpr int kSmemBytes =
      1024 /* alignment slack */ + H_STAGES * kStageBytes + kCStageBytes + 2 * H_STAGES * 8 + kBiasBytes;
  // Compiles without spills, its epilogue fits, each block of a cluster multicasts an equal share of B's panels.
  static constexpr bool kValid = H_MI * kAcc <= 128 && (kPersistent || kBM * NB * 2 <= H_STAGES * kStageBytes) &&
                                 kPanels % kCluster == 0;
  // H_SPLIT_K: a block's f32 partial tile is staged in its own ring (plus the C staging area behind it) for its
  // cluster's peers, so it must fit there; the cluster is the split, so no multicast pairs and no pingpong.
  static constexpr int kSplitBytes = kBM * NB * 4;
  static constexpr bool kCanSplit =
      kValid && !kPingpong && kCluster == 1 && kSplitBytes <= H_STAGES * kStageBytes + kCStageBytes;
  static constexpr int kSubtiles = kBM / 64 * kPanels;  // 64x64 pieces of a tile, shared out among a split's blocks
};
static_assert(H_BN == 0 || Tile<H_BN>::kValid,
              "H_BN=256 with H_MI=2 spills (over 128 accumulators per thread); "
              "without H_PERSISTENT the ring must hold C");
static_assert(Tile<128>::kValid, "H_BN=0 needs at least the 128-column tile");

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

// @shared begin hopper_tma_2d: copied in other starters, every copy the same (tests/test_starter_regions.py)
// 2-D tile copy global -> shared; completion is counted in bytes on `bar`. Out-of-range parts are zeros.
__device__ __forceinline__ void tma_load(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n" ::"r"(
          dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1)
      : "memory");
}
// 2-D tile copy shared -> global, clipped at the tensor's edges.
__device__ __forceinline__ void tma_store(const CUtensorMap* map, uint32_t src, int c0, int c1) {
  asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%2, %3}], [%1];\n" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(src), "r"(c0), "r"(c1)
               : "memory");
}
// Two f32 rounded to T, one 32-bit shared-memory store.
template <typename T>
__device__ __forceinline__ void st_shared_pair(uint32_t addr, float lo, float hi) {
  uint32_t v;
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    __nv_bfloat162 p = __floats2bfloat162_rn(lo, hi);
    v = *reinterpret_cast<uint32_t*>(&p);
  } else {
    __half2 p = __floats2half2_rn(lo, hi);
    v = *reinterpret_cast<uint32_t*>(&p);
  }
  asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(v) : "memory");
}
// @shared end hopper_tma_2d

// @shared begin hopper_cluster: copied in other starters, every copy the same (tests/test_starter_regions.py)
// Thread-block clusters (H_CLUSTER) and the consumers' turn-taking (H_PINGPONG). This block's rank in its cluster,
// the cluster's index in the grid and the number of clusters (1-D clusters along x).
__device__ __forceinline__ uint32_t cluster_rank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return r;
}
__device__ __forceinline__ int cluster_index() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%clusterid.x;\n" : "=r"(r));
  return (int)r;
}
__device__ __forceinline__ int cluster_count() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%nclusterid.x;\n" : "=r"(r));
  return (int)r;
}
// Every thread of every block of the cluster: writes before it (barrier inits, arrivals on a peer's barriers)
// are seen by all after it, and no block passes while another has not arrived.
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;\n" ::: "memory");
}
// One arrival on the barrier at the same shared-memory offset in block `rank` of the cluster. The default (CTA)
// scope, as CUTLASS's ClusterBarrier: the slot's readers are this block's wgmmas, already waited for, and its next
// writer the peer's TMA, so no fence is needed. The .release.cluster form (and .acquire.cluster on the producer's
// wait) compiled to MEMBAR.ALL.GPU (and CCTL.IVALL): ~1 us on every K slice, H_CLUSTER=2 at 0.69x cuBLAS (H100).
__device__ __forceinline__ void mbar_arrive_cluster(uint32_t bar, uint32_t rank) {
  asm volatile(
      "{\n.reg .b32 remote;\nmapa.shared::cluster.u32 remote, %0, %1;\n"
      "mbarrier.arrive.shared::cluster.b64 _, [remote];\n}\n" ::"r"(bar),
      "r"(rank)
      : "memory");
}
// tma_load into the same shared-memory offset of every block in `mask` (bit r: rank r), each block's barrier at
// `bar`'s offset counting the bytes that land in that block.
__device__ __forceinline__ void tma_load_multicast(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1,
                                                   uint16_t mask) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster"
      " [%0], [%1, {%3, %4}], [%2], %5;\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1), "h"(mask)
      : "memory");
}
// Named barrier `id` over `threads` threads: bar_sync waits for all of them, bar_arrive counts in without waiting
// (the consumer warpgroups' turn-taking: one arrives when its MMAs are issued, the other syncs before its own).
__device__ __forceinline__ void bar_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void bar_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
// @shared end hopper_cluster

// d (+)= A[64x16] * B[16x256]; A K-major, B N-major (imm-trans-b TB = 1) or K-major (TB = 0), 128B-swizzled.
#define AK_WGMMA_N256(TY, TB)                                                                                             \
  asm volatile(                                                                                                         \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"                                                                     \
      "wgmma.mma_async.sync.aligned.m64n256k16.f32." TY "." TY " "                                                      \
      "{"                                                                                                               \
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                          \
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "                                \
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                                \
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "                                \
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "                                \
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "                                \
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "                    \
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"                  \
      "}, %128, %129, p, 1, 1, 0, " TB ";\n"                                                                           \
      "}\n"                                                                                                             \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),                 \
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),           \
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),         \
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),         \
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),         \
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),         \
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),         \
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),         \
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),         \
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),         \
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),         \
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),         \
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),     \
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), \
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), \
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])  \
      : "l"(da), "l"(db), "r"(1))
template <typename T, bool kBT>
__device__ __forceinline__ void wgmma_n256(float (&d)[128], uint64_t da, uint64_t db) {
  if constexpr (std::is_same_v<T, __nv_bfloat16> && kBT) AK_WGMMA_N256("bf16", "0");
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) AK_WGMMA_N256("bf16", "1");
  else if constexpr (kBT) AK_WGMMA_N256("f16", "0");
  else AK_WGMMA_N256("f16", "1");
}
#undef AK_WGMMA_N256
// d (+)= A[64x16] * B[16x128]; as AK_WGMMA_N256.
#define AK_WGMMA_N128(TY, TB)                                                                                     \
  asm volatile(                                                                                                 \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                                              \
      "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " "                                              \
      "{"                                                                                                       \
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                                  \
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "                        \
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                        \
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"                          \
      "}, %64, %65, p, 1, 1, 0, " TB ";\n"                                                                   \
      "}\n"                                                                                                     \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])  \
      : "l"(da), "l"(db), "r"(1))
template <typename T, bool kBT>
__device__ __forceinline__ void wgmma_n128(float (&d)[64], uint64_t da, uint64_t db) {
  if constexpr (std::is_same_v<T, __nv_bfloat16> && kBT) AK_WGMMA_N128("bf16", "0");
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) AK_WGMMA_N128("bf16", "1");
  else if constexpr (kBT) AK_WGMMA_N128("f16", "0");
  else AK_WGMMA_N128("f16", "1");
}
#undef AK_WGMMA_N128

template <typename T, bool kBT, int kAcc>
__device__ __forceinline__ void wgmma_tile(float (&d)[kAcc], uint64_t da, uint64_t db) {
  if constexpr (kAcc == 128) wgmma_n256<T, kBT>(d, da, db);
  else wgmma_n128<T, kBT>(d, da, db);
}

// H_SPLIT_K: the number of blocks in this block's cluster (its split), a 16-byte load from the shared memory of block
// `rank` of the cluster at this block's offset `addr`, and which block of a split stores 64x64 piece q of the tile
// (q = (64-row block) * panels + panel): q + q / S mod S gives each block pieces of both consumer warpgroups
// when S <= panels (S = 2, 256 columns: pieces 0, 3, 4, 7 to rank 0) and one piece each at S = subtiles.
__device__ __forceinline__ int cluster_size() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_nctarank;\n" : "=r"(r));
  return (int)r;
}
__device__ __forceinline__ float4 ld_cluster_v4(uint32_t addr, uint32_t rank) {
  float4 v;
  asm volatile(
      "{\n.reg .b32 remote;\nmapa.shared::cluster.u32 remote, %4, %5;\n"
      "ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [remote];\n}\n"
      : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
      : "r"(addr), "r"(rank)
      : "memory");
  return v;
}
__device__ __forceinline__ void st_shared_v4(uint32_t addr, float a, float b, float c, float d) {
  asm volatile("st.shared.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "f"(a), "f"(b), "f"(c), "f"(d) : "memory");
}
__host__ __device__ constexpr int split_owner(int q, int split) { return (q + q / split) % split; }

// kBT: B is K-major in memory (map_b over its [N, K] storage), so its slice lands as H_BN rows of 64 K values, 128-byte
// swizzled like A's, and wgmma reads it without imm-trans-b. kEpi: the call has a bias and/or a residual (Epilogue);
// without, the epilogue reads nothing but the accumulators.
template <typename T, int NB, bool kSplit, bool kBT, bool kEpi>
__global__ void __launch_bounds__(kThreads, 1)
    gemm(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,
         const __grid_constant__ CUtensorMap map_c, Epilogue<T> epi, int M, int N, int K) {
#ifdef AK_HOPPER_DEVICE
  using Tl = Tile<NB>;
  static_assert(Tl::kValid && (!kSplit || Tl::kCanSplit), "an instantiation the host never launches");
  constexpr int kBN = NB, kAcc = Tl::kAcc, kStageBytes = Tl::kStageBytes, kRoundPanels = Tl::kRoundPanels;
  constexpr int kCStageBytes = Tl::kCStageBytes;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;  // swizzled tiles want 1024-byte alignment
  auto a_tile = [&](int s) { return base + s * kStageBytes; };
  auto b_tile = [&](int s) { return base + s * kStageBytes + kABytes; };
  // One 64x64 panel of a B slice into shared memory: columns n.. of B, K values k.. (map coordinates innermost first).
  auto b_load = [&](uint32_t dst, uint32_t bar, int n, int k) {
    if constexpr (kBT) tma_load(dst, &map_b, bar, k, n);
    else tma_load(dst, &map_b, bar, n, k);
  };
  const uint32_t c_stage0 = base + H_STAGES * kStageBytes;  // persistent only: C's staging, outside the ring
  const uint32_t full0 = c_stage0 + kCStageBytes, empty0 = full0 + H_STAGES * 8;
  const uint32_t bias0 = empty0 + H_STAGES * 8;  // persistent: each consumer's copy of its tile's bias (kBiasSmem)

  constexpr int kTileN = kBN;  // columns of C per tile
  // @shared begin hopper_tile_order: copied in other starters, every copy the same (tests/test_starter_regions.py)
  const int tiles_m = (M + kBM - 1) / kBM, tiles_n = (N + kTileN - 1) / kTileN, tiles = tiles_m * tiles_n;
  const int per_group = GROUP_M * tiles_n;
  // The tile's first row and column, in groups of GROUP_M tile rows (blocks running together share L2).
  auto origin = [&](int tile, int& m0, int& n0) {
    const int first_m = (tile / per_group) * GROUP_M;
    const int group_rows = min(tiles_m - first_m, GROUP_M);
    m0 = (first_m + (tile % per_group) % group_rows) * kBM;
    n0 = ((tile % per_group) / group_rows) * kTileN;
  };
  // @shared end hopper_tile_order
  // H_CLUSTER=2: the unit of work is a pair of vertically neighbouring tiles with one n0; block rank r of the
  // cluster takes the tile at rows (2 pm + r) * kBM, so the two blocks need the same B slices and each loads half
  // of them into both. Pairs follow the tile order above, GROUP_M pair rows per group. With tiles_m odd the last
  // pair's second tile lies below M: its block still loads (and multicasts) its half of B, which the first block
  // needs, reads the first tile's rows of A and stores nothing.
  // H_SPLIT_K (kSplit): a cluster of S blocks shares one tile (the host launches one cluster per tile, so each
  // block does one unit and its ring is free once its MMAs are done), block rank r taking the K slices
  // [r KT / S, (r + 1) KT / S) (the host keeps S <= KT: none is empty; a last partial slice is zero-filled past K
  // by the TMA in both operands, whichever block has it). See the reduction after the MMAs.
  const uint32_t rank = kCluster > 1 || kSplit ? cluster_rank() : 0;
  const int split = kSplit ? cluster_size() : 1;
  const int pairs_m = (tiles_m + 1) / 2, pair_group = GROUP_M * tiles_n;
  const int units = kCluster > 1 ? pairs_m * tiles_n : tiles;  // what the blocks (or clusters) share out
  const int unit0 = kCluster > 1 || kSplit ? cluster_index() : (int)blockIdx.x;
  const int unit_step = kCluster > 1 || kSplit ? cluster_count() : (int)gridDim.x;
  auto unit_origin = [&](int unit, int& m0, int& n0) {
    if constexpr (kCluster == 1) {
      origin(unit, m0, n0);
    } else {
      const int first_m = (unit / pair_group) * GROUP_M;
      const int group_rows = min(pairs_m - first_m, GROUP_M);
      m0 = ((first_m + (unit % pair_group) % group_rows) * 2 + (int)rank) * kBM;
      n0 = ((unit % pair_group) / group_rows) * kTileN;
    }
  };
  const int KT_all = (K + kBK - 1) / kBK;
  const int kt0 = kSplit ? (int)rank * KT_all / split : 0;                    // this block's first K slice
  const int KT = kSplit ? ((int)rank + 1) * KT_all / split - kt0 : KT_all;  // and how many it takes
  const int wg = threadIdx.x / 128;

  if (threadIdx.x == 0) {
    for (int s = 0; s < H_STAGES; ++s) mbar_init(full0 + 8 * s, 1), mbar_init(empty0 + 8 * s, kEmptyArrivals);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  if constexpr (kCluster > 1) cluster_sync();  // both blocks' barriers exist before either block's copies arrive
  else __syncthreads();

  if (wg == 0) {  // producer
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      int it = 0;  // slices issued by this block: the ring's position runs on across tiles
      for (int unit = unit0; unit < units; unit += unit_step) {
        int m0, n0;
        unit_origin(unit, m0, n0);
        const int a_m0 = kCluster > 1 && m0 >= M ? m0 - kBM : m0;  // a pair's tile below M: its neighbour's rows
        for (int kt = 0; kt < KT; ++kt, ++it) {
          const int s = it % H_STAGES;
          // The first round passes at once. With clusters the slot is free once both blocks' consumers let it go.
          mbar_wait(empty0 + 8 * s, ((it / H_STAGES) & 1) ^ 1);
          mbar_expect_tx(full0 + 8 * s, kStageBytes);  // with multicast too: the peer's half of B lands here
          tma_load(a_tile(s), &map_a, full0 + 8 * s, (kt0 + kt) * kBK, a_m0);
          if constexpr (kCluster == 1) {
#pragma unroll
            for (int p = 0; p < kBN / 64; ++p)
              b_load(b_tile(s) + p * kBPanelBytes, full0 + 8 * s, n0 + p * 64, (kt0 + kt) * kBK);
          } else {
            constexpr int kShare = kBN / 64 / kCluster;  // B panels this block loads into every block
#pragma unroll
            for (int q = 0; q < kShare; ++q) {
              const int p = (int)rank * kShare + q;
              const int bn = n0 + p * 64, bk = (kt0 + kt) * kBK;
              tma_load_multicast(b_tile(s) + p * kBPanelBytes, &map_b, full0 + 8 * s, kBT ? bk : bn, kBT ? bn : bk,
                                 (uint16_t)((1u << kCluster) - 1));
            }
          }
        }
      }
    }
    if constexpr (kCluster > 1) cluster_sync();  // the teardown below, reached by every thread of the cluster
    if constexpr (kSplit) cluster_sync(), cluster_sync();  // the split's two (partials staged, partials read)
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
  const int c = wg - 1;  // consumer index
  const int t = threadIdx.x % 128, w = t / 32, lane = t % 32;
  const int row0 = kPingpong ? 0 : c * H_MI * 64;  // this warpgroup's first row in the tile
  // Frees ring slot s: this block's and, with clusters, the peer's (whose producer multicasts into it too); two
  // threads of different warps, so that the remote arrival does not wait behind the local one.
  auto release = [&](int s) {
    if (t == 0) mbar_arrive(empty0 + 8 * s);
    if (kCluster > 1 && t == 32) mbar_arrive_cluster(empty0 + 8 * s, rank ^ 1);
  };
  // H_PINGPONG=1: consumer c takes the block's tiles c, c+2, ... and skips the other's slices in the ring. Its
  // MMAs start only once the other warpgroup has issued all of its previous tile's (named barriers kOrderBar + c:
  // "c has issued", bar.arrive by c, bar.sync by the other), so the two alternate on the tensor cores while each
  // one's epilogue overlaps the other's MMAs. This order also keeps a consumer from waiting on a full barrier
  // more than one phase ahead, where a parity wait could not tell the phases apart.
  constexpr int kOrderBar = 4;  // 0: __syncthreads, 1: the non-persistent epilogue, 2-3: each consumer's epilogue
  constexpr int kTurn = kPingpong ? 2 : 1;
  float acc[H_MI][kAcc];
  // The epilogue's inputs (kEpi): of each 64-column panel, this thread's two columns (N % 8 == 0: both inside C or
  // both past it) of each 8-column group jj, as raw pairs, zero past C's edges; the residual's in rows r and r + 8 of
  // each m64 tile. kPrefetch (persistent, one block per tile): the residual of a round's panels is loaded at once,
  // round 0's before the staging area's wait and round r + 1's while round r is stored, so a tile waits on one
  // load's latency, not one per panel (loaded just before each panel's stores, it cost an H100 ~30% of a
  // 2048x4096x4096 GEMM's time). Loading round 0's during the last K slices would spill: the 256-wide tile's
  // accumulators leave 40 of the 168 registers (so would clusters: 80 bytes). Otherwise each panel's is loaded just
  // before it is stored, as the bias is where it cannot be copied into shared memory (below).
  constexpr int kPanelsPerRound = kPersistent ? kRoundPanels : kBN / 64;
  constexpr bool kPrefetch = kEpi && kPersistent && !kSplit && kCluster == 1;  // with clusters it spills 80 bytes
  constexpr int kInPanels = kPrefetch ? kPanelsPerRound : 1;
  uint32_t res_in[kInPanels][H_MI][8][2];
  auto load_res = [&](int m0, int n0, int p_first) {
#pragma unroll
    for (int q = 0; q < kInPanels; ++q)
#pragma unroll
      for (int jj = 0; jj < 8; ++jj) {
        const int col = n0 + 8 * (8 * (p_first + q) + jj) + 2 * (lane % 4);
#pragma unroll
        for (int i = 0; i < H_MI; ++i)
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int row = m0 + row0 + i * 64 + 16 * w + lane / 4 + 8 * h;
            res_in[q][i][jj][h] = epi.res && col < N && row < M ? load_pair(epi.res + (int64_t)row * N + col, true) : 0u;
          }
      }
  };

  // The bias (persistent, not split): each consumer copies its tile's kBN values into its own shared area with
  // 4-byte cp.async when the tile starts, so they land during the MMAs and the epilogue reads them from shared
  // memory (loaded from global memory just before each panel's stores, a tile waited on them once per panel; the
  // 256-wide tile has no registers to hold them through the MMAs). Needs a 4-byte aligned bias; else as before.
  constexpr bool kBiasSmem = kEpi && kPersistent && !kSplit;
  const bool bias_smem = kBiasSmem && epi.bias && (reinterpret_cast<uintptr_t>(epi.bias) & 3) == 0;
  const uint32_t bias_c = bias0 + c * kBN * 2;
  auto copy_bias = [&](int n0) {
    if (t < kBN / 2) {  // pair t: columns n0 + 2t, n0 + 2t + 1, both inside C or both past it (N % 8 == 0)
      const int col = n0 + 2 * t;
      asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(bias_c + 4 * t),
                   "l"(epi.bias + (col < N ? col : 0)), "r"(col < N ? 4 : 0)
                   : "memory");
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  };

  int it = kPingpong ? c * KT : 0;  // slices consumed or skipped, in step with the producer's count
  for (int unit = unit0 + (kPingpong ? c * unit_step : 0), turn = kPingpong ? c : 0; unit < units;
       unit += kTurn * unit_step, turn += kTurn) {
    int m0, n0;
    unit_origin(unit, m0, n0);
    if (bias_smem) copy_bias(n0);  // the previous tile's epilogue has read the area (its last named barrier)
#pragma unroll
    for (int i = 0; i < H_MI; ++i)
#pragma unroll
      for (int j = 0; j < kAcc; ++j) acc[i][j] = 0.0f;
#pragma unroll
    for (int i = 0; i < H_MI; ++i) fence_regs(acc[i]);
    if constexpr (kPingpong) {
      if (turn > 0) bar_sync(kOrderBar + 1 - c, 256);
    }

    for (int kt = 0; kt < KT; ++kt, ++it) {
      const int s = it % H_STAGES;
      mbar_wait(full0 + 8 * s, (it / H_STAGES) & 1);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kBK / 16; ++kk) {
        // B N-major: the k16 step is 16 rows (2048 bytes) down every panel; panels kBPanelBytes apart (LBO),
        // 8-row groups 1024 bytes apart (SBO). K-major (kBT): as A, its panels one run of H_BN 128-byte rows.
        const uint64_t db =
            kBT ? desc(b_tile(s) + kk * 32, 16, 1024) : desc(b_tile(s) + kk * 2048, kBPanelBytes, 1024);
#pragma unroll
        for (int i = 0; i < H_MI; ++i) {
          // A: 64 rows of 128 bytes from row row0 + i*64; the k16 step is 32 bytes along the
          // swizzled row; 8-row groups 1024 bytes apart (SBO); LBO unused with this swizzle.
          const uint64_t da = desc(a_tile(s) + (row0 + i * 64) * 128 + kk * 32, 16, 1024);
          wgmma_tile<T, kBT>(acc[i], da, db);
        }
      }
      wgmma_commit();
      // Keep this slice's MMAs in flight; the previous slice's are done, so its slot goes back.
      wgmma_wait<1>();
      if (kt > 0) release((it - 1) % H_STAGES);
    }
    if constexpr (kPingpong) {
      if (unit + unit_step < units) bar_arrive(kOrderBar + c, 256);  // the block's next tile may start its MMAs
    }
    wgmma_wait<0>();
    release((it - 1) % H_STAGES);  // the tile's last slot
    if constexpr (kPingpong) it += KT;  // the other warpgroup's tile
#pragma unroll
    for (int i = 0; i < H_MI; ++i) fence_regs(acc[i]);

    // H_SPLIT_K: the split's S blocks each hold a partial f32 tile (their K slices). Each 64x64 piece of the tile
    // (q: this warpgroup's m64 tile ci = c * H_MI + i, panel p) has one owner, split_owner(q, S), which adds the
    // other blocks' partials of it into its registers and stores it; so the S blocks reduce and store in parallel,
    // each reading (S - 1) / S of a tile from its peers. (1) Once both consumers' MMAs are done (named barrier 1),
    // the ring is free (this block's only tile: every slice has landed and been read), and each thread stages the
    // pieces it does not own in its own block at a layout private to it: float4 g of m64 tile ci at
    // ((ci * kAcc / 4 + g) * 128 + t) * 16, a warp's 16-byte stores contiguous. (2) A cluster barrier (release /
    // acquire: the staging is visible to the peers). (3) The owner's same thread reads the peers' float4s of its
    // pieces over distributed shared memory and adds them, in rank order after its own: a fixed order for each
    // element, so the result is deterministic. (4) A second cluster barrier: no block overwrites its staging (the
    // epilogue below reuses it) or exits while a peer may still read it. The producer warpgroup meets both.
    auto owned = [&](int i, int p) {
      return !kSplit || split_owner((c * H_MI + i) * Tl::kPanels + p, split) == (int)rank;
    };
    if constexpr (kSplit) {
      asm volatile("bar.sync 1, %0;\n" ::"n"(128 * H_CONSUMERS) : "memory");
      auto slot = [&](int i, int g) { return base + (uint32_t)((((c * H_MI + i) * (kAcc / 4) + g) * 128 + t) * 16); };
#pragma unroll
      for (int i = 0; i < H_MI; ++i)
#pragma unroll
        for (int p = 0; p < Tl::kPanels; ++p) {
          if (owned(i, p)) continue;
#pragma unroll
          for (int g = 8 * p; g < 8 * p + 8; ++g)
            st_shared_v4(slot(i, g), acc[i][4 * g], acc[i][4 * g + 1], acc[i][4 * g + 2], acc[i][4 * g + 3]);
        }
      cluster_sync();
      for (int peer = 0; peer < split; ++peer) {
        if (peer == (int)rank) continue;
#pragma unroll
        for (int i = 0; i < H_MI; ++i)
#pragma unroll
          for (int p = 0; p < Tl::kPanels; ++p) {
            if (!owned(i, p)) continue;
            float4 v[8];  // a panel's 32 accumulators: eight loads in flight before the adds
#pragma unroll
            for (int g = 0; g < 8; ++g) v[g] = ld_cluster_v4(slot(i, 8 * p + g), (uint32_t)peer);
#pragma unroll
            for (int g = 0; g < 8; ++g) {
              const int j = 4 * (8 * p + g);
              acc[i][j] += v[g].x, acc[i][j + 1] += v[g].y, acc[i][j + 2] += v[g].z, acc[i][j + 3] += v[g].w;
            }
          }
      }
      cluster_sync();
    }

    // Epilogue: round the tile into shared memory and store it with TMA (which clips at the M/N edges).
    // The staged tile is kept as 64-column panels of 64 rows x 128 bytes, 128-byte swizzled like the TMA
    // box, so a warp's 8 rows of one 16-byte column chunk fall in 8 different bank groups.
    // Accumulator layout of m64nN: warp w of the warpgroup holds rows 16w..16w+15; register 4j+{0,1}
    // is (row lane/4, cols 8j + 2(lane%4) + {0,1}), 4j+{2,3} the same 8 rows further down.
    // Not persistent: once every consumer's MMAs are done, every slice has landed and been read, so the
    // whole tile is staged in the ring at once. Persistent: the ring is already filling with the next
    // tile, so each consumer stages kRoundPanels panels per m64 tile at a time in its own area.
    const uint32_t c_tile = kPersistent ? c_stage0 + c * H_MI * kRoundPanels * 8192
                                        : base + c * H_MI * (kBN / 64) * 8192;  // this warpgroup's panels
    const bool store = kCluster == 1 || m0 < M;  // a cluster's tile below M stores nothing
    if constexpr (!kPersistent) asm volatile("bar.sync 1, %0;\n" ::"n"(128 * H_CONSUMERS) : "memory");
#pragma unroll
    for (int p0 = 0; p0 < kBN / 64; p0 += kPanelsPerRound) {
      if constexpr (kPrefetch) {
        if (p0 == 0) load_res(m0, n0, 0);  // in flight through the wait below
      }
      if constexpr (kPersistent) {
        // The staging area is free once the previous store from it has been read; the tile's bias copies have
        // landed (each thread waits for its own, the barrier shows them to all).
        if (t == 0) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
        if (bias_smem && p0 == 0) asm volatile("cp.async.wait_all;\n" ::: "memory");
        asm volatile("bar.sync %0, 128;\n" ::"r"(2 + c) : "memory");
      }
#pragma unroll
      for (int q = 0; q < kPanelsPerRound; ++q) {
        if constexpr (kEpi && !kPrefetch) load_res(m0, n0, p0 + q);  // this panel's, now
        constexpr int qi = kPrefetch ? 1 : 0;  // the panel's index in res_in: q when prefetched, else 0
        uint32_t bias_in[8];
#pragma unroll
        for (int jj = 0; jj < 8; ++jj) {
          // The bias may sit at any 2-byte offset (a slice of a larger tensor): then it is read from global memory.
          const int col = n0 + 8 * (8 * (p0 + q) + jj) + 2 * (lane % 4);
          if (bias_smem) {
            asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(bias_in[jj]) : "r"(bias_c + 2 * (col - n0)));
          } else {
            bias_in[jj] = kEpi && epi.bias && col < N ? load_pair(epi.bias + col, false) : 0u;
          }
        }
#pragma unroll
        for (int i = 0; i < H_MI; ++i) {
          if (!owned(i, p0 + q)) continue;  // H_SPLIT_K: another block of the split stores this piece
          const uint32_t panel = c_tile + (i * kPanelsPerRound + q) * 8192;
#pragma unroll
          for (int jj = 0; jj < 8; ++jj) {
            const int j = 8 * (p0 + q) + jj;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
              const int r = 16 * w + lane / 4 + 8 * h;
              const uint32_t addr = panel + r * 128 + ((jj ^ (r % 8)) * 16) + (lane % 4) * 4;
              float2 e = make_float2(0.0f, 0.0f);
              if constexpr (kEpi) {
                const float2 b = unpack_pair<T>(bias_in[jj]), res = unpack_pair<T>(res_in[qi * q][i][jj][h]);
                e = make_float2(b.x + res.x, b.y + res.y);
              }
              st_shared_pair<T>(addr, acc[i][4 * j + 2 * h] + e.x, acc[i][4 * j + 2 * h + 1] + e.y);
            }
          }
        }
      }
      // The next round's inputs load while this round is stored.
      if constexpr (kPrefetch) {
        if (p0 + kPanelsPerRound < kBN / 64) load_res(m0, n0, p0 + kPanelsPerRound);
      }
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // the TMA (async proxy) reads these writes
      asm volatile("bar.sync %0, 128;\n" ::"r"(2 + c) : "memory");
      if (t == 0) {
        if (store) {
#pragma unroll
          for (int i = 0; i < H_MI; ++i)
#pragma unroll
            for (int p = 0; p < kPanelsPerRound; ++p)
              if (owned(i, p0 + p))
                tma_store(&map_c, c_tile + (i * kPanelsPerRound + p) * 8192, n0 + 64 * (p0 + p), m0 + row0 + i * 64);
        }
        asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
      }
    }
  }
  if (t == 0) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");  // shared memory stays until read
  // With clusters, no block leaves while its peer may still arrive on its empty barriers (the peer's consumers
  // release every slot in both blocks); the producer warpgroup meets the consumers here.
  if constexpr (kCluster > 1) cluster_sync();
#else
  __trap();  // not an sm_90a build: the host should not have chosen this path
#endif
}
}  // namespace hopper

// ---- SIMT fallback (f32; unaligned pointers; N or K not a multiple of 8) -----------------------
// A 64x64 tile per block, 16-deep K slices staged in shared memory as f32 (zero past the edges),
// each of 256 threads owning a 4x4 micro-tile spaced 16 rows / 16 columns apart.
constexpr int kSBM = 64, kSBN = 64, kSBK = 16, kSTM = 4;
constexpr int kSRows = kSBM / kSTM, kSCols = kSBN / kSTM, kSThreads = kSRows * kSCols;

// b(k, n) is B[k * bk + n * bn]: row-major B (bk = its row stride, bn = 1) or K-major (bk = 1, bn = its column stride).
template <typename T>
__global__ void __launch_bounds__(kSThreads)
    simt_gemm(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C, Epilogue<T> epi, int M,
              int N, int K, int64_t bk, int64_t bn) {
  __shared__ float As[kSBK][kSBM + 1];  // k-major; +1: the transposing store is conflict-free
  __shared__ float Bs[kSBK][kSBN];

  const int tiles_n = (N + kSBN - 1) / kSBN;
  const int tid = threadIdx.x, tx = tid % kSCols, ty = tid / kSCols;
  const int m0 = (blockIdx.x / tiles_n) * kSBM, n0 = (blockIdx.x % tiles_n) * kSBN;

  float acc[kSTM][kSTM];
#pragma unroll
  for (int i = 0; i < kSTM; ++i)
#pragma unroll
    for (int j = 0; j < kSTM; ++j) acc[i][j] = 0.0f;

  for (int k0 = 0; k0 < K; k0 += kSBK) {
    for (int e = tid; e < kSBM * kSBK; e += kSThreads) {
      const int r = e / kSBK, c = e % kSBK, gm = m0 + r, gk = k0 + c;
      As[c][r] = (gm < M && gk < K) ? to_f32(A[(int64_t)gm * K + gk]) : 0.0f;
    }
    for (int e = tid; e < kSBK * kSBN; e += kSThreads) {
      const int r = e / kSBN, c = e % kSBN, gk = k0 + r, gn = n0 + c;
      Bs[r][c] = (gk < K && gn < N) ? to_f32(B[gk * bk + gn * bn]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kSBK; ++kk) {
      float a[kSTM], b[kSTM];
#pragma unroll
      for (int i = 0; i < kSTM; ++i) a[i] = As[kk][ty + i * kSRows];
#pragma unroll
      for (int j = 0; j < kSTM; ++j) b[j] = Bs[kk][tx + j * kSCols];
#pragma unroll
      for (int i = 0; i < kSTM; ++i)
#pragma unroll
        for (int j = 0; j < kSTM; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kSTM; ++i) {
    const int gm = m0 + ty + i * kSRows;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < kSTM; ++j) {
      const int gn = n0 + tx + j * kSCols;
      if (gn >= N) continue;
      float v = acc[i][j] + (epi.bias ? to_f32(epi.bias[gn]) : 0.0f);
      if (epi.res) v += to_f32(epi.res[(int64_t)gm * N + gn]);
      C[(int64_t)gm * N + gn] = from_f32<T>(v);
    }
  }
}

// ---- host ----------------------------------------------------------------------------------
static bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

// B's memory: row-major (b(k, n) at B[k * ld + n]) or K-major (bt: at B[n * ld + k], F.linear's weight as it is).
struct BLayout {
  bool bt;
  int64_t ld;
};

template <typename T>
static int launch_simt(const T* A, const T* B, T* C, Epilogue<T> epi, int64_t M, int64_t N, int64_t K, BLayout b,
                       cudaStream_t stream) {
  const int64_t blocks = ((M + kSBM - 1) / kSBM) * ((N + kSBN - 1) / kSBN);
  if (blocks > INT32_MAX) return 1;
  simt_gemm<T><<<(unsigned)blocks, kSThreads, 0, stream>>>(A, B, C, epi, (int)M, (int)N, (int)K, b.bt ? 1 : b.ld,
                                                           b.bt ? b.ld : 1);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
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

// @shared begin make_map_2d: copied in other starters, every copy the same (tests/test_starter_regions.py)
// A row-major [rows, cols] 16-bit matrix read or written in boxes of box_rows x 64 columns (128 bytes), 128-byte
// swizzled; its rows ld elements apart (0: cols, contiguous).
static bool make_map(CUtensorMap* map, const void* ptr, bool bf16, uint64_t rows, uint64_t cols, uint32_t box_rows,
                     uint64_t ld = 0) {
  const auto encode = tensor_map_encoder();
  if (!encode) return false;
  cuuint64_t dims[2] = {cols, rows};
  cuuint64_t strides[1] = {(ld ? ld : cols) * 2};
  cuuint32_t box[2] = {64, box_rows};
  cuuint32_t elem_strides[2] = {1, 1};
  return encode(map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2, const_cast<void*>(ptr),
                dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}
// @shared end make_map_2d

// ---- Hopper: which tile and split a call gets -----------------------------------------------
// With H_BN=0 and/or H_SPLIT_K=0 the host picks, per call, among the compiled tiles (128 x 256 and 128 x 128 at the
// default H_MI=1, H_CONSUMERS=2) and splits (1, 2, 4) the one whose predicted time is least, as cuBLAS's
// heuristics pick a kernel per shape. The prediction, in units of one 128x256x64 slice on one SM:
//   S = 1, persistent:  ceil(tiles / slots) * KT * slice + fill
//   otherwise:          ceil(tiles * S / slots) * (ceil(KT / S) * slice + reduce(S) + fill)
// where slots are the blocks that run at once (the SMs; with clusters, the resident clusters times their size,
// which the GPCs' SM counts can make fewer), KT the 64-deep K slices, slice = tile area / (128 x 256) / rate, and
// tiles count the edge tiles whole, so both wave quantisation (64 tiles of 128x256 on 132 SMs: 48% busy) and a tile's
// padding past M or N (N = 128 tokens in a 256-wide tile) cost what they waste. The constants are fitted to a sweep of
// every option (H_BN x H_SPLIT_K forced) at 18 shapes, 128-2048 tokens by 1024-14336 x 4096-14336, on an H100
// (split_sweep.txt in bench/results/2026-12-07_NVIDIA-H100-80GB-HBM3_cluster_barriers_split_plan/), where they pick the
// fastest option at every shape (bench/fit_split_plan.py; tests/bench holds them to it): a 256-wide slice took ~0.70 us
// and a 128-wide one ~0.40 (rate 0.9: the narrow tile does 0.9x the 256-wide one's work per SM-second); fill (2 units,
// ~1.4 us: the first TMA loads' latency and the last tile's epilogue) is paid once per block; a split costs each of its
// blocks 8-13 us more (reduce(S): ~12 units for the cluster launch and barriers, plus 8 units per 128x256 f32 tile of
// which (S - 1) / S is read over distributed shared memory), far more than the ~2 units first guessed, which split 512
// tokens in two: 35.3 us, where 128-wide tiles unsplit take 29.8 (512x4096x4096). A later option (a narrower tile, a
// larger split) replaces an earlier one only when predicted 2% faster: ties go to the wider tile and the smaller split.
// Picks at 132 SMs (30 clusters of 4 resident; the static_asserts below): 128 and 256 tokens of the 4096 projections
// split the 128-wide tile in two, 512 leave it unsplit; 128 tokens of a 1024-wide k/v projection split it in four; 2048
// tokens and up, 4096^3 and the LM heads stay at 128x256 unsplit.
namespace plan {
constexpr double kNarrowRate = 0.9;  // a 128-wide tile's per-SM rate against a 256-wide one's (H100, above)
constexpr double kFill = 2.0, kBarriers = 12.0, kMovePerTile = 8.0;  // [slices of 128x256x64], see above
// One way to run a call: the tile's width, the split (blocks sharing one tile's K), and how many blocks (or
// clusters' worth of tiles, with H_CLUSTER=2) run at once.
struct Option {
  int bn, split, slots;
};
constexpr int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
// Predicted time of one call (units above); bm: rows of one unit of work (a tile, or a cluster's pair of tiles).
constexpr double cost(int64_t M, int64_t N, int64_t K, int bm, bool persistent, Option o) {
  const int64_t tiles = cdiv(M, bm) * cdiv(N, o.bn), kt = cdiv(K, 64);
  const double area = double(bm) * o.bn / (128.0 * 256.0);
  const double slice = area / (o.bn >= 256 ? 1.0 : kNarrowRate);
  if (o.split == 1 && persistent) return double(cdiv(tiles, o.slots)) * (double(kt) * slice) + kFill;
  const double reduce = o.split > 1 ? kBarriers + kMovePerTile * area * (o.split - 1) / o.split : 0.0;
  return double(cdiv(tiles * o.split, o.slots)) * (double(cdiv(kt, o.split)) * slice + reduce + kFill);
}
// The index of the option to run: the least predicted time, an earlier option kept unless a later one is 2% faster.
constexpr int best(int64_t M, int64_t N, int64_t K, int bm, bool persistent, const Option* o, int n) {
  int pick = 0;
  double t = cost(M, N, K, bm, persistent, o[0]);
  for (int i = 1; i < n; ++i) {
    const double ti = cost(M, N, K, bm, persistent, o[i]);
    if (ti < 0.98 * t) pick = i, t = ti;
  }
  return pick;
}
// The defaults' options on an H100 (132 SMs; 66 clusters of 2 and, as the sweep's two waves of 128 blocks of
// split 4 say, fewer than 32 of 4 resident: 30 taken; a launch asks the device), for the checks below.
constexpr Option kH100[] = {{256, 1, 132}, {256, 2, 132}, {256, 4, 120}, {128, 1, 132}, {128, 2, 132}, {128, 4, 120}};
constexpr bool picks(int64_t M, int64_t N, int64_t K, int bn, int split) {
  const Option o = kH100[best(M, N, K, 128, true, kH100, 6)];
  return o.bn == bn && o.split == split;
}
// Each the fastest option in the sweep above (x: tokens x in-features, W: out-features x in-features).
static_assert(picks(128, 4096, 4096, 128, 2) && picks(256, 4096, 4096, 128, 2) && picks(512, 4096, 4096, 128, 1),
              "128-512 tokens, 4096 -> 4096");
static_assert(picks(128, 4096, 14336, 256, 4) && picks(256, 4096, 14336, 128, 2) && picks(512, 4096, 14336, 128, 1),
              "down projection");
static_assert(picks(128, 14336, 4096, 128, 1) && picks(512, 14336, 4096, 256, 1) && picks(1024, 14336, 4096, 128, 1),
              "gate/up projections");
static_assert(picks(128, 1024, 4096, 128, 4) && picks(512, 1024, 4096, 128, 2) && picks(2048, 1024, 4096, 128, 1),
              "k/v projections");
static_assert(picks(4096, 4096, 4096, 256, 1) && picks(2048, 4096, 4096, 256, 1) && picks(2048, 14336, 4096, 256, 1) &&
                  picks(2048, 12288, 4096, 256, 1) && picks(512, 128256, 4096, 256, 1) &&
                  picks(2048, 2048, 2048, 256, 1),
              "large shapes keep the 128x256 tile unsplit");
}  // namespace plan

// The device's properties a launch needs, asked once per device: cudaDeviceGetAttribute on every call cost more
// host time than a small GEMM takes on the GPU (skinny_gemm, H100). sms = 0: the query failed.
struct DeviceInfo {
  int sms, optin, major;
};
static DeviceInfo device_info(int dev) {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> sms[kMaxDevices], optin[kMaxDevices], major[kMaxDevices];  // static storage: zero
  const bool cached = dev >= 0 && dev < kMaxDevices;
  if (cached && sms[dev].load(std::memory_order_acquire) > 0)
    return {sms[dev].load(std::memory_order_relaxed), optin[dev].load(std::memory_order_relaxed),
            major[dev].load(std::memory_order_relaxed)};
  DeviceInfo d{0, 0, 0};
  if (cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&d.optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&d.major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
    return {0, 0, 0};
  if (cached) {
    optin[dev].store(d.optin, std::memory_order_relaxed);
    major[dev].store(d.major, std::memory_order_relaxed);
    sms[dev].store(d.sms, std::memory_order_release);
  }
  return d;
}

// Raises one Hopper kernel's dynamic shared-memory limit once per device (a driver call costs host time on every
// launch). Keyed by the instantiation's template arguments: each kernel has its own attribute.
template <typename T, int NB, bool kSplit, bool kBT, bool kEpi>
static bool opted_in(int dev) {
  static std::atomic<uint64_t> done{0};  // bit d: device d is set
  const uint64_t bit = dev >= 0 && dev < 64 ? 1ull << dev : 0;
  if (bit && (done.load() & bit)) return true;
  if (cudaFuncSetAttribute(hopper::gemm<T, NB, kSplit, kBT, kEpi>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           hopper::Tile<NB>::kSmemBytes) != cudaSuccess)
    return false;
  done.fetch_or(bit);
  return true;
}

// A launch of `blocks` blocks of a Hopper kernel in clusters of `cluster` along x; `attr` must outlive it.
static cudaLaunchConfig_t cluster_config(cudaLaunchAttribute* attr, unsigned blocks, int cluster, int smem,
                                         cudaStream_t stream) {
  attr->id = cudaLaunchAttributeClusterDimension;
  attr->val.clusterDim.x = cluster;
  attr->val.clusterDim.y = 1;
  attr->val.clusterDim.z = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(blocks);
  cfg.blockDim = dim3(hopper::kThreads);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return cfg;
}

// Clusters of `cluster` blocks of the kernel that the device runs at once (the GPCs' SM counts decide it, not just
// SMs / cluster); asked once per device and cluster size, after opted_in. 0 when the query fails.
template <typename T, int NB, bool kSplit, bool kBT, bool kEpi>
static int resident_clusters(int cluster, int dev) {
  static std::atomic<int> known[5][64];  // [cluster size 1..4][device]; static storage: zero, i.e. not asked yet
  const bool cached = dev >= 0 && dev < 64 && cluster >= 1 && cluster <= 4;
  if (cached && known[cluster][dev].load() > 0) return known[cluster][dev].load();
  cudaLaunchAttribute attr;
  const cudaLaunchConfig_t cfg = cluster_config(&attr, cluster, cluster, hopper::Tile<NB>::kSmemBytes, nullptr);
  int n = 0;
  if (cudaOccupancyMaxActiveClusters(&n, hopper::gemm<T, NB, kSplit, kBT, kEpi>, &cfg) != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky: clear it so the launch's own check is not misled
    return 0;
  }
  if (n > 0 && cached) known[cluster][dev].store(n);
  return n;
}

// The options of the NB-wide tile for this call (plan::Option), appended to o[n++]: splits 1, 2, 4 with H_SPLIT_K=0,
// else H_SPLIT_K alone (1 where it cannot run: see Tile::kCanSplit; no more blocks than K slices or 64x64 pieces).
template <typename T, int NB, bool kBT, bool kEpi>
static void add_options(plan::Option* o, int& n, int64_t K, const DeviceInfo& d, int dev) {
  using Tl = hopper::Tile<NB>;
  if constexpr (Tl::kValid) {
    if (Tl::kSmemBytes > d.optin || !opted_in<T, NB, false, kBT, kEpi>(dev)) return;
    int slots = d.sms;  // one block per SM (the shared memory allows no second)
    if constexpr (hopper::kCluster > 1) {
      slots = resident_clusters<T, NB, false, kBT, kEpi>(hopper::kCluster, dev);
      if (slots <= 0) slots = d.sms / hopper::kCluster;
    }
    const int first = n;
    if (H_SPLIT_K <= 1) o[n++] = {NB, 1, slots};
    if constexpr (Tl::kCanSplit && H_SPLIT_K != 1) {
      const int64_t kt = (K + hopper::kBK - 1) / hopper::kBK;
      for (int split = 2; split <= 4; split *= 2) {
        if ((H_SPLIT_K != 0 && H_SPLIT_K != split) || split > kt || split > Tl::kSubtiles) continue;
        if (!opted_in<T, NB, true, kBT, kEpi>(dev)) break;
        const int clusters = resident_clusters<T, NB, true, kBT, kEpi>(split, dev);
        if (clusters > 0) o[n++] = {NB, split, clusters * split};
      }
    }
    if (n == first) o[n++] = {NB, 1, slots};  // the split asked for cannot run here: none
  }
}

// One launch of the NB-wide tile's kernel: persistent (grid = min(units, slots)), or one cluster of `split` blocks
// per tile, or (H_PERSISTENT=0) one block per tile.
template <typename T, int NB, bool kSplit, bool kBT, bool kEpi>
static int launch_tile(const T* A, const T* B, T* C, Epilogue<T> epi, int64_t M, int64_t N, int64_t K, int64_t ldb,
                       plan::Option o, cudaStream_t stream) {
  using hopper::kBM, hopper::kBK, hopper::kCluster;
  constexpr int kSmem = hopper::Tile<NB>::kSmemBytes;
  // What the blocks share out: tiles, or with clusters pairs of vertically neighbouring tiles.
  // ceil(tiles_m / kCluster) * tiles_n
  int64_t units = ((M + kCluster * kBM - 1) / (kCluster * kBM)) * ((N + NB - 1) / NB);
  if (units * kCluster * o.split > INT32_MAX) return 1;
  if (!kSplit && hopper::kPersistent) units = units < o.slots ? units : o.slots;
  const int cluster = kSplit ? o.split : kCluster;
  const int64_t blocks = units * cluster;
  CUtensorMap map_a, map_b, map_c;
  const bool bf16 = std::is_same_v<T, __nv_bfloat16>;
  // B's boxes are 64 x 64 panels either way: 64 K rows of 64 columns, or (kBT) 64 columns of B of 64 K values.
  const bool b_ok = kBT ? make_map(&map_b, B, bf16, N, K, 64, ldb) : make_map(&map_b, B, bf16, K, N, kBK, ldb);
  if (!make_map(&map_a, A, bf16, M, K, kBM) || !b_ok || !make_map(&map_c, C, bf16, M, N, 64))
    return 1;
  if (cluster == 1) {
    hopper::gemm<T, NB, kSplit, kBT, kEpi><<<(unsigned)blocks, hopper::kThreads, kSmem, stream>>>(map_a, map_b, map_c, epi,
                                                                                            (int)M, (int)N, (int)K);
  } else {
    cudaLaunchAttribute attr;
    const cudaLaunchConfig_t cfg = cluster_config(&attr, (unsigned)blocks, cluster, kSmem, stream);
    if (cudaLaunchKernelEx(&cfg, hopper::gemm<T, NB, kSplit, kBT, kEpi>, map_a, map_b, map_c, epi, (int)M, (int)N, (int)K) !=
        cudaSuccess)
      return 1;
  }
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

template <typename T, bool kBT, bool kEpi>
static int launch_hopper(const T* A, const T* B, T* C, Epilogue<T> epi, int64_t M, int64_t N, int64_t K, int64_t ldb,
                         const DeviceInfo& d, int dev, cudaStream_t stream) {
  // Only the kernels these knobs can pick are compiled: H_BN=128 or 256 one tile, H_SPLIT_K=1 no split kernel.
  constexpr bool k256 = (H_BN == 0 || H_BN == 256) && hopper::Tile<256>::kValid, k128 = H_BN == 0 || H_BN == 128;
  constexpr bool k256Split = k256 && hopper::Tile<256>::kCanSplit && H_SPLIT_K != 1;
  constexpr bool k128Split = k128 && hopper::Tile<128>::kCanSplit && H_SPLIT_K != 1;
  plan::Option o[6];
  int n = 0;
  if constexpr (k256) add_options<T, 256, kBT, kEpi>(o, n, K, d, dev);
  if constexpr (k128) add_options<T, 128, kBT, kEpi>(o, n, K, d, dev);
  if (n == 0) return 1;  // no tile's ring fits the device
  const plan::Option pick = o[plan::best(M, N, K, hopper::kCluster * hopper::kBM, hopper::kPersistent, o, n)];
  if constexpr (k256Split) {
    if (pick.bn == 256 && pick.split > 1)
      return launch_tile<T, 256, true, kBT, kEpi>(A, B, C, epi, M, N, K, ldb, pick, stream);
  }
  if constexpr (k256) {
    if (pick.bn == 256) return launch_tile<T, 256, false, kBT, kEpi>(A, B, C, epi, M, N, K, ldb, pick, stream);
  }
  if constexpr (k128Split) {
    if (pick.bn == 128 && pick.split > 1)
      return launch_tile<T, 128, true, kBT, kEpi>(A, B, C, epi, M, N, K, ldb, pick, stream);
  }
  if constexpr (k128) {
    if (pick.bn == 128) return launch_tile<T, 128, false, kBT, kEpi>(A, B, C, epi, M, N, K, ldb, pick, stream);
  }
  return 1;
}

template <typename T, bool kBT>
static int launch_mma(const T* A, const T* B, T* C, Epilogue<T> epi, int64_t M, int64_t N, int64_t K, int64_t ldb,
                      const DeviceInfo& d, cudaStream_t stream) {
  const int64_t blocks = ((M + BM - 1) / BM) * ((N + BN - 1) / BN);
  if (blocks > INT32_MAX) return 1;
  if (kSmemBytes > d.optin) return 1;  // this ring does not fit the device
  if (kSmemBytes > 48 * 1024 &&
      cudaFuncSetAttribute(mma_gemm<T, kBT>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes) != cudaSuccess)
    return 1;
  mma_gemm<T, kBT><<<(unsigned)blocks, kThreads, kSmemBytes, stream>>>(A, B, C, epi, (int)M, (int)N, (int)K, ldb);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

// The optional inputs after A and B (checked by ak_kernel): a 1-d one is the bias, a 2-d one the residual.
template <typename T>
static Epilogue<T> epilogue_of(const ak_call* call) {
  Epilogue<T> e{nullptr, nullptr};
  for (int i = 2; i < call->n_inputs; ++i) {
    const T* p = static_cast<const T*>(call->inputs[i].data);
    (call->inputs[i].ndim == 1 ? e.bias : e.res) = p;
  }
  return e;
}

template <typename T>
static int launch(const ak_call* call, int64_t M, int64_t N, int64_t K, BLayout b) {
  const T* A = static_cast<const T*>(call->inputs[0].data);
  const T* B = static_cast<const T*>(call->inputs[1].data);
  T* C = static_cast<T*>(call->outputs[0].data);
  const Epilogue<T> epi = epilogue_of<T>(call);
  cudaStream_t stream = (cudaStream_t)call->stream;
  // The tensor-core paths copy whole 16-byte chunks of A's rows, B's rows (or K-major columns) and C's rows, and read
  // the residual in aligned pairs.
  if (N % 8 != 0 || K % 8 != 0 || b.ld % 8 != 0 || !aligned16(A) || !aligned16(B) || !aligned16(C) ||
      (epi.res && !aligned16(epi.res)))
    return launch_simt(A, B, C, epi, M, N, K, b, stream);
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return 1;
  const DeviceInfo d = device_info(dev);
  if (d.sms <= 0) return 1;
  if (d.major == 9 && K > 0) {
    // Without a bias or residual the kernel has no epilogue loads at all (kEpi = false): measured on an H100 at
    // 2048x4096x4096, a runtime-skipped epilogue cost the plain GEMM 3-5%.
    if (epi.bias || epi.res)
      return b.bt ? launch_hopper<T, true, true>(A, B, C, epi, M, N, K, b.ld, d, dev, stream)
                  : launch_hopper<T, false, true>(A, B, C, epi, M, N, K, b.ld, d, dev, stream);
    return b.bt ? launch_hopper<T, true, false>(A, B, C, epi, M, N, K, b.ld, d, dev, stream)
                : launch_hopper<T, false, false>(A, B, C, epi, M, N, K, b.ld, d, dev, stream);
  }
  return b.bt ? launch_mma<T, true>(A, B, C, epi, M, N, K, b.ld, d, stream)
              : launch_mma<T, false>(A, B, C, epi, M, N, K, b.ld, d, stream);
}

template <>
int launch<float>(const ak_call* call, int64_t M, int64_t N, int64_t K, BLayout b) {
  return launch_simt(static_cast<const float*>(call->inputs[0].data), static_cast<const float*>(call->inputs[1].data),
                     static_cast<float*>(call->outputs[0].data), epilogue_of<float>(call), M, N, K, b,
                     (cudaStream_t)call->stream);
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs < 2 || call->n_inputs > 4 || call->n_outputs != 1) return 1;
  const ak_tensor *A = &call->inputs[0], *B = &call->inputs[1], *C = &call->outputs[0];
  if (A->ndim != 2 || B->ndim != 2 || C->ndim != 2) return 1;
  if (B->dtype != A->dtype || C->dtype != A->dtype) return 1;
  const int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
  if (B->shape[0] != K || C->shape[0] != M || C->shape[1] != N) return 1;
  // After A and B: bias[N] (one per column of C) and residual[M, N] (row-major), each at most once, in that order.
  for (int i = 2, seen = 0; i < call->n_inputs; ++i) {
    const ak_tensor* t = &call->inputs[i];
    const int nd = t->ndim;
    if (t->dtype != A->dtype || nd <= seen || nd > 2) return 1;
    seen = nd;
    if (nd == 1 && (t->shape[0] != N || (N > 1 && t->stride[0] != 1))) return 1;
    if (nd == 2 && (t->shape[0] != M || t->shape[1] != N || t->stride[1] != 1 || (M > 1 && t->stride[0] != N))) return 1;
  }
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) return 1;  // int indices inside the kernels
  if (M == 0 || N == 0) return 0;
  if (A->stride[1] != 1 || (M > 1 && A->stride[0] != K) || C->stride[1] != 1 || (M > 1 && C->stride[0] != N)) return 1;
  // B row-major, or K-major (kernel_abi.h: B = W^T with F.linear's weight W [N, K] as it is), rows ld apart.
  BLayout b;
  if (B->stride[1] == 1 && (K == 1 || B->stride[0] >= N)) b = {false, K == 1 ? N : B->stride[0]};
  else if (B->stride[0] == 1 && (N == 1 || B->stride[1] >= K)) b = {true, N == 1 ? K : B->stride[1]};
  else return 1;
  switch (A->dtype) {
    case AK_F16: return launch<__half>(call, M, N, K, b);
    case AK_BF16: return launch<__nv_bfloat16>(call, M, N, K, b);
    case AK_F32: return launch<float>(call, M, N, K, b);
    default: return 1;
  }
}
