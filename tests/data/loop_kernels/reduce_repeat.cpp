// @autokernel type=reduce
// A test kernel for the loop: correct, but sums each row REPEAT times (see rmsnorm_repeat.cpp).
// @knob REPEAT=8 {1,2,4,8} times each row is summed
// @knob UNROLL=1 {1,2,3,4} has no effect
#include "autokernel/cpu_types.h"

#ifndef REPEAT
#define REPEAT 8
#endif

extern "C" int ak_kernel(const ak_call* c) {
  const ak_tensor *x = &c->inputs[0], *y = &c->outputs[0];
  const int64_t M = x->shape[0], N = x->shape[1];
  for (int rep = 0; rep < REPEAT; ++rep) {
    for (int64_t i = 0; i < M; ++i) {
      double s = 0;
      for (int64_t j = 0; j < N; ++j) s += ak_load(x, i * N + j);
      ak_store(y, i, float(s));
    }
  }
  return 0;
}
