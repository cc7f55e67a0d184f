// @autokernel type=rmsnorm
// Never returns: the caller must kill it after the case timeout and report a hang.
#include "rmsnorm_base.h"
extern "C" int ak_kernel(const ak_call*) {
  for (volatile int spin = 0;; spin = spin + 1) {
  }
  return 0;
}
