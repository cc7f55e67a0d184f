// @autokernel type=fused_mlp
// Gated MLP: y[M,E] = (act(x Wg^T) * (x Wu^T)) Wd^T with Wg, Wu [F,E], Wd [E,F]; the scalar ACT (0 if none)
// picks act: 0 silu (SwiGLU), 1 the GELU's tanh form, 2 the exact GELU (GeGLU), each a template instance
// of every gate kernel (enum Act), chosen at run time. Two launches of one
// tensor-core GEMM for bf16/f16 ("NT": both operands contiguous along the reduction dim, so both
// are read with plain ldmatrix), f32 accumulation:
//   1. h[M,F] = act(x Wg^T) * (x Wu^T): a block computes a BM x BN/2 tile of h; the gate and up
//      products share the staged x tile, keep two accumulator sets (so the same MMA work, registers
//      and shared memory per block as step 2) and act * mul is fused into the epilogue. h is
//      rounded to the input dtype, as eager PyTorch does;
//   2. y = h Wd^T, a BM x BN tile per block.
// On Hopper (compute capability 9.x) each GEMM is a TMA + wgmma kernel with a TMA-store epilogue,
// its tile set by the H_* knobs (see "Hopper kernel" below). On other sm_80+ GPUs, each GEMM is
// mma.sync.m16n8k16 (any sm_80+ GPU) on WARPS_M x WARPS_N warps; BK-deep slices stream
// through a STAGES-deep shared-memory ring of 16-byte cp.async copies (zero fill past the edges);
// the shared tiles are XOR-swizzled so ldmatrix is bank-conflict free; blocks run in groups of
// GROUP_M tile rows for L2 reuse; the epilogue stages the tile in shared memory for 16-byte stores.
// h takes M*F elements of scratch: the ABI gives no allocator, so it comes from the stream-ordered
// pool (cudaMallocAsync / cudaFreeAsync on the call's stream; no sync, no leak). Keeping the h tile
// on chip (one fused kernel) is the tuner's job. E and F must be multiples of 8 and the pointers
// 16-byte aligned for the tensor-core path; other calls, and f32, take a plain SIMT GEMM (h in f32).
// Decode (f16/bf16, M <= SMALL_M, the tensor-core path's alignment): two weight-streaming mma.sync kernels
// instead (any sm_80+; see "small-M (decode) path"): each warp streams its rows of Wg and Wu (then of Wd) once,
// W as the MMA's M side and the tokens as its N, act(g) * u in registers; a split over K where rows are few.
// ptxas (nvcc 13.0, sm_90a): the mma.sync gate kernel's erf instance spills 72 bytes in its epilogue (erfcf's
// registers at 255), every other instance none (the small-M kernels: 100-172 registers at the defaults).
// @knob BM=128 {64,128,256} rows (tokens) per block, both GEMMs
// @knob BN=128 {64,128,256} output columns per block of the down GEMM (the gate/up GEMM: BN/2 columns of h)
// @knob BK=32 {32,64} depth of one shared-memory K slice
// @knob WARPS_M=2 {1,2,4} warps along M; over 64x64 accumulators per warp or 32K per block (spills) do not compile
// @knob WARPS_N=2 {1,2,4} warps along N; BN/2 must split into 16-column warp tiles (BN=64 with 4 does not compile)
// @knob STAGES=4 {2,3,4,5} depth of the cp.async ring; a ring over the device's shared memory fails the call
// @knob GROUP_M=8 {1,4,8,16} tile rows per L2 group of the block order (both tensor-core kernels; pairs of tile rows with H_CLUSTER=2)
// @knob H_BN=256 {128,256} Hopper: weight rows per block (the gate/up GEMM: H_BN/2 of Wg and of Wu)
// @knob H_MI=1 {1,2} Hopper: 64-row wgmma tiles per consumer warpgroup; 2 with H_BN=256 does not compile (spills)
// @knob H_CONSUMERS=2 {1,2} Hopper: consumer warpgroups per block; rows per block = 64 * H_MI * H_CONSUMERS
// @knob H_STAGES=4 {2,3,4,5,6} Hopper: depth of the TMA ring; a ring over the device's shared memory fails the call
// @knob H_PERSISTENT=1 {0,1} Hopper: 1 = one block per SM looping over tiles, the next tile's slices loading while this one's C is stored
// @knob H_CLUSTER=1 {1,2} Hopper: 2 = clusters of two blocks on vertically neighbouring tiles, each weight slice read from L2 once and TMA-multicast to both
// @knob H_PINGPONG=0 {0,1} Hopper: 1 = each consumer warpgroup owns a whole 64*H_MI-row tile, one's MMAs running while the other stores C (needs H_CONSUMERS=2, H_PERSISTENT=1)
// @knob SMALL_M=64 {0,8,16,32,64} f16/bf16 calls with at most this many tokens take the small-M (decode) kernels instead of the GEMMs (0: never)
// @knob S_WARPS=4 {2,4,8} small-M path: warps per block (they share the activations' loads through L1)
// @knob S_ROWS=32 {32,64} small-M path: weight rows each warp streams (gate/up: half of them of Wg, half of Wu); no spills at either (nvcc 13.0, sm_90a)
// @knob S_DEPTH=4 {1,2,4} small-M path: blocks of 32 k of each row a lane has in flight (halved where the registers would spill: 8 always is)
// @knob S_SPLIT=0 {0,1,2,4,8,16} small-M path: slices of K per GEMM, partial sums added by a second kernel (0: the fewest giving S_SM_WARPS warps per SM)
// @knob S_SM_WARPS=4 {2,4,8,16} small-M path, S_SPLIT=0: warps per SM the slices aim for
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
#define H_BN 256
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
#ifndef SMALL_M
#define SMALL_M 64
#endif
#ifndef S_WARPS
#define S_WARPS 4
#endif
#ifndef S_ROWS
#define S_ROWS 32
#endif
#ifndef S_DEPTH
#define S_DEPTH 4
#endif
#ifndef S_SPLIT
#define S_SPLIT 0
#endif
#ifndef S_SM_WARPS
#define S_SM_WARPS 4
#endif

constexpr int kThreads = WARPS_M * WARPS_N * 32;
static_assert(BK == 32 || BK == 64, "BK must be 32 or 64");
static_assert(STAGES >= 2, "STAGES must be >= 2");
static_assert(GROUP_M >= 1, "GROUP_M must be >= 1");
static_assert(SMALL_M >= 0 && SMALL_M <= 64, "SMALL_M: 0 (never) .. 64 (the small-M kernels take 8 n-tiles at most)");
static_assert(S_WARPS >= 1 && S_WARPS <= 32, "S_WARPS: 1..32 (a block of at most 1024 threads)");
static_assert(S_ROWS == 32 || S_ROWS == 64, "S_ROWS must be 32 or 64 (gate/up: 16 or 32 rows of each weight)");
static_assert(S_DEPTH >= 1 && S_DEPTH <= 8, "S_DEPTH: 1..8 (halved to fit the registers: 8 always is)");
static_assert(S_SPLIT >= 0 && S_SPLIT <= 64, "S_SPLIT: 0 (auto) or 1..64");
static_assert(S_SM_WARPS >= 1 && S_SM_WARPS <= 64, "S_SM_WARPS: 1..64");

// Tile geometry of one GEMM: kNB = 1 (down) or 2 (gate and up) weight operands of kBN rows each.
template <bool kGated>
struct Geo {
  static constexpr int kNB = kGated ? 2 : 1, kBN = BN / kNB;
  static constexpr int kWM = BM / WARPS_M, kWN = kBN / WARPS_N;  // warp tile
  static constexpr int kMI = kWM / 16, kNI = kWN / 8;            // m16 x n8 MMA tiles per warp
  static_assert(BM % (16 * WARPS_M) == 0 && kBN % (16 * WARPS_N) == 0, "warp tiles must be multiples of 16x16");
  static_assert(kNB * kWM * kWN <= 64 * 64, "over 64x64 f32 accumulators per warp: they would spill");
  static_assert(kNB * kWM * kWN / 32 * kThreads <= 32768, "over 32K f32 accumulators per block: they would spill");
  static constexpr int kAStage = BM * BK, kWStage = kBN * BK;  // elements of one ring slot, per operand
  static constexpr int kCStride = kBN + 8;                     // epilogue tile row, padded
  static constexpr int kPipeBytes = STAGES * (kAStage + kNB * kWStage) * 2;
  static constexpr int kEpiBytes = BM * kCStride * 2;
  static constexpr int kSmemBytes = kPipeBytes > kEpiBytes ? kPipeBytes : kEpiBytes;
};

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

