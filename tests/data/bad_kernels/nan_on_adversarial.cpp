// @autokernel type=rmsnorm
// Rescales each row by its largest magnitude before squaring (a common overflow guard), and so turns an
// all-zero row into 0 * inf = NaN. Random inputs never show it; the adversarial zero rows do: stage 3.
#include "rmsnorm_base.h"
extern "C" int ak_kernel(const ak_call* c) {
  const ak_tensor *x = &c->inputs[0], *w = &c->inputs[1], *y = &c->outputs[0];
  const int64_t M = x->shape[0], N = x->shape[1];
  const float eps = float(c->scalars[0]);
  for (int64_t i = 0; i < M; ++i) {
    float amax = 0;
    for (int64_t j = 0; j < N; ++j) amax = std::fmax(amax, std::fabs(ak_load(x, i * N + j)));
    const float s = 1.0f / amax;
    double ss = 0;
    for (int64_t j = 0; j < N; ++j) {
      const double v = ak_load(x, i * N + j) * s;
      ss += v * v;
    }
    const float r = s / std::sqrt(float(ss / N) + eps * s * s);
    for (int64_t j = 0; j < N; ++j) ak_store(y, i * N + j, ak_load(x, i * N + j) * r * ak_load(w, j));
  }
  return 0;
}
