// @autokernel type=fused_mlp
// SwiGLU MLP: y[M,E] = (silu(x Wg^T) * (x Wu^T)) Wd^T with Wg, Wu [F,E], Wd [E,F]. Two launches of one
// tensor-core GEMM for bf16/f16 ("NT": both operands contiguous along the reduction dim, so both
// are read with plain ldmatrix), f32 accumulation:
//   1. h[M,F] = silu(x Wg^T) * (x Wu^T): a block computes a BM x BN/2 tile of h; the gate and up
//      products share the staged x tile, keep two accumulator sets (so the same MMA work, registers
//      and shared memory per block as step 2) and the silu * mul is fused into the epilogue. h is
//      rounded to the input dtype, as eager PyTorch does;
//   2. y = h Wd^T, a BM x BN tile per block.
// Each GEMM: mma.sync.m16n8k16 (any sm_80+ GPU) on WARPS_M x WARPS_N warps; BK-deep slices stream
// through a STAGES-deep shared-memory ring of 16-byte cp.async copies (zero fill past the edges);
// the shared tiles are XOR-swizzled so ldmatrix is bank-conflict free; blocks run in groups of
// GROUP_M tile rows for L2 reuse; the epilogue stages the tile in shared memory for 16-byte stores.
// h takes M*F elements of scratch: the ABI gives no allocator, so it comes from the stream-ordered
// pool (cudaMallocAsync / cudaFreeAsync on the call's stream; no sync, no leak). Keeping the h tile
// on chip (one fused kernel) is the tuner's job. E and F must be multiples of 8 and the pointers
// 16-byte aligned for the tensor-core path; other calls, and f32, take a plain SIMT GEMM (h in f32).
// @knob BM=128 {64,128,256} rows (tokens) per block, both GEMMs
// @knob BN=128 {64,128,256} output columns per block of the down GEMM (the gate/up GEMM: BN/2 columns of h)
// @knob BK=32 {32,64} depth of one shared-memory K slice
// @knob WARPS_M=2 {1,2,4} warps along M; over 64x64 accumulators per warp or 32K per block (spills) do not compile
// @knob WARPS_N=2 {1,2,4} warps along N; BN/2 must split into 16-column warp tiles (BN=64 with 4 does not compile)
// @knob STAGES=4 {2,3,4,5} depth of the cp.async ring; a ring over the device's shared memory fails the call
// @knob GROUP_M=8 {1,4,8,16} tile rows per L2 group of the block order
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

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

constexpr int kThreads = WARPS_M * WARPS_N * 32;
static_assert(BK == 32 || BK == 64, "BK must be 32 or 64");
static_assert(STAGES >= 2, "STAGES must be >= 2");
static_assert(GROUP_M >= 1, "GROUP_M must be >= 1");

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

// ---- dtype helpers -------------------------------------------------------------------------
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
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

__device__ __forceinline__ float silu(float g) { return g / (1.0f + expf(-g)); }  // -0, not NaN, for g << 0

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
// C[m,n] = sum_k A[m,k] W0[n,k]                                   (kGated = false)
// C[m,n] = silu(sum_k A[m,k] W0[n,k]) * sum_k A[m,k] W1[n,k]      (kGated = true)
template <typename T, bool kGated>
__global__ void __launch_bounds__(kThreads)
    mma_gemm_nt(const T* __restrict__ A, const T* __restrict__ W0, const T* __restrict__ W1, T* __restrict__ C,
                int M, int N, int K) {
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

  // Epilogue: (silu(gate) * up, or the plain sum) rounded into a padded shared tile (the ring is free
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
      for (int e = 0; e < 4; ++e) v[e] = kGated ? silu(acc[0][i][j][e]) * acc[kNB - 1][i][j][e] : acc[0][i][j][e];
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

// C[m,n] = sum_k A[m,k] W0[n,k]                                   (kGated = false)
// C[m,n] = silu(sum_k A[m,k] W0[n,k]) * sum_k A[m,k] W1[n,k]      (kGated = true)
template <typename TA, typename TW, typename TC, bool kGated>
__global__ void __launch_bounds__(kSThreads)
    simt_gemm_nt(const TA* __restrict__ A, const TW* __restrict__ W0, const TW* __restrict__ W1,
                   TC* __restrict__ C, int M, int N, int K) {
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
      if constexpr (kGated) r = silu(r) * acc1[i][j];
      C[(int64_t)gm * N + gn] = from_f32<TC>(r);
    }
  }
}

// ---- host ----------------------------------------------------------------------------------
static bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

