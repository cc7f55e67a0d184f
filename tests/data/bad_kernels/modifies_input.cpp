// @autokernel type=rmsnorm
// Correct output, but scribbles on its input afterwards: inputs are read-only.
#include "rmsnorm_base.h"
extern "C" int ak_kernel(const ak_call* c) {
  for (int64_t i = 0; i < c->inputs[0].shape[0]; ++i) rms_row(c, i);
  ak_store(&c->inputs[0], 0, 123.0f);
  return 0;
}
