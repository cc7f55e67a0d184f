/* autokernel kernel ABI: the one calling convention of every CUDA C++ and CPU candidate.
 *
 * A candidate is one source file that defines
 *
 *     extern "C" int ak_kernel(const ak_call* call);
 *
 * The harness allocates every output (contiguous unless "Layouts" below says otherwise, in the dtype the
 * kernel type prescribes), fills it with a poison value, and calls ak_kernel. The kernel writes every output
 * element and returns 0, or returns non-zero when it cannot handle the call (the harness reports the case as
 * failed). For the cuda backend every pointer is device memory and the kernel launches its work on
 * `stream` (a cudaStream_t) without synchronising; for the cpu backend pointers are host memory and
 * `stream` is NULL. The kernel must not keep pointers or results between calls.
 *
 * Knobs: a candidate declares its tunables in comments,
 *     // @knob BLOCK=256 {64,128,256,512} threads per block
 * and the build defines each as a macro (-DBLOCK=256), so the code uses BLOCK directly.
 * Its kernel type is declared once:  // @autokernel type=rmsnorm
 *
 * Layouts. Every tensor is contiguous and row-major, except matmul's B and the 4-D head tensors of two types.
 * matmul's B[K,N] is row-major (stride[1] == 1, stride[0] >= N) or K-major (stride[0] == 1, stride[1] >= K: B = W^T
 * with F.linear's weight W[N,K] as the model holds it, or x^T for y^T = W x^T), its leading stride a multiple of 8
 * elements and data 16-byte aligned where that dim (N, or K) is; the harness checks each candidate on both
 * ("contiguous", "b_kmajor"). The head tensors:
 *   flash_attention   inputs q, k, v; output o
 *   rotary_embedding  inputs q, k; outputs q_out, k_out (cos and sin stay contiguous)
 * Such an input has the logical shape below ([B,H,S,D], dims in that order) and any strides, read from
 * ak_tensor.stride (in elements), with these guarantees: stride[3] == 1, every stride is non-negative, and
 * where D is a multiple of 8, stride[0..2] are multiples of 8 elements too and data is 16-byte aligned, so
 * 16-byte vectors and TMA can read whole rows (other D: any strides, the contiguous layout's own being
 * multiples of D only). The harness checks each candidate on three layouts: contiguous; the transpose of
 * [B,S,H,D] memory (a model's proj(x).view(B,S,H,D).transpose(1,2): strides (S*H*D, D, H*D, 1)); and slices
 * of one packed [B,S,H+2*HKV,D] tensor (a fused qkv projection: q's strides (S*(H+2*HKV)*D, D, (H+2*HKV)*D, 1)),
 * so two inputs may share one allocation. Such an output is always given in [B,S,H,D] memory order: logical
 * shape [B,H,S,D], strides (S*H*D, D, H*D, 1) (o.transpose(1,2) is then a contiguous [B,S,H,D], what a model's
 * o projection reads).
 * A kernel indexes element (b,h,s,d) as b*stride[0] + h*stride[1] + s*stride[2] + d*stride[3] and never assumes
 * contiguity for these tensors; a path that cannot take a layout returns non-zero rather than read it wrongly.
 *
 * Per kernel type (inputs; outputs; scalars), tensors row-major unless the layouts above say otherwise.
 *   matmul            A[M,K], B[K,N] (row-major or K-major)[, bias[N]][, residual[M,N]] ; C[M,N] ; -
 *                     C = A B (+ bias, on every row) (+ residual): the optional inputs told apart by ndim (1: bias,
 *                     2: residual, row-major, leading stride N); both added to the f32 sum before the one rounding
 *   softmax           x[M,N]                              ; y[M,N]        ; -            (over the last dim)
 *   layernorm         x[M,N], weight[N], bias[N]          ; y[M,N]        ; eps
 *   rmsnorm           x[M,N], weight[N]                   ; y[M,N]        ; eps          y = x*rsqrt(mean(x^2)+eps)*w
 *   add_rmsnorm       x[M,N], residual[M,N], weight[N]    ; s[M,N], y[M,N] ; eps         s = x+residual (rounded to the dtype),
 *                     y = s*rsqrt(mean(s^2)+eps)*w: a pre-norm block's residual add and the norm after it
 *   cross_entropy     logits[M,V], target[M] (int64)      ; loss[M] (f32) ; -            target < 0 means ignored: loss 0
 *   rotary_embedding  q[B,H,S,D], k[B,HKV,S,D], cos[S,D/2], sin[S,D/2] ; q_out[B,H,S,D], k_out[B,HKV,S,D] ; style
 *                     pair i at position s turns by theta[s,i]: first' = first*cos - second*sin,
 *                     second' = first*sin + second*cos; style 0: pairs (x[2i], x[2i+1]) (Meta's LLaMA),
 *                     style 1: pairs (x[i], x[i+D/2]) (Hugging Face rotate_half, GPT-NeoX)
 *   reduce            x[M,N]                              ; y[M]          ; -            sum over the last dim
 *   flash_attention   q[B,H,S,D], k[B,HKV,S,D], v[B,HKV,S,D] ; o[B,H,S,D] ; causal (0|1), scale  GQA: H % HKV == 0
 *                     (else return non-zero), query head h reads kv head h / (H / HKV); HKV == H is multi-head
 *   fused_mlp         x[M,E], w_gate[F,E], w_up[F,E], w_down[E,F] ; y[M,E] ; ACT        y = (act(x w_gate^T) * (x w_up^T)) w_down^T,
 *                     ACT (0 when absent): 0 silu (SwiGLU); GeGLU: 1 0.5g(1+tanh(sqrt(2/pi)(g+0.044715g^3)))
 *                     (Gemma's gelu_pytorch_tanh), 2 0.5g(1+erf(g/sqrt2)) (the exact GELU); any other: return non-zero
 *   skinny_gemm       x[M,K], w[N,K]                      ; y[M,N]        ; -            y = x w^T, M = 1..64 (F.linear's weight as it is)
 *   gelu              x[M,N]                              ; y[M,N]        ; approximate  elementwise; 0: 0.5x(1+erf(x/sqrt2)),
 *                     1: 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))) (GPT-2's NewGELUActivation)
 *   decode_attention  q[B,H,1,D], k[B,HKV,S,D], v[B,HKV,S,D][, lengths[B] (int64)] ; o[B,H,1,D] ; L, scale
 *                     one decode step over a KV cache of S positions: o[b] = softmax(q[b] k[b,:L_b]^T * scale) v[b,:L_b],
 *                     keys 0..L_b-1 only (k, v past them may hold anything, NaN included), query head h reads kv head
 *                     h / (H / HKV), H % HKV == 0. Without lengths L_b = L (1 <= L <= S); with them (on the device,
 *                     never read by the host: one CUDA graph serves every step) L_b = lengths[b], 1 <= L_b <= L <= S,
 *                     L their upper bound (the exported op passes S)
 * Outputs have the inputs' dtype unless stated; accumulate in f32.
 */
#ifndef AUTOKERNEL_KERNEL_ABI_H
#define AUTOKERNEL_KERNEL_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ak_dtype { AK_F16 = 0, AK_BF16 = 1, AK_F32 = 2, AK_I64 = 3 } ak_dtype;

#define AK_MAX_DIMS 6

typedef struct ak_tensor {
  void* data;
  int32_t dtype; /* an ak_dtype */
  int32_t ndim;
  int64_t shape[AK_MAX_DIMS];
  int64_t stride[AK_MAX_DIMS]; /* in elements */
} ak_tensor;

typedef struct ak_call {
  const ak_tensor* inputs;
  int32_t n_inputs;
  const ak_tensor* outputs;
  int32_t n_outputs;
  const double* scalars;
  int32_t n_scalars;
  void* stream; /* cudaStream_t for the cuda backend, NULL for cpu */
} ak_call;

typedef int (*ak_kernel_fn)(const ak_call* call);

static inline int64_t ak_numel(const ak_tensor* t) {
  int64_t n = 1;
  for (int32_t i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

#ifdef __cplusplus
}
#endif

#endif /* AUTOKERNEL_KERNEL_ABI_H */
