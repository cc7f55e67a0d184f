// @autokernel type=softmax
// A test kernel with one kept and one reverted experiment by construction (see rmsnorm_steps.cpp): the
// search tries REPEAT=1 (8x faster: kept), then 16 (16x slower than that: reverted).
// @knob REPEAT=8 {8,1,16} times each row is computed
#include <cmath>

#include "autokernel/cpu_types.h"

#ifndef REPEAT
#define REPEAT 8
#endif

extern "C" int ak_kernel(const ak_call* c) {
  const ak_tensor *x = &c->inputs[0], *y = &c->outputs[0];
  const int64_t N = x->shape[x->ndim - 1], M = N ? ak_numel(x) / N : 0;
  for (int rep = 0; rep < REPEAT; ++rep) {
    for (int64_t i = 0; i < M; ++i) {
      float mx = -INFINITY;
      for (int64_t j = 0; j < N; ++j) mx = std::fmax(mx, ak_load(x, i * N + j));
      double s = 0;
      for (int64_t j = 0; j < N; ++j) s += std::exp(double(ak_load(x, i * N + j)) - mx);
      for (int64_t j = 0; j < N; ++j) ak_store(y, i * N + j, float(std::exp(double(ak_load(x, i * N + j)) - mx) / s));
    }
  }
  return 0;
}
