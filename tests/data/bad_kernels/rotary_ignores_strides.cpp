// @autokernel type=rotary_embedding
// Right rotation (interleaved or rotate-half), but q, k and the outputs indexed as if contiguous (the ABI before
// strided layouts): the harness's first case gives transposed [B,S,H,D] views and [B,S,H,D] outputs: stage 1.
#include "autokernel/cpu_types.h"
extern "C" int ak_kernel(const ak_call* c) {
  const ak_tensor *cs = &c->inputs[2], *sn = &c->inputs[3];
  const int64_t S = c->inputs[0].shape[2], D = c->inputs[0].shape[3], half = D / 2;
  const bool rotate_half = c->scalars[0] != 0;
  for (int t = 0; t < 2; ++t) {
    const ak_tensor *x = &c->inputs[t], *y = &c->outputs[t];
    for (int64_t row = 0; row < ak_numel(x) / D; ++row)
      for (int64_t i = 0; i < half; ++i) {
        const int64_t a = row * D + (rotate_half ? i : 2 * i), b = a + (rotate_half ? half : 1), s = row % S;
        const float x0 = ak_load(x, a), x1 = ak_load(x, b), co = ak_load(cs, s * half + i), si = ak_load(sn, s * half + i);
        ak_store(y, a, x0 * co - x1 * si);
        ak_store(y, b, x0 * si + x1 * co);
      }
  }
  return 0;
}