static int blocks_for(int64_t rows, int64_t cols, int64_t bm, int64_t bn) {
  const int64_t b = ((rows + bm - 1) / bm) * ((cols + bn - 1) / bn);
  return b > INT32_MAX ? -1 : (int)b;
}

template <typename T>
static int run_simt(const T* x, const T* wg, const T* wu, const T* wd, T* y, int M, int E, int F,
                    cudaStream_t stream) {
  float* h = nullptr;
  if (F > 0) {
    const int b = blocks_for(M, F, kSTile, kSTile);
    if (b < 0 || cudaMallocAsync((void**)&h, (size_t)M * F * sizeof(float), stream) != cudaSuccess) return 1;
    simt_gemm_nt<T, T, float, true><<<(unsigned)b, kSThreads, 0, stream>>>(x, wg, wu, h, M, F, E);
  }
  // F == 0 gives K == 0 here: the GEMM then writes zeros.
  const int b = blocks_for(M, E, kSTile, kSTile);
  if (b >= 0) simt_gemm_nt<float, T, T, false><<<(unsigned)b, kSThreads, 0, stream>>>(h, wd, nullptr, y, M, E, F);
  const cudaError_t launch_err = cudaGetLastError();
  if (h != nullptr && cudaFreeAsync(h, stream) != cudaSuccess) return 1;
  return b >= 0 && launch_err == cudaSuccess ? 0 : 1;
}

// Checks that a GEMM's shared-memory ring fits the device and opts in above 48 KB.
template <typename T, bool kGated>
static bool prepare(int optin) {
  constexpr int bytes = Geo<kGated>::kSmemBytes;
  if (bytes > optin) return false;
  return bytes <= 48 * 1024 ||
         cudaFuncSetAttribute(mma_gemm_nt<T, kGated>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) ==
             cudaSuccess;
}

template <typename T>
static int run(const ak_call* call, int M, int E, int F) {
  const T* x = static_cast<const T*>(call->inputs[0].data);
  const T* wg = static_cast<const T*>(call->inputs[1].data);
  const T* wu = static_cast<const T*>(call->inputs[2].data);
  const T* wd = static_cast<const T*>(call->inputs[3].data);
  T* y = static_cast<T*>(call->outputs[0].data);
  cudaStream_t stream = (cudaStream_t)call->stream;
  if (E % 8 != 0 || F % 8 != 0 || !aligned16(x) || !aligned16(wg) || !aligned16(wu) || !aligned16(wd) ||
      !aligned16(y))
    return run_simt(x, wg, wu, wd, y, M, E, F, stream);

  int dev = 0, optin = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
    return 1;
  if (!prepare<T, true>(optin) || !prepare<T, false>(optin)) return 1;  // the ring does not fit the device
  const int b_up = blocks_for(M, F, BM, Geo<true>::kBN), b_down = blocks_for(M, E, BM, BN);
  if (b_up < 0 || b_down < 0) return 1;
  T* h = nullptr;
  if (F > 0) {  // cudaMallocAsync memory is 256-byte aligned
    if (cudaMallocAsync((void**)&h, (size_t)M * F * sizeof(T), stream) != cudaSuccess) return 1;
    mma_gemm_nt<T, true><<<(unsigned)b_up, kThreads, Geo<true>::kSmemBytes, stream>>>(x, wg, wu, h, M, F, E);
  }
  // F == 0 gives K == 0 here: the GEMM then writes zeros.
  mma_gemm_nt<T, false><<<(unsigned)b_down, kThreads, Geo<false>::kSmemBytes, stream>>>(h, wd, wd, y, M, E, F);
  const cudaError_t launch_err = cudaGetLastError();
  if (h != nullptr && cudaFreeAsync(h, stream) != cudaSuccess) return 1;
  return launch_err == cudaSuccess ? 0 : 1;
}

template <>
int run<float>(const ak_call* call, int M, int E, int F) {
  return run_simt(static_cast<const float*>(call->inputs[0].data), static_cast<const float*>(call->inputs[1].data),
                  static_cast<const float*>(call->inputs[2].data), static_cast<const float*>(call->inputs[3].data),
                  static_cast<float*>(call->outputs[0].data), M, E, F, (cudaStream_t)call->stream);
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 4 || call->n_outputs != 1) return 1;
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
  switch (X->dtype) {
    case AK_F16: return run<__half>(call, (int)M, (int)E, (int)F);
    case AK_BF16: return run<__nv_bfloat16>(call, (int)M, (int)E, (int)F);
    case AK_F32: return run<float>(call, (int)M, (int)E, (int)F);
    default: return 1;
  }
}
