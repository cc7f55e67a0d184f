// @autokernel type=rmsnorm
// Cheat: returns its input. x / rms(x) is close to x for standard-normal rows, so with a weight of ones
// this would be within a few percent; the catalog's weights are 1 + 0.1 * randn, and it is not.
#include <cstring>

#include "cheat_base.h"

extern "C" int ak_kernel(const ak_call* c) {
  std::memcpy(c->outputs[0].data, c->inputs[0].data, output_bytes(c));
  return 0;
}
