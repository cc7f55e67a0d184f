// @autokernel type=decode_attention
// One decode step's attention on the host: o[b,h] = softmax(scale * q[b,h] k[b,h/G,:L_b]^T) v[b,h/G,:L_b] for
// q, o [B,H,1,D] and the cache k, v [B,HKV,S,D] of which the first L_b positions of sequence b are valid (G = H /
// HKV query heads share a kv head; H % HKV != 0 is refused). L_b: the 4th input lengths[b] (int64 [B], the
// device's form) where there is one, else the scalar L for every sequence. Keys past L_b are never read. Per
// query head: all L_b scores in double, the max subtracted before exp, o accumulated in double and divided once
// by the sum. scalars: [0] L (with lengths: their upper bound, unused here), [1] scale. A length outside 1..S is
// refused. Limits: single-threaded, (S + 2 D) doubles of scratch.
// @knob LANES=4 {1,2,4,8} independent partial sums in the q.k dot products
#include <cmath>
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef LANES
#define LANES 4
#endif
static_assert(LANES >= 1, "LANES must be positive");

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs < 3 || call->n_inputs > 4 || call->n_outputs != 1 || call->n_scalars < 2) return 1;
  const ak_tensor *Q = &call->inputs[0], *K = &call->inputs[1], *V = &call->inputs[2];
  const ak_tensor* O = &call->outputs[0];
  for (const ak_tensor* t : {Q, K, V, O})
    if (t->ndim != 4 || t->dtype == AK_I64) return 1;
  for (int d = 0; d < 4; ++d)
    if (O->shape[d] != Q->shape[d] || V->shape[d] != K->shape[d]) return 1;
  const int64_t B = Q->shape[0], H = Q->shape[1], HKV = K->shape[1], S = K->shape[2], D = Q->shape[3];
  if (Q->shape[2] != 1 || K->shape[0] != B || K->shape[3] != D) return 1;
  if (HKV < 1 ? H != 0 : H % HKV != 0) return 1;  // no heads at all is an empty call
  const ak_tensor* lengths = call->n_inputs == 4 ? &call->inputs[3] : nullptr;
  if (lengths != nullptr && (lengths->dtype != AK_I64 || lengths->ndim != 1 || lengths->shape[0] != B)) return 1;
  const double l_scalar = call->scalars[0];
  const int64_t L = (int64_t)l_scalar;
  if (lengths == nullptr && ((double)L != l_scalar || L < 1 || L > S)) return 1;
  const int64_t* len = lengths != nullptr ? (const int64_t*)lengths->data : nullptr;
  for (int64_t b = 0; len != nullptr && b < B; ++b)
    if (len[b * lengths->stride[0]] < 1 || len[b * lengths->stride[0]] > S) return 1;
  const double scale = call->scalars[1];
  const int64_t group = HKV > 0 ? H / HKV : 0;

  std::vector<double> q(D), p(S), o(D);
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t kv_base = (bh / group) * S * D;  // b*HKV + h/G, with the heads flattened
    const int64_t Lb = len != nullptr ? len[(bh / H) * lengths->stride[0]] : L;
    for (int64_t d = 0; d < D; ++d) q[d] = ak_load(Q, bh * D + d);
    double mx = -INFINITY;
    for (int64_t j = 0; j < Lb; ++j) {
      double s[LANES] = {};
      int64_t d = 0;
      for (; d + LANES <= D; d += LANES)
        for (int l = 0; l < LANES; ++l) s[l] += q[d + l] * ak_load(K, kv_base + j * D + d + l);
      for (; d < D; ++d) s[0] += q[d] * ak_load(K, kv_base + j * D + d);
      double dot = 0.0;
      for (int l = 0; l < LANES; ++l) dot += s[l];
      p[j] = scale * dot;
      mx = p[j] > mx ? p[j] : mx;
    }
    double denom = 0.0;
    for (int64_t d = 0; d < D; ++d) o[d] = 0.0;
    for (int64_t j = 0; j < Lb; ++j) {
      const double w = std::exp(p[j] - mx);
      denom += w;
      for (int64_t d = 0; d < D; ++d) o[d] += w * ak_load(V, kv_base + j * D + d);
    }
    for (int64_t d = 0; d < D; ++d) ak_store(O, bh * D + d, (float)(o[d] / denom));
  }
  return 0;
}
