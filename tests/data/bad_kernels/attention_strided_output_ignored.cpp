// @autokernel type=flash_attention
// Reads q, k, v through their strides but writes o as if contiguous: stage 1, out of tolerance (every element
// is written, in the wrong places).
#define AT(t, b, h, s, d)                                                                                 \
  ((t) == &c->outputs[0] ? (((b) * (t)->shape[1] + (h)) * (t)->shape[2] + (s)) * (t)->shape[3] + (d)      \
                         : (b) * (t)->stride[0] + (h) * (t)->stride[1] + (s) * (t)->stride[2] + (d) * (t)->stride[3])
#include "attention_base.h"
extern "C" int ak_kernel(const ak_call* c) { return attention(c); }