// The gate's activation; Act::none is the plain GEMM (the down projection). f32, in forms without cancellation
// (as kernels/gelu/cuda.cu): silu g / (1 + e^-g); the tanh form g / (1 + e^-2u), u = sqrt(2/pi) (g + 0.044715
// g^3) (= 0.5 g (1 + tanh u)); the erf form 0.5 g erfc(-g / sqrt 2). Large |g| saturates to g or -0, not NaN.
enum class Act { none, silu, gelu_tanh, gelu_erf };
template <Act kAct>
__device__ __forceinline__ float activate(float g) {
  if constexpr (kAct == Act::silu) {
    return g / (1.0f + expf(-g));
  } else if constexpr (kAct == Act::gelu_tanh) {
    return g / (1.0f + expf(-1.5957691216057308f * fmaf(0.044715f * g, g * g, g)));  // 2 sqrt(2/pi)
  } else if constexpr (kAct == Act::gelu_erf) {
    return 0.5f * g * erfcf(-0.7071067811865476f * g);
  } else {
    return g;
  }
}

// Copy (cp.async) a kRows x BK slice of a row-major [rows, K] operand into a swizzled shared tile.
// src points at the slice's (row 0, k 0); rows_left / k_left count the rows and k still inside the
// matrix (K % 8 == 0: a 16-byte chunk is wholly inside or zero-filled). Thread tid copies a fixed
// column chunk of rows tid / kC, + kThreads / kC, ...
template <int kRows, typename T>
__device__ __forceinline__ void load_tile(T* dst, const T* src, const T* any_valid, int rows_left, int k_left,
                                          int K) {
  constexpr int kC = BK / 8, kChunks = kRows * kC, kStep = kThreads / kC;
  static_assert(kThreads % kC == 0, "threads must cover whole rows");
  const int r0 = threadIdx.x / kC, c = threadIdx.x % kC;
#pragma unroll
  for (int it = 0; it < (kChunks + kThreads - 1) / kThreads; ++it) {
    const int r = r0 + it * kStep;
    if (kChunks % kThreads == 0 || r < kRows) {
      const bool ok = r < rows_left && c * 8 < k_left;
      cp_async16(dst + swz<kC>(r, c), ok ? src + (int64_t)r * K + c * 8 : any_valid, ok);
    }
  }
}

// ---- tensor-core kernel ------------------------------------------------------------------
// C[m,n] = sum_k A[m,k] W0[n,k]                                   (kAct = none)
// C[m,n] = act(sum_k A[m,k] W0[n,k]) * sum_k A[m,k] W1[n,k]       (kAct = silu, gelu_tanh, gelu_erf)
template <typename T, Act kAct>
__global__ void __launch_bounds__(kThreads)
    mma_gemm_nt(const T* __restrict__ A, const T* __restrict__ W0, const T* __restrict__ W1, T* __restrict__ C,
                int M, int N, int K) {
  constexpr bool kGated = kAct != Act::none;
  using G = Geo<kGated>;
  constexpr int kNB = G::kNB, kBN = G::kBN, kMI = G::kMI, kNI = G::kNI;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* const sA = reinterpret_cast<T*>(smem_raw);
  T* const sW = sA + STAGES * G::kAStage;  // slot s, operand o: sW + (s * kNB + o) * kWStage

  // Grouped block order: GROUP_M tile rows advance together along N.
  const int tiles_m = (M + BM - 1) / BM, tiles_n = (N + kBN - 1) / kBN;
  const int pid = blockIdx.x, per_group = GROUP_M * tiles_n;
  const int first_m = (pid / per_group) * GROUP_M;
  const int group_rows = min(tiles_m - first_m, GROUP_M);
  const int m0 = (first_m + (pid % per_group) % group_rows) * BM;
  const int n0 = ((pid % per_group) / group_rows) * kBN;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = (warp / WARPS_N) * G::kWM, wn = (warp % WARPS_N) * G::kWN;
  const int KT = (K + BK - 1) / BK;

  auto load_slice = [&](int slot, int kt) {
    const int k0 = kt * BK;
    load_tile<BM>(sA + slot * G::kAStage, A + (int64_t)m0 * K + k0, A, M - m0, K - k0, K);
    load_tile<kBN>(sW + (slot * kNB) * G::kWStage, W0 + (int64_t)n0 * K + k0, W0, N - n0, K - k0, K);
    if constexpr (kGated)
      load_tile<kBN>(sW + (slot * kNB + 1) * G::kWStage, W1 + (int64_t)n0 * K + k0, W1, N - n0, K - k0, K);
  };

  float acc[kNB][kMI][kNI][4];
#pragma unroll
  for (int o = 0; o < kNB; ++o)
#pragma unroll
    for (int i = 0; i < kMI; ++i)
#pragma unroll
      for (int j = 0; j < kNI; ++j)
#pragma unroll
        for (int v = 0; v < 4; ++v) acc[o][i][j][v] = 0.0f;

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
    const T* a = sA + (kt % STAGES) * G::kAStage;
    const T* w = sW + (kt % STAGES) * kNB * G::kWStage;
    // Fragments double-buffered across the BK/16 steps: step kk+1 loads while step kk multiplies.
    uint32_t af[2][kMI][4], bf[2][kNB][kNI][2];
    auto load_frags = [&](int kk, uint32_t (&fa)[kMI][4], uint32_t (&fb)[kNB][kNI][2]) {
#pragma unroll
      for (int i = 0; i < kMI; ++i)  // x4: rows 0-7/8-15 x k 0-7/8-15 = a0..a3
        ldsm_x4(fa[i], a + swz<BK / 8>(wm + i * 16 + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
      for (int o = 0; o < kNB; ++o)
#pragma unroll
        for (int j = 0; j < kNI; j += 2) {  // x4: n 0-7 x k 0-7/8-15, n 8-15 x k 0-7/8-15 = b0,b1 of two n8 tiles
          uint32_t t[4];
          ldsm_x4(t, w + o * G::kWStage +
                         swz<BK / 8>(wn + j * 8 + ((lane >> 4) << 3) + (lane & 7), kk * 2 + ((lane >> 3) & 1)));
          fb[o][j][0] = t[0], fb[o][j][1] = t[1], fb[o][j + 1][0] = t[2], fb[o][j + 1][1] = t[3];
        }
    };
    load_frags(0, af[0], bf[0]);
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk) {
      if (kk + 1 < BK / 16) load_frags(kk + 1, af[(kk + 1) % 2], bf[(kk + 1) % 2]);
#pragma unroll
      for (int o = 0; o < kNB; ++o)
#pragma unroll
        for (int i = 0; i < kMI; ++i)
#pragma unroll
          for (int j = 0; j < kNI; ++j)
            mma16816<T>(acc[o][i][j], af[kk % 2][i], bf[kk % 2][o][j][0], bf[kk % 2][o][j][1]);
    }
  }

  // Epilogue: (act(gate) * up, or the plain sum) rounded into a padded shared tile (the ring is free
  // once every copy has landed), then 16-byte coalesced stores; N % 8 == 0 makes every chunk wholly
  // inside or outside C.
  cp_async_wait<0>();
  __syncthreads();
  T* const sC = reinterpret_cast<T*>(smem_raw);
#pragma unroll
  for (int i = 0; i < kMI; ++i)
#pragma unroll
    for (int j = 0; j < kNI; ++j) {
      float v[4];
#pragma unroll
      for (int e = 0; e < 4; ++e)
        v[e] = kGated ? activate<kAct>(acc[0][i][j][e]) * acc[kNB - 1][i][j][e] : acc[0][i][j][e];
      const int r = wm + i * 16 + (lane >> 2), c = wn + j * 8 + (lane & 3) * 2;
      store2(sC + r * G::kCStride + c, v[0], v[1]);
      store2(sC + (r + 8) * G::kCStride + c, v[2], v[3]);
    }
  __syncthreads();
  constexpr int kCC = kBN / 8, kCChunks = BM * kCC;
#pragma unroll
  for (int it = 0; it < (kCChunks + kThreads - 1) / kThreads; ++it) {
    const int i = tid + it * kThreads;
    if (kCChunks % kThreads == 0 || i < kCChunks) {
      const int r = i / kCC, c = i % kCC, gm = m0 + r, gn = n0 + c * 8;
      if (gm < M && gn < N)
        st16(C + (int64_t)gm * N + gn, *reinterpret_cast<const uint4*>(sC + r * G::kCStride + c * 8));
    }
  }
}

