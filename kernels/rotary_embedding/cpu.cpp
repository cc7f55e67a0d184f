// @autokernel type=rotary_embedding
// Rotary embedding on interleaved pairs, on the host: for x[B,H,S,D] and i < D/2,
//   y[2i] = x[2i] cos[s,i] - x[2i+1] sin[s,i],  y[2i+1] = x[2i] sin[s,i] + x[2i+1] cos[s,i].
// cos/sin may have any float dtype. Returns non-zero for odd D. Limits: single-threaded.
// @knob PRECONVERT=1 {0,1} 1: convert the cos/sin tables to f32 once (S*D floats of scratch); 0: load them per element
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef PRECONVERT
#define PRECONVERT 1
#endif

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 3 || call->n_outputs != 1) return 1;
  const ak_tensor *X = &call->inputs[0], *Cos = &call->inputs[1], *Sin = &call->inputs[2];
  const ak_tensor* Y = &call->outputs[0];
  if (X->ndim != 4 || X->dtype == AK_I64 || Cos->dtype == AK_I64 || Sin->dtype == AK_I64 ||
      Y->dtype == AK_I64)
    return 1;
  const int64_t S = X->shape[2], D = X->shape[3], half = D / 2;
  const int64_t rows = X->shape[0] * X->shape[1];
  if (D % 2 != 0 || ak_numel(Cos) != S * half || ak_numel(Sin) != S * half ||
      ak_numel(Y) != ak_numel(X))
    return 1;

#if PRECONVERT
  std::vector<float> cs(S * half), sn(S * half);
  for (int64_t i = 0; i < S * half; ++i) cs[i] = ak_load(Cos, i), sn[i] = ak_load(Sin, i);
  auto cos_at = [&](int64_t i) { return cs[i]; };
  auto sin_at = [&](int64_t i) { return sn[i]; };
#else
  auto cos_at = [&](int64_t i) { return ak_load(Cos, i); };
  auto sin_at = [&](int64_t i) { return ak_load(Sin, i); };
#endif

  for (int64_t bh = 0; bh < rows; ++bh)
    for (int64_t s = 0; s < S; ++s) {
      const int64_t base = (bh * S + s) * D;
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = ak_load(X, base + 2 * i), x1 = ak_load(X, base + 2 * i + 1);
        const float c = cos_at(s * half + i), sn_ = sin_at(s * half + i);
        ak_store(Y, base + 2 * i, x0 * c - x1 * sn_);
        ak_store(Y, base + 2 * i + 1, x0 * sn_ + x1 * c);
      }
    }
  return 0;
}
