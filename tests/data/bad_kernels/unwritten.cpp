// @autokernel type=rmsnorm
// Never writes its output: the poison survives. Must fail stage 1 as unwritten.
#include "rmsnorm_base.h"
extern "C" int ak_kernel(const ak_call*) { return 0; }
