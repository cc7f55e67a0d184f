// The correct core the attention bad kernels below start from: the CPU starter's attention, row by row, with
// the addressing left to the includer: AT(t, b, h, s, d) is element (b, h, s, d)'s index in tensor t.
#pragma once
#include <cmath>
#include <vector>

#include "autokernel/cpu_types.h"

inline int attention(const ak_call* c) {
  const ak_tensor *Q = &c->inputs[0], *K = &c->inputs[1], *V = &c->inputs[2], *O = &c->outputs[0];
  const int64_t B = Q->shape[0], H = Q->shape[1], S = Q->shape[2], D = Q->shape[3], group = H / K->shape[1];
  const bool causal = c->scalars[0] != 0;
  std::vector<float> p(S);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < S; ++i) {
        const int64_t n = causal ? i + 1 : S;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n; ++j) {
          float dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += ak_load(Q, AT(Q, b, h, i, d)) * ak_load(K, AT(K, b, h / group, j, d));
          p[j] = dot * float(c->scalars[1]);
          mx = std::fmax(mx, p[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) sum += (p[j] = std::exp(p[j] - mx));
        for (int64_t d = 0; d < D; ++d) {
          double o = 0;
          for (int64_t j = 0; j < n; ++j) o += p[j] * ak_load(V, AT(V, b, h / group, j, d));
          ak_store(O, AT(O, b, h, i, d), float(o / sum));
        }
      }
  return 0;
}
