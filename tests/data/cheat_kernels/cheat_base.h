// Shared by the cheats: a correct rmsnorm row (from the bad kernels) and a detector for the timing loop.
#pragma once
#include <cstdint>

#include "../bad_kernels/rmsnorm_base.h"

inline void rms_all(const ak_call* c) {
  for (int64_t i = 0; i < c->inputs[0].shape[0]; ++i) rms_row(c, i);
}

inline int64_t output_bytes(const ak_call* c) {
  const ak_tensor& y = c->outputs[0];
  return y.shape[0] * y.shape[1] * (y.dtype == AK_F32 ? 4 : 2);
}

// The timing loop's signature, as a cheat can see it: three calls in a row with one shape and dtype on
// three different input buffers (the harness rotates three buffer slots). No correctness stage does
// that: the sweeps alternate dtypes, and the determinism stage calls three times on one input. A cheat
// uses it to behave while checked and cheat while timed.
inline bool looks_timed(const ak_call* c) {
  static const void* x[3];
  static int64_t m[3], n[3];
  static int32_t dt[3];
  static int calls = 0;
  const int k = calls++ % 3;
  x[k] = c->inputs[0].data;
  m[k] = c->inputs[0].shape[0];
  n[k] = c->inputs[0].shape[1];
  dt[k] = c->inputs[0].dtype;
  if (calls < 3) return false;
  for (int i = 1; i < 3; ++i) {
    if (m[i] != m[0] || n[i] != n[0] || dt[i] != dt[0]) return false;
  }
  return x[0] != x[1] && x[1] != x[2] && x[0] != x[2];
}
