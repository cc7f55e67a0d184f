// @autokernel type=fused_mlp
// Gated MLP on the host: y[M,E] = (act(x Wg^T) * (x Wu^T)) Wd^T with Wg, Wu [F,E], Wd [E,F]; the scalar ACT
// (0 if none) picks act: 0 silu (SwiGLU), 1 the GELU's tanh form, 2 the exact GELU (GeGLU), each in double.
// Weights are converted to f32 once; for each row of x the hidden row h[F] is kept in f32 and
// both GEMMs are row-by-row dot products of contiguous vectors (all operands are K-contiguous).
// Limits: single-threaded, O(M E F), 3 E F + E + F floats of scratch.
// @knob LANES=8 {1,2,4,8} independent partial sums in the dot products
#include <cmath>
#include <cstdint>
#include <vector>

#include "autokernel/cpu_types.h"

#ifndef LANES
#define LANES 8
#endif
static_assert(LANES >= 1, "LANES must be positive");

// @shared begin cpu_dot: copied in other starters, every copy the same (tests/test_starter_regions.py)
static float dot(const float* a, const float* b, int64_t n) {
  float s[LANES] = {};
  int64_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; ++l) s[l] += a[i + l] * b[i + l];
  for (; i < n; ++i) s[0] += a[i] * b[i];
  float r = 0.0f;
  for (int l = 0; l < LANES; ++l) r += s[l];
  return r;
}
// @shared end cpu_dot

// The activations in forms without cancellation, as kernels/gelu/cpu.cpp: silu g / (1 + exp(-g)); tanh form
// g / (1 + exp(-2u)), u = sqrt(2/pi) (g + 0.044715 g^3) (= 0.5 g (1 + tanh u)); erf form 0.5 g erfc(-g / sqrt(2)).
// exp overflow gives -0, not NaN.
static double activate(double g, int act) {
  if (act == 1) return g / (1.0 + std::exp(-2.0 * 0.7978845608028654 * (g + 0.044715 * g * g * g)));
  if (act == 2) return 0.5 * g * std::erfc(-g * 0.7071067811865476);
  return g / (1.0 + std::exp(-g));
}

static std::vector<float> to_f32(const ak_tensor* t) {
  std::vector<float> v(ak_numel(t));
  for (int64_t i = 0; i < (int64_t)v.size(); ++i) v[i] = ak_load(t, i);
  return v;
}

extern "C" int ak_kernel(const ak_call* call) {
  if (call->n_inputs != 4 || call->n_outputs != 1) return 1;
  const double act = call->n_scalars > 0 ? call->scalars[0] : 0.0;
  if (act != 0 && act != 1 && act != 2) return 1;
  const ak_tensor *X = &call->inputs[0], *Wg = &call->inputs[1], *Wu = &call->inputs[2];
  const ak_tensor *Wd = &call->inputs[3], *Y = &call->outputs[0];
  for (const ak_tensor* t : {X, Wg, Wu, Wd, Y})
    if (t->ndim != 2 || t->dtype == AK_I64) return 1;
  const int64_t M = X->shape[0], E = X->shape[1], F = Wg->shape[0];
  if (Wg->shape[1] != E || Wu->shape[0] != F || Wu->shape[1] != E || Wd->shape[0] != E ||
      Wd->shape[1] != F || Y->shape[0] != M || Y->shape[1] != E)
    return 1;

  const std::vector<float> wg = to_f32(Wg), wu = to_f32(Wu), wd = to_f32(Wd);
  std::vector<float> x(E), h(F);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t e = 0; e < E; ++e) x[e] = ak_load(X, m * E + e);
    for (int64_t f = 0; f < F; ++f) {
      const float g = dot(x.data(), &wg[f * E], E), u = dot(x.data(), &wu[f * E], E);
      h[f] = (float)(activate(g, (int)act) * u);
    }
    for (int64_t e = 0; e < E; ++e) ak_store(Y, m * E + e, dot(h.data(), &wd[e * F], F));
  }
  return 0;
}