// ---- Hopper kernel: TMA + wgmma, warp-specialised ------------------------------------------
// The matmul starter's Hopper kernel for "NT" operands: one producer warpgroup (one thread issues
// the TMA copies) and H_CONSUMERS consumer warpgroups, each owning H_MI x 64 rows of the block's
// tile. K slices of 64 stream through an H_STAGES ring: "full" barriers count the TMA bytes in,
// "empty" barriers count the consumers out. The activations and the H_BN weight rows are both
// K-major (128-byte rows of 64 K values), 128-byte swizzled by the TMA. Compiled only for sm_90a;
// the host takes this path on compute capability 9.x, where the backend always builds sm_90a (on a
// plain sm_90 build it traps). H_PERSISTENT=1 launches one block per SM, each looping over tiles;
// the ring's slice count runs on across tiles, so the producer loads the next tile while the
// consumers store this one, and C is staged outside the ring, at most two 64-column panels per 64
// rows at a time (16 KB per m64 tile), so that a 4-deep ring of 128x256 tiles still fits.
// H_CLUSTER=2 launches clusters of two blocks (cudaLaunchKernelEx) that work on vertically neighbouring
// tiles with the same columns, pair after pair: each block loads half of the weight slice (H_BN rows of W, half of each of Wg and Wu when gated)
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
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define AK_HOPPER_DEVICE 1
#endif

namespace hopper {
constexpr int kBK = 64;                                 // one 128-byte swizzle row of 16-bit values
constexpr bool kPingpong = H_PINGPONG != 0;
constexpr int kCluster = H_CLUSTER;                      // blocks per cluster, along M
constexpr int kBM = 64 * H_MI * (kPingpong ? 1 : H_CONSUMERS), kBN = H_BN;  // one tile (pingpong: one consumer's)
constexpr int kThreads = 128 * (1 + H_CONSUMERS);
constexpr int kAcc = H_BN / 2;                          // f32 accumulators per thread per m64 tile
constexpr int kABytes = kBM * kBK * 2, kBBytes = kBN * kBK * 2;
constexpr int kStageBytes = kABytes + kBBytes;
constexpr bool kPersistent = H_PERSISTENT != 0;
constexpr int kCStageBytes = kPersistent ? H_CONSUMERS * H_MI * 2 * 8192 : 0;  // two panels per m64 tile
constexpr int kSmemBytes = 1024 /* alignment slack */ + H_STAGES * kStageBytes + kCStageBytes + 2 * H_STAGES * 8;
static_assert(H_BN == 128 || H_BN == 256, "H_BN must be 128 or 256");
static_assert(H_MI == 1 || H_MI == 2, "H_MI must be 1 or 2");
static_assert(H_CONSUMERS == 1 || H_CONSUMERS == 2, "H_CONSUMERS must be 1 or 2");
static_assert(H_MI * kAcc <= 128, "over 128 accumulators per thread (H_MI=2 with H_BN=256): they would spill");
static_assert(kBM <= 256, "a TMA box is at most 256 rows");
static_assert(H_STAGES >= 2, "H_STAGES must be >= 2");
static_assert(kPersistent || kBM * kBN * 2 <= H_STAGES * kStageBytes, "the epilogue stages C in the ring: it must fit");
static_assert(H_PERSISTENT == 0 || H_PERSISTENT == 1, "H_PERSISTENT must be 0 or 1");
static_assert(H_CLUSTER == 1 || H_CLUSTER == 2, "H_CLUSTER must be 1 or 2");
static_assert(H_PINGPONG == 0 || H_PINGPONG == 1, "H_PINGPONG must be 0 or 1");
static_assert(!kPingpong || (H_CONSUMERS == 2 && kPersistent), "H_PINGPONG=1 needs H_CONSUMERS=2 and H_PERSISTENT=1");
// Consumer arrivals that free one ring slot: every consumer warpgroup that reads it (one with pingpong), in
// every block of the cluster, since each block's producer multicasts into the other's slot too.
constexpr int kEmptyArrivals = (kPingpong ? 1 : H_CONSUMERS) * kCluster;

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


// d (+)= A[64x16] * B[16x256]; A and B K-major, 128B-swizzled in shared memory.
#define AK_WGMMA_N256(TY)                                                                                               \
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
      "}, %128, %129, p, 1, 1, 0, 0;\n"                                                                                 \
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
template <typename T>
__device__ __forceinline__ void wgmma_n256(float (&d)[128], uint64_t da, uint64_t db) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) AK_WGMMA_N256("bf16");
  else AK_WGMMA_N256("f16");
}
#undef AK_WGMMA_N256
// d (+)= A[64x16] * B[16x128]; A and B K-major, 128B-swizzled in shared memory.
#define AK_WGMMA_N128(TY)                                                                                       \
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
      : "l"(da), "l"(db), "r"(1))
template <typename T>
__device__ __forceinline__ void wgmma_n128(float (&d)[64], uint64_t da, uint64_t db) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) AK_WGMMA_N128("bf16");
  else AK_WGMMA_N128("f16");
}
#undef AK_WGMMA_N128
// d (+)= A[64x16] * B[16x64]; A and B K-major, 128B-swizzled in shared memory.
#define AK_WGMMA_N64(TY)                                                                                        \
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
      : "l"(da), "l"(db), "r"(1))
template <typename T>
__device__ __forceinline__ void wgmma_n64(float (&d)[32], uint64_t da, uint64_t db) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) AK_WGMMA_N64("bf16");
  else AK_WGMMA_N64("f16");
}
#undef AK_WGMMA_N64

template <typename T, int N>
__device__ __forceinline__ void wgmma_tile(float (&d)[N / 2], uint64_t da, uint64_t db) {
  if constexpr (N == 256) wgmma_n256<T>(d, da, db);
  else if constexpr (N == 128) wgmma_n128<T>(d, da, db);
  else wgmma_n64<T>(d, da, db);
}

// activate, with silu's exp on the fast path (__expf) as this kernel has always had it; the GELUs as there.
template <Act kAct>
__device__ __forceinline__ float activate_fast(float v) {
  if constexpr (kAct == Act::silu) return v / (1.0f + __expf(-v));
  else return activate<kAct>(v);
}

