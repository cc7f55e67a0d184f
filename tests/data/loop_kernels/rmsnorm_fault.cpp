// @autokernel type=rmsnorm
// A test kernel for the loop's robustness: FAULT=1 writes through a null pointer (the worker dies of
// SIGSEGV); 0 and 2 are correct. The search tries the neighbour 1 before 2, so one run sees a crash
// followed by a good candidate.
// @knob FAULT=0 {0,1,2} 1 crashes
#include <cmath>

#include "autokernel/cpu_types.h"

#ifndef FAULT
#define FAULT 0
#endif

extern "C" int ak_kernel(const ak_call* c) {
  if (FAULT == 1) *static_cast<volatile float*>(nullptr) = 1.0f;
  const ak_tensor *x = &c->inputs[0], *w = &c->inputs[1], *y = &c->outputs[0];
  const int64_t M = x->shape[0], N = x->shape[1];
  for (int64_t i = 0; i < M; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < N; ++j) ss += double(ak_load(x, i * N + j)) * ak_load(x, i * N + j);
    const float r = 1.0f / std::sqrt(float(ss / N) + float(c->scalars[0]));
    for (int64_t j = 0; j < N; ++j) ak_store(y, i * N + j, ak_load(x, i * N + j) * r * ak_load(w, j));
  }
  return 0;
}
