// @autokernel type=flash_attention
// o = softmax(scale * q k^T [+ causal mask]) v per (batch, query head), on the host, for q, o
// [B,H,S,D] and k, v [B,HKV,S,D] (grouped-query attention: query head h reads kv head h / (H/HKV);
// H % HKV != 0 is refused). The heads are walked kv head by kv head: its K and V are converted to
// f32 once and serve the H/HKV query heads of its group; for each query row all scores are formed,
// the row max is subtracted before exp (masked keys are simply skipped), and o is accumulated in f32.
// scalars: [0] causal (!= 0), [1] scale. Every tensor is addressed through its strides (any layout: the
// harness gives q, k, v transposed or packed views and o in [B,S,H,D] memory order). Limits: single-threaded,
// O(S^2 D) per query head, (2 S D + S) floats of scratch.
// @knob LANES=4 {1,2,4,8} independent partial sums in the q.k dot products
#include <cmath>
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef LANES
#define LANES 4
#endif
static_assert(LANES >= 1, "LANES must be positive");

// @shared begin cpu_dot: copied in other starters, every copy the same (tests/test_starter_regions.py)
static float dot(const float* a, const float* b, int64_t n) {
  float s[LANES] = {};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; ++l) s[l] += a[i + l] * b[i + l];
  for (; i < n; ++i) s[0] += a[i] * b[i];
  float r = 0.0f;
  for (int l = 0; l < LANES; ++l) r += s[l];
  return r;
}
// @shared end cpu_dot

// Element (b, h, s, d) of a 4-D tensor, by its strides.
static inline int64_t at4(const ak_tensor* t, int64_t b, int64_t h, int64_t s, int64_t d) {
  return b * t->stride[0] + h * t->stride[1] + s * t->stride[2] + d * t->stride[3];
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 3 || call->n_outputs != 1 || call->n_scalars < 2) return 1;
  const ak_tensor *Q = &call->inputs[0], *K = &call->inputs[1], *V = &call->inputs[2];
  const ak_tensor* O = &call->outputs[0];
  for (const ak_tensor* t : {Q, K, V, O})
    if (t->ndim != 4 || t->dtype == AK_I64) return 1;
  for (int d = 0; d < 4; ++d)
    if (O->shape[d] != Q->shape[d] || V->shape[d] != K->shape[d] || (d != 1 && K->shape[d] != Q->shape[d])) return 1;
  const int64_t B = Q->shape[0], H = Q->shape[1], HKV = K->shape[1], S = Q->shape[2], D = Q->shape[3];
  if (HKV < 1 ? H != 0 : H % HKV != 0) return 1;  // no heads at all is an empty call
  const bool causal = call->scalars[0] != 0.0;
  const float scale = (float)call->scalars[1];
  const int64_t group = HKV > 0 ? H / HKV : 0;

  std::vector<float> k(S * D), v(S * D), q(D), p(S), o(D);
  for (int64_t bkv = 0; bkv < B * HKV; ++bkv) {
    const int64_t b = bkv / HKV, hk = bkv % HKV;
    for (int64_t j = 0; j < S; ++j)
      for (int64_t d = 0; d < D; ++d) {
        k[j * D + d] = ak_load(K, at4(K, b, hk, j, d));
        v[j * D + d] = ak_load(V, at4(V, b, hk, j, d));
      }
    // Query heads hk*group .. hk*group + group - 1 of batch b.
    for (int64_t qi = 0; qi < group * S; ++qi) {
      const int64_t h = hk * group + qi / S, i = qi % S;
      for (int64_t d = 0; d < D; ++d) q[d] = ak_load(Q, at4(Q, b, h, i, d));
      const int64_t n_keys = causal ? i + 1 : S;  // causal: keys j <= i, never empty
      float mx = -INFINITY;
      for (int64_t j = 0; j < n_keys; ++j) {
        p[j] = scale * dot(q.data(), &k[j * D], D);
        mx = p[j] > mx ? p[j] : mx;
      }
      double denom = 0.0;
      for (int64_t j = 0; j < n_keys; ++j) denom += (p[j] = std::exp(p[j] - mx));
      for (int64_t d = 0; d < D; ++d) o[d] = 0.0f;
      for (int64_t j = 0; j < n_keys; ++j)
        for (int64_t d = 0; d < D; ++d) o[d] += p[j] * v[j * D + d];
      const float inv = (float)(1.0 / denom);
      for (int64_t d = 0; d < D; ++d) ak_store(O, at4(O, b, h, i, d), o[d] * inv);
    }
  }
  return 0;
}
