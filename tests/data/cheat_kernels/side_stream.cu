// @autokernel type=rmsnorm
// Cheat: does its work on a non-blocking stream of its own and returns without joining the harness's
// stream, so the events around the call see (almost) nothing. The harness times on a stream of its own,
// snapshots the output on that stream right after the end event, and re-measures an implausible speed-up
// with device-wide synchronisation: either the snapshot misses the work or the re-measurement does not
// confirm the speed.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "autokernel/kernel_abi.h"

template <typename T>
__global__ void rms(const T* x, const T* w, T* y, long long N, float eps) {
  __shared__ float partial[256];
  const long long row = blockIdx.x;
  float ss = 0;
  for (long long j = threadIdx.x; j < N; j += blockDim.x) {
    const float v = float(x[row * N + j]);
    ss += v * v;
  }
  partial[threadIdx.x] = ss;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  const float r = rsqrtf(partial[0] / N + eps);
  for (long long j = threadIdx.x; j < N; j += blockDim.x) y[row * N + j] = T(float(x[row * N + j]) * r * float(w[j]));
}

extern "C" int ak_kernel(const ak_call* c) {
  static cudaStream_t side = [] {
    cudaStream_t s;
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    return s;
  }();
  const ak_tensor &x = c->inputs[0], &w = c->inputs[1], &y = c->outputs[0];
  const long long M = x.shape[0], N = x.shape[1];
  const float eps = float(c->scalars[0]);
  switch (x.dtype) {
    case AK_F16: rms<<<M, 256, 0, side>>>((const __half*)x.data, (const __half*)w.data, (__half*)y.data, N, eps); break;
    case AK_BF16:
      rms<<<M, 256, 0, side>>>((const __nv_bfloat16*)x.data, (const __nv_bfloat16*)w.data, (__nv_bfloat16*)y.data, N, eps);
      break;
    case AK_F32: rms<<<M, 256, 0, side>>>((const float*)x.data, (const float*)w.data, (float*)y.data, N, eps); break;
    default: return 1;
  }
  return 0;
}
