// @autokernel type=rmsnorm
// Right within tolerance every time, but every other call flips the lowest bit of one element: only
// the bitwise determinism check (stage 4) can see it.
#include "rmsnorm_base.h"
static int g_calls = 0;
extern "C" int ak_kernel(const ak_call* c) {
  const int64_t M = c->inputs[0].shape[0], N = c->inputs[0].shape[1];
  for (int64_t i = 0; i < M; ++i) rms_row(c, i);
  if (++g_calls % 2 == 0) {
    const ak_tensor* y = &c->outputs[0];
    if (y->dtype == AK_F32) {
      ((uint32_t*)y->data)[N / 2] ^= 1u;
    } else {
      ((uint16_t*)y->data)[N / 2] ^= 1u;
    }
  }
  return 0;
}
