// @autokernel type=rmsnorm
// Writes through a null pointer: the worker dies of SIGSEGV, the caller reports a crash.
#include "rmsnorm_base.h"
extern "C" int ak_kernel(const ak_call* c) {
  volatile float* p = nullptr;
  *p = float(c->n_inputs);
  return 0;
}