// C[M,N] = A[M,K] W^T with W [N,K] (gated, kAct not none: h = act(A Wg^T) * (A Wu^T), Wg and Wu each giving
// half of the block's H_BN weight rows, so both GEMMs stage the same bytes per slice).
template <typename T, Act kAct>
__global__ void __launch_bounds__(kThreads, 1)
    gemm_nt(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_w0,
            const __grid_constant__ CUtensorMap map_w1, const __grid_constant__ CUtensorMap map_c, int M, int N,
            int K) {
#ifdef AK_HOPPER_DEVICE
  constexpr bool kGated = kAct != Act::none;
  constexpr int kNB = kGated ? 2 : 1, kBNop = kBN / kNB;  // weight operands; rows (= columns of C) of each
  constexpr int kAccOp = kBNop / 2;
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;  // swizzled tiles want 1024-byte alignment
  auto a_tile = [&](int s) { return base + s * kStageBytes; };
  auto w_tile = [&](int s, int b) { return base + s * kStageBytes + kABytes + b * kBNop * 128; };
  const uint32_t c_stage0 = base + H_STAGES * kStageBytes;  // persistent only: C's staging, outside the ring
  const uint32_t full0 = c_stage0 + kCStageBytes, empty0 = full0 + H_STAGES * 8;

  constexpr int kTileN = kBNop;  // columns of C per tile
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
  // H_CLUSTER=2 (as in the matmul starter): the unit of work is a pair of vertically neighbouring tiles with one
  // n0; block rank r of the cluster takes the tile at rows (2 pm + r) * kBM, so the two blocks need the same weight
  // slices and each loads half of every weight operand's rows into both. Pairs follow the tile order above, GROUP_M
  // pair rows per group. With tiles_m odd the last pair's second tile lies below M: its block still loads (and
  // multicasts) its half of the weights, reads the first tile's rows of A and stores nothing.
  const uint32_t rank = kCluster > 1 ? cluster_rank() : 0;
  const int pairs_m = (tiles_m + 1) / 2, pair_group = GROUP_M * tiles_n;
  const int units = kCluster > 1 ? pairs_m * tiles_n : tiles;  // what the blocks (or clusters) share out
  const int unit0 = kCluster > 1 ? cluster_index() : (int)blockIdx.x;
  const int unit_step = kCluster > 1 ? cluster_count() : (int)gridDim.x;
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
  const int KT = (K + kBK - 1) / kBK;
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
          mbar_expect_tx(full0 + 8 * s, kStageBytes);  // with multicast too: the peer's half of W lands here
          tma_load(a_tile(s), &map_a, full0 + 8 * s, kt * kBK, a_m0);
          if constexpr (kCluster == 1) {
            tma_load(w_tile(s, 0), &map_w0, full0 + 8 * s, kt * kBK, n0);
            if constexpr (kGated) tma_load(w_tile(s, 1), &map_w1, full0 + 8 * s, kt * kBK, n0);
          } else {
            // This block's kBNop / kCluster rows of each weight operand (the maps' box), into every block.
            constexpr int kShare = kBNop / kCluster;
            constexpr uint16_t kAll = (1u << kCluster) - 1;
            const int r0 = (int)rank * kShare;
            tma_load_multicast(w_tile(s, 0) + r0 * 128, &map_w0, full0 + 8 * s, kt * kBK, n0 + r0, kAll);
            if constexpr (kGated)
              tma_load_multicast(w_tile(s, 1) + r0 * 128, &map_w1, full0 + 8 * s, kt * kBK, n0 + r0, kAll);
          }
        }
      }
    }
    if constexpr (kCluster > 1) cluster_sync();  // the teardown below, reached by every thread of the cluster
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
  // H_PINGPONG=1 (as in the matmul starter): consumer c takes the block's tiles c, c+2, ... and skips the other's
  // slices in the ring; its MMAs start once the other warpgroup has issued all of its previous tile's (named
  // barriers kOrderBar + c: "c has issued"), so one's epilogue overlaps the other's MMAs, and no consumer waits on
  // a full barrier more than one phase ahead.
  constexpr int kOrderBar = 4;  // 0: __syncthreads, 1: the non-persistent epilogue, 2-3: each consumer's epilogue
  constexpr int kTurn = kPingpong ? 2 : 1;
  float acc[H_MI][kNB][kAccOp];
  int it = kPingpong ? c * KT : 0;  // slices consumed or skipped, in step with the producer's count
  for (int unit = unit0 + (kPingpong ? c * unit_step : 0), turn = kPingpong ? c : 0; unit < units;
       unit += kTurn * unit_step, turn += kTurn) {
    int m0, n0;
    unit_origin(unit, m0, n0);
#pragma unroll
    for (int i = 0; i < H_MI; ++i)
#pragma unroll
      for (int b = 0; b < kNB; ++b) {
#pragma unroll
        for (int j = 0; j < kAccOp; ++j) acc[i][b][j] = 0.0f;
        fence_regs(acc[i][b]);
      }
    if constexpr (kPingpong) {
      if (turn > 0) bar_sync(kOrderBar + 1 - c, 256);
    }

    for (int kt = 0; kt < KT; ++kt, ++it) {
      const int s = it % H_STAGES;
      mbar_wait(full0 + 8 * s, (it / H_STAGES) & 1);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kBK / 16; ++kk) {
#pragma unroll
        for (int i = 0; i < H_MI; ++i) {
          // Both operands K-major, 128-byte rows: the k16 step is 32 bytes along the swizzled row;
          // 8-row groups 1024 bytes apart (SBO); LBO unused with this swizzle.
          const uint64_t da = desc(a_tile(s) + (row0 + i * 64) * 128 + kk * 32, 16, 1024);
#pragma unroll
          for (int b = 0; b < kNB; ++b)
            wgmma_tile<T, kBNop>(acc[i][b], da, desc(w_tile(s, b) + kk * 32, 16, 1024));
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
    for (int i = 0; i < H_MI; ++i)
#pragma unroll
      for (int b = 0; b < kNB; ++b) fence_regs(acc[i][b]);

    // Epilogue (as the matmul starter's): round the tile into shared memory as 64-column panels of
    // 64 rows x 128 bytes, 128-byte swizzled like the TMA box, and store it with TMA (clipped at the
    // edges). Accumulator layout of m64nN: warp w holds rows 16w..16w+15; register 4j+{0,1} is (row
    // lane/4, cols 8j + 2(lane%4) + {0,1}), 4j+{2,3} the same 8 rows further down. Not persistent: the
    // whole tile goes into the freed ring at once. Persistent: the ring is already filling with the
    // next tile, so each consumer stages at most two panels per m64 tile at a time in its own area.
    constexpr int kPanels = kBNop / 64;
    constexpr int kPanelsPerRound = kPersistent && kPanels > 2 ? 2 : kPanels;
    const uint32_t c_tile = kPersistent ? c_stage0 + c * H_MI * 2 * 8192
                                        : base + c * H_MI * kPanels * 8192;  // this warpgroup's panels
    const bool store = kCluster == 1 || m0 < M;  // a cluster's tile below M stores nothing
    if constexpr (!kPersistent) asm volatile("bar.sync 1, %0;\n" ::"n"(128 * H_CONSUMERS) : "memory");
#pragma unroll
    for (int p0 = 0; p0 < kPanels; p0 += kPanelsPerRound) {
      if constexpr (kPersistent) {
        // The staging area is free once the previous store from it has been read.
        if (t == 0) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
        asm volatile("bar.sync %0, 128;\n" ::"r"(2 + c) : "memory");
      }
#pragma unroll
      for (int i = 0; i < H_MI; ++i)
#pragma unroll
        for (int jj = 0; jj < kPanelsPerRound * 8; ++jj) {
          const int j = p0 * 8 + jj;
          const uint32_t panel = c_tile + (i * kPanelsPerRound + jj / 8) * 8192;
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int r = 16 * w + lane / 4 + 8 * h;
            float lo = acc[i][0][4 * j + 2 * h], hi = acc[i][0][4 * j + 2 * h + 1];
            if constexpr (kGated) {
              lo = activate_fast<kAct>(lo) * acc[i][kNB - 1][4 * j + 2 * h];
              hi = activate_fast<kAct>(hi) * acc[i][kNB - 1][4 * j + 2 * h + 1];
            }
            st_shared_pair<T>(panel + r * 128 + (((j % 8) ^ (r % 8)) * 16) + (lane % 4) * 4, lo, hi);
          }
        }
      asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // the TMA (async proxy) reads these writes
      asm volatile("bar.sync %0, 128;\n" ::"r"(2 + c) : "memory");
      if (t == 0) {
        if (store) {
#pragma unroll
          for (int i = 0; i < H_MI; ++i)
#pragma unroll
            for (int p = 0; p < kPanelsPerRound; ++p)
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

// ---- SIMT fallback (f32; unaligned pointers; E or F not a multiple of 8) ---------------------
// One shared-memory tiled GEMM ("NT"), a 64x64 tile per block, 16-deep K slices staged as f32,
// each of 256 threads owning a 4x4 micro-tile; h is kept in f32.
constexpr int kSTile = 64, kSBK = 16, kSTM = 4, kSide = kSTile / kSTM, kSThreads = kSide * kSide;

// Stage a kSTile x kSBK slice of a row-major [rows, K] operand, transposed into smem[kSBK][kSTile + 1]
// (zero past the edges). Consecutive threads read consecutive k: coalesced; the +1 pad keeps
// the transposing store free of bank conflicts.
template <typename T>
__device__ __forceinline__ void stage_tile(float (*dst)[kSTile + 1], const T* __restrict__ src, int row0,
                                           int rows, int k0, int K) {
  for (int e = threadIdx.x; e < kSTile * kSBK; e += kSThreads) {
    const int r = e / kSBK, c = e % kSBK, gr = row0 + r, gk = k0 + c;
    dst[c][r] = (gr < rows && gk < K) ? to_f32(src[(int64_t)gr * K + gk]) : 0.0f;
  }
}

// C[m,n] = sum_k A[m,k] W0[n,k]                                   (kAct = none)
// C[m,n] = act(sum_k A[m,k] W0[n,k]) * sum_k A[m,k] W1[n,k]       (kAct = silu, gelu_tanh, gelu_erf)
template <typename TA, typename TW, typename TC, Act kAct>
__global__ void __launch_bounds__(kSThreads)
    simt_gemm_nt(const TA* __restrict__ A, const TW* __restrict__ W0, const TW* __restrict__ W1,
                   TC* __restrict__ C, int M, int N, int K) {
  constexpr bool kGated = kAct != Act::none;
  __shared__ float As[kSBK][kSTile + 1];
  __shared__ float W0s[kSBK][kSTile + 1];
  __shared__ float W1s[kGated ? kSBK : 1][kSTile + 1];

  const int tiles_n = (N + kSTile - 1) / kSTile;
  const int tx = threadIdx.x % kSide, ty = threadIdx.x / kSide;
  const int m0 = (blockIdx.x / tiles_n) * kSTile, n0 = (blockIdx.x % tiles_n) * kSTile;

  float acc0[kSTM][kSTM], acc1[kGated ? kSTM : 1][kGated ? kSTM : 1];
#pragma unroll
  for (int i = 0; i < kSTM; ++i)
#pragma unroll
    for (int j = 0; j < kSTM; ++j) {
      acc0[i][j] = 0.0f;
      if constexpr (kGated) acc1[i][j] = 0.0f;
    }

  for (int k0 = 0; k0 < K; k0 += kSBK) {
    stage_tile(As, A, m0, M, k0, K);
    stage_tile(W0s, W0, n0, N, k0, K);
    if constexpr (kGated) stage_tile(W1s, W1, n0, N, k0, K);
    __syncthreads();

#pragma unroll
    for (int kk = 0; kk < kSBK; ++kk) {
      float a[kSTM], b0[kSTM], b1[kSTM];
#pragma unroll
      for (int i = 0; i < kSTM; ++i) a[i] = As[kk][ty + i * kSide];
#pragma unroll
      for (int j = 0; j < kSTM; ++j) {
        b0[j] = W0s[kk][tx + j * kSide];
        if constexpr (kGated) b1[j] = W1s[kk][tx + j * kSide];
      }
#pragma unroll
      for (int i = 0; i < kSTM; ++i)
#pragma unroll
        for (int j = 0; j < kSTM; ++j) {
          acc0[i][j] = fmaf(a[i], b0[j], acc0[i][j]);
          if constexpr (kGated) acc1[i][j] = fmaf(a[i], b1[j], acc1[i][j]);
        }
    }
    __syncthreads();  // the tiles are overwritten by the next slice
  }

#pragma unroll
  for (int i = 0; i < kSTM; ++i) {
    const int gm = m0 + ty + i * kSide;
    if (gm >= M) continue;
#pragma unroll
    for (int j = 0; j < kSTM; ++j) {
      const int gn = n0 + tx + j * kSide;
      if (gn >= N) continue;
      float r = acc0[i][j];
      if constexpr (kGated) r = activate<kAct>(r) * acc1[i][j];
      C[(int64_t)gm * N + gn] = from_f32<TC>(r);
    }
  }
}

// ---- small-M (decode) path: the weights streamed once, mma.sync (any sm_80+) ----------------------
// At M <= SMALL_M tokens (f16/bf16 with the tensor-core path's alignment) both GEMMs are memory-bound: a
// decode step must read Wg, Wu and Wd once (3 E F elements) for 6 M E F flops, so the kernel's job is to keep
// enough weight bytes in flight to run at the copy bandwidth, as kernels/skinny_gemm/cuda.cu's tensor-core path
// does for one weight (its design, with the gate and up weights streamed side by side):
//   C^T[N,M] = W[N,K] A^T[K,M] on mma.sync m16n8k16 with f32 accumulators, 16 rows of W the MMA's M and 8
// tokens its N (NT = 1, 2, 4 or 8 n-tiles: ceil(M/8) rounded up to a power of two, a template parameter, so the
// sums stay in registers). Each warp owns
// S_ROWS weight rows (the gate/up kernel: S_ROWS/2 rows n of Wg and the same rows of Wu, so h[:, n] =
// act(g) * u is finished in the warp's registers; the down kernel: S_ROWS rows of Wd) and streams them along
// K in blocks of 32 k, each lane loading 16 bytes of a row straight into A-fragment registers
// (ld.global.nc.L1::no_allocate: read once, L1 is left to the activations), S_DEPTH blocks in flight as a
// ring (halved where NT is large, the ring plus the accumulators would spill). The activations (x, or h for
// the down GEMM: at most 64 x K) come as B fragments, 16-byte loads through L1, shared by the block's warps.
// K is taken in a permuted order, the same for W and for the activations (see mma_block), so that every
// load is 16 contiguous bytes. Rows of W past N and tokens past M are clamped reads, never stored; a lane's
// 8 k past K (K % 8 == 0: all of them or none) are zeros in both operands.
// Split over K: where the rows alone give too few warps to keep the bytes in flight (the down GEMM at
// E = 4096: 128 warps of 32 rows for 132 SMs), grid row y takes one slice of K and writes f32 partial sums
// (gate and up apart) to a workspace; a second kernel adds the slices in slice order (deterministic: no
// atomics), applies act(g) * u for the gate/up GEMM, and rounds. S_SPLIT=0 picks the fewest slices that give
// every SM S_SM_WARPS warps. h (M x F, in T, as eager rounds it) and the workspace are one allocation from the
// stream-ordered pool; the two GEMMs share the workspace (stream order: the first's sums are read before the
// second writes its own).
//   Defaults (H100: ~3.35 TB/s at ~0.7 us of DRAM latency wants ~2.3 MB, ~18 KB per SM, in flight; H200
// ~26 KB): a warp holds S_ROWS x S_DEPTH x 64 B = 8 KB in flight (32 rows, 4 blocks of 32 k: skinny_gemm's MMA
// defaults); S_SM_WARPS=4 asks for 32 KB per SM, and the Llama-3-8B gate/up GEMM (F = 14336: 896 warps, 6.8
// per SM) then runs unsplit while its down GEMM (E = 4096: 128 warps) takes 5 slices. 4 warps per block share
// each activation load through L1. At M = 33..64 a warp also reads 64 tokens x 32 k of activations per block
// of its 32 weight rows, twice the weight's bytes, from L1 or L2: there the block's warps sharing them in L1
// matters (S_WARPS=8 shares more) and the ring is 2 deep (4 KB a warp, the split asking for twice the warps).
namespace small {
[[maybe_unused]] constexpr int kKB = 32;  // k per block: one 16-byte load per lane per 8 rows, two MMA k-steps
constexpr int kTiles = S_ROWS / 16;  // m16 tiles of weight rows per warp, over its operands
// The ring's depth at NT n-tiles: S_DEPTH, halved while the ring (8 kTiles d registers), the accumulators
// (4 kTiles NT) and one block of the activations (4 NT) would pass ~136 registers (skinny_gemm's bound:
// ptxas spills past it).
template <int NT>
constexpr int kDepth = [] {
  int d = S_DEPTH;
  while (d > 1 && 8 * kTiles * d + 4 * kTiles * NT + 4 * NT > 136) d /= 2;
  return d;
}();

__device__ __forceinline__ uint4 ld_stream(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

// One block of 32 k of kMI m16 tiles of W against NT n-tiles of tokens. The permuted K order (as skinny_gemm):
// in m16n8k16's fragments (PTX ISA), lane (g = lane / 4, t = lane % 4) holds A[g][2t, 2t+1] (a0),
// A[g+8][2t, 2t+1] (a1), A[g][2t+8, 2t+9] (a2), A[g+8][2t+8, 2t+9] (a3), B[2t, 2t+1][g] (b0),
// B[2t+8, 2t+9][g] (b1), and C[g][2t, 2t+1], C[g+8][2t, 2t+1]. The k of A and of B that a lane holds depend
// on t alone and the MMA sums over k, so one renaming of k applied to both operands gives the same dot
// products. Lane t loads the 8 elements [8t, 8t+8) of the block for rows g and g+8 of W (wf[i][h], h = 0, 1)
// and for token g of each n-tile (xv): step 0 takes words x, y of the 16 bytes as its k = 2t, 2t+1 and
// 2t+8, 2t+9, step 1 words z, w, in W and in the activations alike: each of the 32 elements once.
template <typename T, int kMI, int NT>
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

// out[M,N] = A[M,K] W0^T (kAct none), or act(A W0^T) * (A W1^T); W0, W1 [N,K]. Grid: x = blocks of S_WARPS
// warps of 16 kMI output columns each (rows of each weight operand), y = slices of K, `per` blocks of 32 k each
// (the last slice fewer; none empty). With ws, slice y writes its f32 sums to ws + y kNB M N (gate, then up)
// and sum_slices finishes them; without, the warp writes out. acc[o][i][j] is C of operand o, tile i (rows
// n0 + 16i ..) and n-tile j (tokens 8j ..).
template <typename T, Act kAct, int NT>
__global__ void __launch_bounds__(S_WARPS * 32)
    stream_mma(const T* __restrict__ A, const T* __restrict__ W0, const T* __restrict__ W1, T* __restrict__ out,
               float* __restrict__ ws, int M, int N, int K, int per) {
  constexpr bool kGated = kAct != Act::none;
  constexpr int kNB = kGated ? 2 : 1, kMI = kTiles / kNB, kD = kDepth<NT>;
  static_assert(kMI >= 1 && kNB * kMI == kTiles, "S_ROWS must give each weight operand whole m16 tiles");
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int n0 = (blockIdx.x * S_WARPS + threadIdx.x / 32) * (16 * kMI);
  if (n0 >= N) return;  // whole warps: every MMA below runs on a converged warp
  const int kblocks = (K + kKB - 1) / kKB;
  const int b_begin = blockIdx.y * per, b_end = min(kblocks, b_begin + per);
  const T* wrow[kNB][kMI][2];  // rows past N read row N - 1, never stored
#pragma unroll
  for (int o = 0; o < kNB; ++o)
#pragma unroll
    for (int i = 0; i < kMI; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h)
        wrow[o][i][h] = (o == 0 ? W0 : W1) + (size_t)min(n0 + 16 * i + 8 * h + g, N - 1) * K + 8 * t;
  const T* xrow[NT];  // tokens past M read token M - 1, never stored
#pragma unroll
  for (int j = 0; j < NT; ++j) xrow[j] = A + (size_t)min(8 * j + g, M - 1) * K + 8 * t;

  // Block b of every operand's rows into a ring slot; past the slice, or this lane's 8 elements past K, zero.
  auto load_w = [&](uint4(&slot)[kNB][kMI][2], int b) {
    const bool ok = b < b_end && b * kKB + 8 * t < K;
#pragma unroll
    for (int o = 0; o < kNB; ++o)
#pragma unroll
      for (int i = 0; i < kMI; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h)
          slot[o][i][h] = ok ? ld_stream(wrow[o][i][h] + (size_t)b * kKB) : make_uint4(0, 0, 0, 0);
  };

  float acc[kNB][kMI][NT][4] = {};
  uint4 ring[kD][kNB][kMI][2];
#pragma unroll
  for (int s = 0; s < kD; ++s) load_w(ring[s], b_begin + s);
  for (int b0 = b_begin; b0 < b_end; b0 += kD) {
#pragma unroll
    for (int s = 0; s < kD; ++s) {
      const int b = b0 + s;  // past the slice (its last pass): zeros, multiplied for nothing
      const bool ok = b < b_end && b * kKB + 8 * t < K;
      uint4 xv[NT];
#pragma unroll
      for (int j = 0; j < NT; ++j)
        xv[j] = ok ? __ldg(reinterpret_cast<const uint4*>(xrow[j] + (size_t)b * kKB)) : make_uint4(0, 0, 0, 0);
#pragma unroll
      for (int o = 0; o < kNB; ++o) mma_block<T, kMI, NT>(acc[o], ring[s][o], xv);
      load_w(ring[s], b + kD);
    }
  }

  // C[r][c] of tile i, n-tile j is out[8j + c][n0 + 16i + r]: transposed on the way out.
  float* const part = ws ? ws + (size_t)blockIdx.y * kNB * M * N : nullptr;
#pragma unroll
  for (int i = 0; i < kMI; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const int n = n0 + 16 * i + g + 8 * (v >> 1), m = 8 * j + 2 * t + (v & 1);
        if (m < M && n < N) {
          const size_t at = (size_t)m * N + n;
          if (part) {
            part[at] = acc[0][i][j][v];
            if constexpr (kGated) part[(size_t)M * N + at] = acc[kNB - 1][i][j][v];
          } else {
            out[at] = from_f32<T>(kGated ? activate<kAct>(acc[0][i][j][v]) * acc[kNB - 1][i][j][v] : acc[0][i][j][v]);
          }
        }
      }
}

// The split's second kernel: out = the sum of the slices' partial sums in slice order (deterministic), through
// act(gate) * up for the gate/up GEMM; slice s's sums at ws + s kNB mn (gate, then up).
template <typename T, Act kAct>
__global__ void __launch_bounds__(256) sum_slices(const float* __restrict__ ws, T* __restrict__ out, int slices,
                                                   size_t mn) {
  constexpr bool kGated = kAct != Act::none;
  constexpr int kNB = kGated ? 2 : 1;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < mn; i += (size_t)gridDim.x * blockDim.x) {
    float a = 0.0f, b = 0.0f;
    for (int s = 0; s < slices; ++s) {
      a += ws[(size_t)s * kNB * mn + i];
      if constexpr (kGated) b += ws[((size_t)s * kNB + 1) * mn + i];
    }
    out[i] = from_f32<T>(kGated ? activate<kAct>(a) * b : a);
  }
}
}  // namespace small

// ---- host ----------------------------------------------------------------------------------
static bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

static int blocks_for(int64_t rows, int64_t cols, int64_t bm, int64_t bn) {
  const int64_t b = ((rows + bm - 1) / bm) * ((cols + bn - 1) / bn);
  return b > INT32_MAX ? -1 : (int)b;
}

template <Act kAct, typename T>
static int run_simt(const T* x, const T* wg, const T* wu, const T* wd, T* y, int M, int E, int F,
                    cudaStream_t stream) {
  float* h = nullptr;
  if (F > 0) {
    const int b = blocks_for(M, F, kSTile, kSTile);
    if (b < 0 || cudaMallocAsync((void**)&h, (size_t)M * F * sizeof(float), stream) != cudaSuccess) return 1;
    simt_gemm_nt<T, T, float, kAct><<<(unsigned)b, kSThreads, 0, stream>>>(x, wg, wu, h, M, F, E);
  }
  // F == 0 gives K == 0 here: the GEMM then writes zeros.
  const int b = blocks_for(M, E, kSTile, kSTile);
  if (b >= 0) simt_gemm_nt<float, T, T, Act::none><<<(unsigned)b, kSThreads, 0, stream>>>(h, wd, nullptr, y, M, E, F);
  const cudaError_t launch_err = cudaGetLastError();
  if (h != nullptr && cudaFreeAsync(h, stream) != cudaSuccess) return 1;
  return b >= 0 && launch_err == cudaSuccess ? 0 : 1;
}

// Checks that a GEMM's shared-memory ring fits the device and opts in above 48 KB.
template <typename T, Act kAct>
static bool prepare(int optin) {
  constexpr int bytes = Geo<kAct != Act::none>::kSmemBytes;
  if (bytes > optin) return false;
  return bytes <= 48 * 1024 ||
         cudaFuncSetAttribute(mma_gemm_nt<T, kAct>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) ==
             cudaSuccess;
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

// Raises a kernel's dynamic shared-memory limit once per device (a driver call costs host time on every launch).
template <typename T, Act kAct>
static bool opted_in(int bytes) {
  static std::atomic<uint64_t> done{0};  // bit d: device d is set
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  const uint64_t bit = dev < 64 ? 1ull << dev : 0;
  if (bit && (done.load() & bit)) return true;
  if (cudaFuncSetAttribute(hopper::gemm_nt<T, kAct>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) !=
      cudaSuccess)
    return false;
  done.fetch_or(bit);
  return true;
}

// A launch of `blocks` blocks of a Hopper GEMM in clusters of hopper::kCluster along x; `attr` must outlive it.
[[maybe_unused]] static cudaLaunchConfig_t cluster_config(cudaLaunchAttribute* attr, unsigned blocks, cudaStream_t stream) {
  attr->id = cudaLaunchAttributeClusterDimension;
  attr->val.clusterDim.x = hopper::kCluster;
  attr->val.clusterDim.y = 1;
  attr->val.clusterDim.z = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(blocks);
  cfg.blockDim = dim3(hopper::kThreads);
  cfg.dynamicSmemBytes = hopper::kSmemBytes;
  cfg.stream = stream;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return cfg;
}

// Clusters of gemm_nt<T, kAct> that the device runs at once (the GPCs' SM counts decide it, not just
// SMs / kCluster); asked once per device, after opted_in. 0 when the query fails.
template <typename T, Act kAct>
static int resident_clusters(int dev) {
  static std::atomic<int> known[64];  // static storage: zero, i.e. not asked yet
  if (dev >= 0 && dev < 64 && known[dev].load() > 0) return known[dev].load();
  cudaLaunchAttribute attr;
  const cudaLaunchConfig_t cfg = cluster_config(&attr, hopper::kCluster, nullptr);
  int n = 0;
  if (cudaOccupancyMaxActiveClusters(&n, hopper::gemm_nt<T, kAct>, &cfg) != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky: clear it so the launch's own check is not misled
    return 0;
  }
  if (n > 0 && dev >= 0 && dev < 64) known[dev].store(n);
  return n;
}

// One Hopper GEMM: C[M,N] = A[M,K] W0^T (Act::none), or act(A W0^T) * (A W1^T). The blocks share out tiles, or
// with clusters pairs of vertically neighbouring tiles (one cluster each).
template <typename T, Act kAct>
static bool launch_hopper_gemm(const T* A, const T* W0, const T* W1, T* C, int M, int N, int K, cudaStream_t stream) {
  using hopper::kCluster;
  constexpr int kBNop = hopper::kBN / (kAct != Act::none ? 2 : 1);
  int units = blocks_for(M, N, kCluster * hopper::kBM, kBNop);  // ceil(tiles_m / kCluster) * tiles_n
  if (units < 0 || (int64_t)units * kCluster > INT32_MAX || !opted_in<T, kAct>(hopper::kSmemBytes)) return false;
  if (hopper::kPersistent && units > 0) {
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
      return false;
    int resident = sms;  // one block per SM (the shared memory allows no second)
    if constexpr (kCluster > 1) {
      resident = resident_clusters<T, kAct>(dev);
      if (resident <= 0) resident = sms / kCluster;
    }
    units = units < resident ? units : resident;
  }
  const int blocks = units * kCluster;
  const bool bf16 = std::is_same_v<T, __nv_bfloat16>;
  CUtensorMap map_a, map_w0, map_w1, map_c;
  // With clusters each block loads kBNop / kCluster rows of each weight operand (and multicasts them).
  if (!make_map(&map_a, A, bf16, M, K, hopper::kBM) || !make_map(&map_w0, W0, bf16, N, K, kBNop / kCluster) ||
      !make_map(&map_w1, W1, bf16, N, K, kBNop / kCluster) || !make_map(&map_c, C, bf16, M, N, 64))
    return false;
  if constexpr (kCluster == 1) {
    hopper::gemm_nt<T, kAct><<<(unsigned)blocks, hopper::kThreads, hopper::kSmemBytes, stream>>>(
        map_a, map_w0, map_w1, map_c, M, N, K);
  } else {
    cudaLaunchAttribute attr;
    const cudaLaunchConfig_t cfg = cluster_config(&attr, (unsigned)blocks, stream);
    if (blocks > 0 && cudaLaunchKernelEx(&cfg, hopper::gemm_nt<T, kAct>, map_a, map_w0, map_w1, map_c, M, N, K) !=
                          cudaSuccess)
      return false;
  }
  return true;
}

// Hopper: the two GEMMs on TMA + wgmma (E, F > 0, multiples of 8, 16-byte aligned pointers).
template <Act kAct, typename T>
static int run_hopper(const T* x, const T* wg, const T* wu, const T* wd, T* y, int M, int E, int F, int optin,
                      cudaStream_t stream) {
  if (hopper::kSmemBytes > optin) return 1;  // this ring does not fit the device
  T* h = nullptr;                             // cudaMallocAsync memory is 256-byte aligned
  if (cudaMallocAsync((void**)&h, (size_t)M * F * sizeof(T), stream) != cudaSuccess) return 1;
  const bool ok = launch_hopper_gemm<T, kAct>(x, wg, wu, h, M, F, E, stream) &&
                  launch_hopper_gemm<T, Act::none>(h, wd, wd, y, M, E, F, stream);
  const cudaError_t launch_err = cudaGetLastError();
  if (cudaFreeAsync(h, stream) != cudaSuccess) return 1;
  return ok && launch_err == cudaSuccess ? 0 : 1;
}

// ---- host: the small-M path ------------------------------------------------------------------
// The current device's SM count, asked once per device (a driver query on every call costs host time that a
// decode step's small GEMMs cannot hide). A device property, not a result.
[[maybe_unused]] static int sm_count() {
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

// One small-M GEMM's grid: row blocks, slices of K and the 32-k blocks per slice.
struct SmallPlan {
  int row_blocks, slices, per;
};
// out[M,N] from W [N,K] with `rows` output columns per warp, at NT n-tiles of tokens (K > 0).
template <int NT>
static SmallPlan small_plan(int rows, int N, int K, int sms) {
  constexpr int kD = small::kDepth<NT>;
  const int row_blocks = (int)(((int64_t)N + S_WARPS * rows - 1) / (S_WARPS * rows));
  const int kblocks = (K + small::kKB - 1) / small::kKB;
  int slices = S_SPLIT;
  if (slices == 0) {  // the fewest slices that give every SM S_SM_WARPS warps, at most 16
    // A shallower ring (kDepth < S_DEPTH) has fewer bytes in flight per warp: ask for more warps.
    const int64_t want = (int64_t)sms * S_SM_WARPS * S_DEPTH / kD, have = (int64_t)row_blocks * S_WARPS;
    slices = (int)((want + have - 1) / have < 16 ? (want + have - 1) / have : 16);
  }
  const int most = kblocks / kD > 1 ? kblocks / kD : 1;  // a slice fills the ring at least once
  slices = slices < most ? slices : most;
  int per = (kblocks + slices - 1) / slices;  // blocks of 32 k per slice, whole passes of the ring
  per = (per + kD - 1) / kD * kD;
  return {row_blocks, (kblocks + per - 1) / per, per};  // slices recounted so that none is empty
}

// Blocks of 256 threads for sum_slices over mn outputs (grid-stride past 4096).
[[maybe_unused]] static unsigned sum_blocks(size_t mn) {
  return (unsigned)((mn + 255) / 256 < 4096 ? (mn + 255) / 256 : 4096);
}

// The two small-M GEMMs at NT n-tiles of tokens (M <= 8 NT); E, F > 0, multiples of 8, 16-byte
// aligned pointers.
template <Act kAct, typename T, int NT>
static int run_small_nt(const T* x, const T* wg, const T* wu, const T* wd, T* y, int M, int E, int F,
                        cudaStream_t stream) {
  const int sms = sm_count();
  if (sms <= 0) return 1;
  constexpr int kDownRows = 16 * small::kTiles, kUpRows = kDownRows / 2;  // output columns per warp
  const SmallPlan up = small_plan<NT>(kUpRows, F, E, sms), down = small_plan<NT>(kDownRows, E, F, sms);
  // One allocation: h [M,F] in T (256-byte aligned, as cudaMallocAsync's memory), then the f32 partial sums,
  // shared by the two GEMMs (gate and up per slice: 2 slices M F floats; down: slices M E).
  const size_t mf = (size_t)M * F, me = (size_t)M * E;
  const size_t h_bytes = (mf * sizeof(T) + 255) / 256 * 256;
  const size_t up_ws = up.slices > 1 ? 2 * (size_t)up.slices * mf : 0;
  const size_t down_ws = down.slices > 1 ? (size_t)down.slices * me : 0;
  unsigned char* buf = nullptr;
  if (cudaMallocAsync((void**)&buf, h_bytes + (up_ws > down_ws ? up_ws : down_ws) * sizeof(float), stream) !=
      cudaSuccess)
    return 1;
  T* const h = reinterpret_cast<T*>(buf);
  float* const ws = reinterpret_cast<float*>(buf + h_bytes);
  const dim3 block(S_WARPS * 32);
  small::stream_mma<T, kAct, NT><<<dim3((unsigned)up.row_blocks, (unsigned)up.slices), block, 0, stream>>>(
      x, wg, wu, h, up.slices > 1 ? ws : nullptr, M, F, E, up.per);
  if (up.slices > 1) small::sum_slices<T, kAct><<<sum_blocks(mf), 256, 0, stream>>>(ws, h, up.slices, mf);
  small::stream_mma<T, Act::none, NT><<<dim3((unsigned)down.row_blocks, (unsigned)down.slices), block, 0, stream>>>(
      h, wd, wd, y, down.slices > 1 ? ws : nullptr, M, E, F, down.per);
  if (down.slices > 1) small::sum_slices<T, Act::none><<<sum_blocks(me), 256, 0, stream>>>(ws, y, down.slices, me);
  const cudaError_t launch_err = cudaGetLastError();
  if (cudaFreeAsync(buf, stream) != cudaSuccess) return 1;
  return launch_err == cudaSuccess ? 0 : 1;
}

// M <= SMALL_M: an instance for 8, 16, 32 and 64 tokens (the accumulators' size is a template parameter; tokens
// past M are clamped reads, never stored). Each instance costs ~1.7 s of nvcc per candidate, so not one per 8.
template <Act kAct, typename T>
static int run_small(const T* x, const T* wg, const T* wu, const T* wd, T* y, int M, int E, int F,
                     cudaStream_t stream) {
  switch ((M + 7) / 8) {
    case 1: return run_small_nt<kAct, T, 1>(x, wg, wu, wd, y, M, E, F, stream);
#if SMALL_M > 8
    case 2: return run_small_nt<kAct, T, 2>(x, wg, wu, wd, y, M, E, F, stream);
#endif
#if SMALL_M > 16
    case 3:
    case 4: return run_small_nt<kAct, T, 4>(x, wg, wu, wd, y, M, E, F, stream);
#endif
#if SMALL_M > 32
    case 5:
    case 6:
    case 7:
    case 8: return run_small_nt<kAct, T, 8>(x, wg, wu, wd, y, M, E, F, stream);
#endif
    default: return 1;
  }
}

template <typename T, Act kAct>
static int run(const ak_call* call, int M, int E, int F) {
  const T* x = static_cast<const T*>(call->inputs[0].data);
  const T* wg = static_cast<const T*>(call->inputs[1].data);
  const T* wu = static_cast<const T*>(call->inputs[2].data);
  const T* wd = static_cast<const T*>(call->inputs[3].data);
  T* y = static_cast<T*>(call->outputs[0].data);
  cudaStream_t stream = (cudaStream_t)call->stream;
  if (E % 8 != 0 || F % 8 != 0 || !aligned16(x) || !aligned16(wg) || !aligned16(wu) || !aligned16(wd) ||
      !aligned16(y))
    return run_simt<kAct>(x, wg, wu, wd, y, M, E, F, stream);
  if constexpr (SMALL_M > 0) {
    if (M <= SMALL_M && F > 0) return run_small<kAct>(x, wg, wu, wd, y, M, E, F, stream);
  }

  int dev = 0, optin = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess)
    return 1;
  if (major == 9 && F > 0) return run_hopper<kAct>(x, wg, wu, wd, y, M, E, F, optin, stream);
  if (!prepare<T, kAct>(optin) || !prepare<T, Act::none>(optin)) return 1;  // the ring does not fit the device
  const int b_up = blocks_for(M, F, BM, Geo<true>::kBN), b_down = blocks_for(M, E, BM, BN);
  if (b_up < 0 || b_down < 0) return 1;
  T* h = nullptr;
  if (F > 0) {  // cudaMallocAsync memory is 256-byte aligned
    if (cudaMallocAsync((void**)&h, (size_t)M * F * sizeof(T), stream) != cudaSuccess) return 1;
    mma_gemm_nt<T, kAct><<<(unsigned)b_up, kThreads, Geo<true>::kSmemBytes, stream>>>(x, wg, wu, h, M, F, E);
  }
  // F == 0 gives K == 0 here: the GEMM then writes zeros.
  mma_gemm_nt<T, Act::none><<<(unsigned)b_down, kThreads, Geo<false>::kSmemBytes, stream>>>(h, wd, wd, y, M, E, F);
  const cudaError_t launch_err = cudaGetLastError();
  if (h != nullptr && cudaFreeAsync(h, stream) != cudaSuccess) return 1;
  return launch_err == cudaSuccess ? 0 : 1;
}

// f32: the SIMT path alone (no f32 tensor-core kernel here).
template <Act kAct>
static int run_f32(const ak_call* call, int M, int E, int F) {
  return run_simt<kAct>(static_cast<const float*>(call->inputs[0].data),
                        static_cast<const float*>(call->inputs[1].data),
                        static_cast<const float*>(call->inputs[2].data),
                        static_cast<const float*>(call->inputs[3].data), static_cast<float*>(call->outputs[0].data),
                        M, E, F, (cudaStream_t)call->stream);
}

template <Act kAct>
static int run_dtype(const ak_call* call, int M, int E, int F) {
  switch (call->inputs[0].dtype) {
    case AK_F16: return run<__half, kAct>(call, M, E, F);
    case AK_BF16: return run<__nv_bfloat16, kAct>(call, M, E, F);
    case AK_F32: return run_f32<kAct>(call, M, E, F);
    default: return 1;
  }
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 4 || call->n_outputs != 1) return 1;
  const double act = call->n_scalars > 0 ? call->scalars[0] : 0.0;  // ACT: 0 silu, 1 GELU tanh, 2 GELU erf
  const ak_tensor *X = &call->inputs[0], *Wg = &call->inputs[1], *Wu = &call->inputs[2];
  const ak_tensor *Wd = &call->inputs[3], *Y = &call->outputs[0];
  for (const ak_tensor* t : {Wg, Wu, Wd, Y})
    if (t->ndim != 2 || t->dtype != X->dtype) return 1;
  if (X->ndim != 2) return 1;
  const int64_t M = X->shape[0], E = X->shape[1], F = Wg->shape[0];
  if (Wg->shape[1] != E || Wu->shape[0] != F || Wu->shape[1] != E || Wd->shape[0] != E ||
      Wd->shape[1] != F || Y->shape[0] != M || Y->shape[1] != E)
    return 1;
  if (M > INT32_MAX || E > INT32_MAX || F > INT32_MAX) return 1;  // int indices inside the kernels
  if (M == 0 || E == 0) return 0;
  if (act == 0) return run_dtype<Act::silu>(call, (int)M, (int)E, (int)F);
  if (act == 1) return run_dtype<Act::gelu_tanh>(call, (int)M, (int)E, (int)F);
  if (act == 2) return run_dtype<Act::gelu_erf>(call, (int)M, (int)E, (int)F);
  return 1;
}
