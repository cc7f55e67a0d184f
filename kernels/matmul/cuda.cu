// @autokernel type=matmul
// C[M,N] = A[M,K] @ B[K,N], row-major, f32 accumulation for every dtype.
// bf16/f16: tensor-core GEMM on mma.sync.m16n8k16 (any sm_80+ GPU; on H100 it is the portable
// path short of wgmma). A block computes a BM x BN tile of C with WARPS_M x WARPS_N warps, each
// owning a (BM/WARPS_M) x (BN/WARPS_N) tile of f32 accumulators. BK-deep slices of A and B stream
// through a STAGES-deep shared-memory ring filled by 16-byte cp.async copies (zero fill past the
// M/N/K edges through the src-size operand), so the loads of later slices overlap the MMAs of this
// one. Shared tiles are XOR-swizzled in 16-byte chunks so ldmatrix (.trans for B, which is stored
// K-major) reads them without bank conflicts. Blocks are ordered in groups of GROUP_M tile rows so
// that blocks running together share A rows and B columns in L2. The epilogue rounds C into shared
// memory and writes it back in coalesced 16-byte stores.
// The 16-byte path needs N and K multiples of 8 and 16-byte aligned pointers; other calls, and f32,
// take a plain shared-memory tiled SIMT kernel (correct, not fast).
// @knob BM=128 {64,128,256} rows of C per block
// @knob BN=128 {64,128,256} columns of C per block
// @knob BK=32 {32,64} depth of one shared-memory K slice
// @knob WARPS_M=2 {1,2,4} warps along M; over 64x64 accumulators per warp or 32K per block (spills) do not compile
// @knob WARPS_N=2 {1,2,4} warps along N
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
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
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

// ---- tensor-core kernel ------------------------------------------------------------------
template <typename T>
__global__ void __launch_bounds__(kThreads)
    mma_gemm(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C, int M, int N, int K) {
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
  constexpr int kBC = BN / 8, kBChunks = BK * kBC, kBRows = kThreads / kBC;
  static_assert(kThreads % kAC == 0, "threads must cover whole A rows");
  const int a_r = tid / kAC, a_c = tid % kAC;
  const int b_r = tid / kBC, b_c = tid % kBC;  // b_r may be >= BK when kThreads > kBChunks
  const T* const a_src = A + (int64_t)(m0 + a_r) * K + a_c * 8;
  const T* const b_src = B + (int64_t)b_r * N + n0 + b_c * 8;
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
      if (kBChunks % kThreads == 0 || r < BK) {
        const bool ok = k0 + r < K && n0 + b_c * 8 < N;
        cp_async16(b + swz<kBC>(r, b_c), ok ? b_src + (int64_t)(k0 + it * kBRows) * N : B, ok);
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
      for (int j = 0; j < kNI; j += 2) {  // x4.trans: k 0-7/8-15 x n 0-7/8-15 = b0,b1 of two n8 tiles
        uint32_t t[4];
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
  for (int i = 0; i < kMI; ++i)
#pragma unroll
    for (int j = 0; j < kNI; ++j) {
      const int r = wm + i * 16 + (lane >> 2), c = wn + j * 8 + (lane & 3) * 2;
      store2(sC + r * kCStride + c, acc[i][j][0], acc[i][j][1]);
      store2(sC + (r + 8) * kCStride + c, acc[i][j][2], acc[i][j][3]);
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

// ---- SIMT fallback (f32; unaligned pointers; N or K not a multiple of 8) -----------------------
// A 64x64 tile per block, 16-deep K slices staged in shared memory as f32 (zero past the edges),
// each of 256 threads owning a 4x4 micro-tile spaced 16 rows / 16 columns apart.
constexpr int kSBM = 64, kSBN = 64, kSBK = 16, kSTM = 4;
constexpr int kSRows = kSBM / kSTM, kSCols = kSBN / kSTM, kSThreads = kSRows * kSCols;

template <typename T>
__global__ void __launch_bounds__(kSThreads)
    simt_gemm(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C, int M, int N, int K) {
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
      Bs[r][c] = (gk < K && gn < N) ? to_f32(B[(int64_t)gk * N + gn]) : 0.0f;
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
      if (gn < N) C[(int64_t)gm * N + gn] = from_f32<T>(acc[i][j]);
    }
  }
}

// ---- host ----------------------------------------------------------------------------------
static bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

template <typename T>
static int launch_simt(const T* A, const T* B, T* C, int64_t M, int64_t N, int64_t K, cudaStream_t stream) {
  const int64_t blocks = ((M + kSBM - 1) / kSBM) * ((N + kSBN - 1) / kSBN);
  if (blocks > INT32_MAX) return 1;
  simt_gemm<T><<<(unsigned)blocks, kSThreads, 0, stream>>>(A, B, C, (int)M, (int)N, (int)K);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

template <typename T>
static int launch(const ak_call* call, int64_t M, int64_t N, int64_t K) {
  const T* A = static_cast<const T*>(call->inputs[0].data);
  const T* B = static_cast<const T*>(call->inputs[1].data);
  T* C = static_cast<T*>(call->outputs[0].data);
  cudaStream_t stream = (cudaStream_t)call->stream;
  if (N % 8 != 0 || K % 8 != 0 || !aligned16(A) || !aligned16(B) || !aligned16(C))
    return launch_simt(A, B, C, M, N, K, stream);
  const int64_t blocks = ((M + BM - 1) / BM) * ((N + BN - 1) / BN);
  if (blocks > INT32_MAX) return 1;
  int dev = 0, optin = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
    return 1;
  if (kSmemBytes > optin) return 1;  // this ring does not fit the device
  if (kSmemBytes > 48 * 1024 &&
      cudaFuncSetAttribute(mma_gemm<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes) != cudaSuccess)
    return 1;
  mma_gemm<T><<<(unsigned)blocks, kThreads, kSmemBytes, stream>>>(A, B, C, (int)M, (int)N, (int)K);
  return cudaGetLastError() == cudaSuccess ? 0 : 1;
}

template <>
int launch<float>(const ak_call* call, int64_t M, int64_t N, int64_t K) {
  return launch_simt(static_cast<const float*>(call->inputs[0].data), static_cast<const float*>(call->inputs[1].data),
                     static_cast<float*>(call->outputs[0].data), M, N, K, (cudaStream_t)call->stream);
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 2 || call->n_outputs != 1) return 1;
  const ak_tensor *A = &call->inputs[0], *B = &call->inputs[1], *C = &call->outputs[0];
  if (A->ndim != 2 || B->ndim != 2 || C->ndim != 2) return 1;
  if (B->dtype != A->dtype || C->dtype != A->dtype) return 1;
  const int64_t M = A->shape[0], K = A->shape[1], N = B->shape[1];
  if (B->shape[0] != K || C->shape[0] != M || C->shape[1] != N) return 1;
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) return 1;  // int indices inside the kernels
  if (M == 0 || N == 0) return 0;
  switch (A->dtype) {
    case AK_F16: return launch<__half>(call, M, N, K);
    case AK_BF16: return launch<__nv_bfloat16>(call, M, N, K);
    case AK_F32: return launch<float>(call, M, N, K);
    default: return 1;
  }
}
