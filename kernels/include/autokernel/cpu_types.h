// Scalar conversions for CPU candidates: fp16 and bf16 are stored as 16-bit patterns in the ABI.
// Round-to-nearest-even on the way down, exact on the way up, NaN and Inf preserved.
#ifndef AUTOKERNEL_CPU_TYPES_H
#define AUTOKERNEL_CPU_TYPES_H

#include <stdint.h>
#include <string.h>

#include "kernel_abi.h"

static inline float ak_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static inline uint16_t ak_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static inline float ak_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
  if (exp == 0x1fu) {
    u = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    u = sign | ((exp + 112u) << 23) | (man << 13);
  } else if (man == 0) {
    u = sign;
  } else { /* subnormal: normalise */
    exp = 113u;
    while ((man & 0x400u) == 0) {
      man <<= 1;
      --exp;
    }
    u = sign | (exp << 23) | ((man & 0x3ffu) << 13);
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static inline uint16_t ak_f32_to_f16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u, absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);            /* NaN */
  if (absu >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);           /* overflow to Inf */
  if (absu < 0x38800000u) {                                             /* subnormal or zero */
    if (absu < 0x33000000u) return (uint16_t)sign;
    uint32_t exp = absu >> 23, man = (absu & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - exp;                                        /* 14..24 */
    uint32_t half = man >> shift, rem = man & ((1u << shift) - 1u), mid = 1u << (shift - 1u);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return (uint16_t)(sign | half);
  }
  uint32_t r = absu + 0xfffu + ((absu >> 13) & 1u) - (112u << 23);
  return (uint16_t)(sign | (r >> 13));
}

/* Load element i of a float tensor (f16, bf16 or f32) as f32; store likewise. */
static inline float ak_load(const ak_tensor* t, int64_t i) {
  switch (t->dtype) {
    case AK_F16: return ak_f16_to_f32(((const uint16_t*)t->data)[i]);
    case AK_BF16: return ak_bf16_to_f32(((const uint16_t*)t->data)[i]);
    default: return ((const float*)t->data)[i];
  }
}

static inline void ak_store(const ak_tensor* t, int64_t i, float v) {
  switch (t->dtype) {
    case AK_F16: ((uint16_t*)t->data)[i] = ak_f32_to_f16(v); break;
    case AK_BF16: ((uint16_t*)t->data)[i] = ak_f32_to_bf16(v); break;
    default: ((float*)t->data)[i] = v; break;
  }
}

#endif /* AUTOKERNEL_CPU_TYPES_H */
