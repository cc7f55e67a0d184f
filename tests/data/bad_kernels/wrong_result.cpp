// @autokernel type=rmsnorm
// Wrong everywhere: forgets the normalisation. Must fail stage 1 (smoke).
#include "rmsnorm_base.h"
extern "C" int ak_kernel(const ak_call* c) {
  const ak_tensor *x = &c->inputs[0], *w = &c->inputs[1], *y = &c->outputs[0];
  for (int64_t i = 0; i < ak_numel(x); ++i) ak_store(y, i, ak_load(x, i) * ak_load(w, i % x->shape[1]));
  return 0;
}
