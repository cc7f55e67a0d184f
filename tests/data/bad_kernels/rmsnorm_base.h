// The correct core the bad kernels below start from: y = x * rsqrt(mean(x^2) + eps) * w, row by row.
#pragma once
#include <cmath>

#include "autokernel/cpu_types.h"

inline void rms_row(const ak_call* c, int64_t row, bool use_eps = true) {
  const ak_tensor *x = &c->inputs[0], *w = &c->inputs[1], *y = &c->outputs[0];
  const int64_t N = x->shape[1];
  double ss = 0;
  for (int64_t j = 0; j < N; ++j) {
    const double v = ak_load(x, row * N + j);
    ss += v * v;
  }
  const float r = 1.0f / std::sqrt(float(ss / N) + (use_eps ? float(c->scalars[0]) : 0.0f));
  for (int64_t j = 0; j < N; ++j) ak_store(y, row * N + j, ak_load(x, row * N + j) * r * ak_load(w, j));
}
