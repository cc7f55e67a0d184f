// @autokernel type=reduce
// A test kernel whose experiments fail or lose by construction (see rmsnorm_steps.cpp): MODE=1 is wrong (the
// harness rejects it), MODE=2 sums each row 16 times (16x slower, reverted). The search tries 1, then 2.
// @knob MODE=0 {0,1,2} 1 is incorrect, 2 is slow
#include "autokernel/cpu_types.h"

#ifndef MODE
#define MODE 0
#endif

extern "C" int ak_kernel(const ak_call* c) {
  const ak_tensor *x = &c->inputs[0], *y = &c->outputs[0];
  const int64_t M = x->shape[0], N = x->shape[1];
  for (int rep = 0; rep < (MODE == 2 ? 16 : 1); ++rep) {
    for (int64_t i = 0; i < M; ++i) {
      double s = 0;
      for (int64_t j = 0; j < N; ++j) s += ak_load(x, i * N + j);
      ak_store(y, i, float(s) + (MODE == 1 ? 1.0f : 0.0f));
    }
  }
  return 0;
}
