// @autokernel type=gelu
// y = gelu(x) elementwise on the host, in double: approximate 0 is 0.5 x erfc(-x / sqrt(2)), 1 is
// x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3) (= 0.5 x (1 + tanh(u)) without the cancellation
// of 1 + tanh(u) for negative x). Elements go through a buffer of BLOCK floats so the math loop
// runs over plain arrays. Limits: single-threaded.
// @knob BLOCK=1024 {256,1024,4096} elements converted to float per pass
#include <cmath>
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef BLOCK
#define BLOCK 1024
#endif
static_assert(BLOCK >= 1, "BLOCK must be positive");

// 0.7071... = 1 / sqrt(2); 0.7978... = sqrt(2 / pi).
static double gelu(double x, bool tanh_form) {
  if (!tanh_form) return 0.5 * x * std::erfc(-x * 0.7071067811865476);
  const double u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 1 || call->n_outputs != 1 || call->n_scalars < 1) return 1;
  const ak_tensor *X = &call->inputs[0], *Y = &call->outputs[0];
  const double approximate = call->scalars[0];
  if (X->dtype == AK_I64 || Y->dtype == AK_I64 || ak_numel(Y) != ak_numel(X)) return 1;
  if (approximate != 0 && approximate != 1) return 1;
  const int64_t n = ak_numel(X);
  std::vector<float> buf(BLOCK);
  for (int64_t start = 0; start < n; start += BLOCK) {
    const int64_t len = n - start < BLOCK ? n - start : BLOCK;
    for (int64_t i = 0; i < len; ++i) buf[i] = ak_load(X, start + i);
    for (int64_t i = 0; i < len; ++i) buf[i] = (float)gelu(buf[i], approximate == 1);
    for (int64_t i = 0; i < len; ++i) ak_store(Y, start + i, buf[i]);
  }
  return 0;
}
