// @autokernel type=rmsnorm
// One wrong element at the corner of a 256-row tile, so only shapes with 256+ rows show it: stage 2.
#include "rmsnorm_base.h"
extern "C" int ak_kernel(const ak_call* c) {
  const int64_t M = c->inputs[0].shape[0], N = c->inputs[0].shape[1];
  for (int64_t i = 0; i < M; ++i) rms_row(c, i);
  if (M >= 256) ak_store(&c->outputs[0], 255 * N + (N - 1), 3.0f + ak_load(&c->outputs[0], 255 * N + (N - 1)));
  return 0;
}
