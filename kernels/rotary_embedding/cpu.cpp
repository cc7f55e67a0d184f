// @autokernel type=rotary_embedding
// Rotary embedding of q[B,H,S,D] and k[B,HKV,S,D] in one call, on the host. Pair i of a row at position
// s turns by theta[s,i] (cos/sin given as [S, D/2]):
//   first' = first cos[s,i] - second sin[s,i],  second' = first sin[s,i] + second cos[s,i],
// where the pair is (x[2i], x[2i+1]) for style 0 (interleaved, Meta's LLaMA) and (x[i], x[i+D/2]) for
// style 1 (rotate-half, Hugging Face / GPT-NeoX). One loop runs over the B*(H+HKV)*S rows: rows below
// B*H*S are q's, the rest k's, each addressed through its strides (the harness gives q and k as transposed
// or packed views, q_out and k_out in [B,S,H,D] memory order). cos/sin ([S, D/2], contiguous) may have any
// float dtype. Returns non-zero for odd D or a style other than 0 or 1. Limits: single-threaded.
// @knob PRECONVERT=1 {0,1} 1: convert the cos/sin tables to f32 once (S*D floats of scratch); 0: load them per element
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef PRECONVERT
#define PRECONVERT 1
#endif

// Element (b, h, s, d) of a 4-D tensor, by its strides.
static inline int64_t at4(const ak_tensor* t, int64_t b, int64_t h, int64_t s, int64_t d) {
  return b * t->stride[0] + h * t->stride[1] + s * t->stride[2] + d * t->stride[3];
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 4 || call->n_outputs != 2 || call->n_scalars < 1) return 1;
  const ak_tensor *Q = &call->inputs[0], *K = &call->inputs[1], *Cos = &call->inputs[2], *Sin = &call->inputs[3];
  const ak_tensor *QO = &call->outputs[0], *KO = &call->outputs[1];
  const double style = call->scalars[0];
  if (style != 0 && style != 1) return 1;
  for (const ak_tensor* t : {Q, K, Cos, Sin, QO, KO}) {
    if (t->dtype == AK_I64) return 1;
  }
  if (Q->ndim != 4 || K->ndim != 4 || QO->ndim != 4 || KO->ndim != 4) return 1;
  const int64_t B = Q->shape[0], S = Q->shape[2], D = Q->shape[3], half = D / 2;
  if (K->shape[0] != B || K->shape[2] != S || K->shape[3] != D) return 1;
  if (D % 2 != 0 || ak_numel(Cos) != S * half || ak_numel(Sin) != S * half) return 1;
  for (int d = 0; d < 4; ++d)
    if (QO->shape[d] != Q->shape[d] || KO->shape[d] != K->shape[d]) return 1;
  if (D == 0) return 0;
  const int64_t q_rows = ak_numel(Q) / D, rows = q_rows + ak_numel(K) / D;

#if PRECONVERT
  std::vector<float> cs(S * half), sn(S * half);
  for (int64_t i = 0; i < S * half; ++i) cs[i] = ak_load(Cos, i), sn[i] = ak_load(Sin, i);
  auto cos_at = [&](int64_t i) { return cs[i]; };
  auto sin_at = [&](int64_t i) { return sn[i]; };
#else
  auto cos_at = [&](int64_t i) { return ak_load(Cos, i); };
  auto sin_at = [&](int64_t i) { return ak_load(Sin, i); };
#endif
  // Where pair i's two elements sit in a row.
  const int64_t first_step = style == 0 ? 2 : 1, second_offset = style == 0 ? 1 : half;

  for (int64_t r = 0; r < rows; ++r) {
    const bool is_q = r < q_rows;
    const ak_tensor *X = is_q ? Q : K, *Y = is_q ? QO : KO;
    const int64_t heads = X->shape[1], row = is_q ? r : r - q_rows, s = row % S;
    const int64_t h = row / S % heads, b = row / S / heads;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t first = first_step * i, second = first + second_offset;
      const float x0 = ak_load(X, at4(X, b, h, s, first)), x1 = ak_load(X, at4(X, b, h, s, second));
      const float c = cos_at(s * half + i), sn_ = sin_at(s * half + i);
      ak_store(Y, at4(Y, b, h, s, first), x0 * c - x1 * sn_);
      ak_store(Y, at4(Y, b, h, s, second), x0 * sn_ + x1 * c);
    }
  }
  return 0;
}
