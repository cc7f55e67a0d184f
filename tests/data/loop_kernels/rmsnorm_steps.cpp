// @autokernel type=rmsnorm
// A test kernel for runs whose decisions must not depend on timing noise (tests/loop/test_multi_worker.cpp):
// each knob step is an 8x gain, far beyond any noise, and the search can only walk 64 -> 8 -> 1 (one untried
// neighbour at each step), so every run keeps the same two experiments whatever its seed or load. (Steps of 4x
// were once reverted in a CI run with two test jobs on two cores: the keep rule wants the new time's
// interquartile range below the best's, and such load spreads both.)
// @knob REPEAT=64 {64,8,1} times each row is computed
#include <cmath>

#include "autokernel/cpu_types.h"

#ifndef REPEAT
#define REPEAT 64
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
