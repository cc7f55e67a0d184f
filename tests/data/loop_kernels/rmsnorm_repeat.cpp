// @autokernel type=rmsnorm
// A test kernel for the loop: correct, but it computes each row REPEAT times, so the search has a real,
// measurable improvement to find (REPEAT=1); UNROLL changes nothing, so some experiments must be reverted.
// @knob REPEAT=8 {1,2,4,8} times each row is computed
// @knob UNROLL=1 {1,2,3,4} has no effect
#include <cmath>

#include "autokernel/cpu_types.h"

#ifndef REPEAT
#define REPEAT 8
#endif

extern "C" int ak_kernel(const ak_call* c) {
  const ak_tensor *x = &c->inputs[0], *w = &c->inputs[1], *y = &c->outputs[0];
  const int64_t M = x->shape[0], N = x->shape[1];
  for (int rep = 0; rep < REPEAT; ++rep) {
    for (int64_t i = 0; i < M; ++i) {
      double ss = 0;
      for (int64_t j = 0; j < N; ++j) {
        const double v = ak_load(x, i * N + j);
        ss += v * v;
      }
      const float r = 1.0f / std::sqrt(float(ss / N) + float(c->scalars[0]));
      for (int64_t j = 0; j < N; ++j) ak_store(y, i * N + j, ak_load(x, i * N + j) * r * ak_load(w, j));
    }
  }
  return 0;
}
